"""A batch records exactly what its messages recorded one by one would, whatever the grouping (both backends).

Random sequences of messages about three residents from two sources (the same visit or diagnosis restated,
changed, twice in one message, identifiers that make the MPI link records or merge persons, A40 merges) are
recorded once message by message and once in random batches; the two stores must hold the same persons,
resources, versions, provenance, links and merges. Stored ids are random, so both are compared after naming
every person and resource by the first message that mentions it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from engine.domain.mapping.result import Mapped, Resource
from engine.pipeline.record import AppliedSummary, Provenance, apply
from engine.store import dbapi
from engine.store.database import migrate, open_engine
from engine.store.schema import metadata
from tests.mpi._ids import with_check
from tests.record.people import HIS, HIS_MRN, PHS, PHS_MRN, condition, encounter, merge, message, mrn, patient, resident

NOW = 1_790_000_000.0
NAMES = [("王", "建国"), ("李", "秀英"), ("张", "伟")]
BORN = ["1968-03-14", "1972-11-02", "1985-06-30"]
RESIDENTS = [with_check(f"360781{born.replace('-', '')}00{2 * n + 1}") for n, born in enumerate(BORN)]
MRNS = {HIS: HIS_MRN, PHS: PHS_MRN}


@st.composite
def patients(draw: st.DrawFn, system: str) -> Resource:
    """A source's Patient of one of three residents, sometimes with another resident's number or name."""
    who = draw(st.integers(0, 2))
    identifiers = [mrn(MRNS[system], f"{system[:3]}-{draw(st.integers(0, 2))}")]
    if draw(st.booleans()):
        identifiers.append(resident(RESIDENTS[draw(st.sampled_from([who, who, (who + 1) % 3]))]))
    family, given = NAMES[draw(st.sampled_from([who, who, who, (who + 2) % 3]))]
    name = [{"text": family + given, "family": family, "given": [given]}]
    return patient(*identifiers, name=name, birthDate=BORN[who], gender="male")


@st.composite
def facts(draw: st.DrawFn) -> list[Resource]:
    """Visits and diagnoses, keyed or not, the same key possibly twice; one keyless diagnosis at most."""
    out: list[Resource] = []
    for n in range(draw(st.integers(0, 4))):
        local = f"r{n}"
        if draw(st.booleans()):
            start = draw(st.sampled_from(["2026-03-01", "2026-03-02"]))
            display = draw(st.sampled_from(["门诊", "住院"]))
            out.append(encounter(draw(st.sampled_from(["V1", "V2"])), start, display, local=local))
        else:
            key = draw(st.sampled_from(["", "C1"]))
            if key == "" and any(r.type == "Condition" and not r.key for r in out):
                continue
            display = draw(st.sampled_from(["高血压", "糖尿病"]))
            out.append(condition(display, draw(st.sampled_from(["2025", "2026"])), key=key, local=local))
    return out


@st.composite
def messages(draw: st.DrawFn) -> tuple[Mapped, Provenance]:
    system = draw(st.sampled_from([HIS, PHS]))
    pat = draw(st.one_of(st.none(), patients(system), patients(system), patients(system)))
    events = ()
    if pat is not None and draw(st.integers(0, 9)) == 0:  # an A40: this patient absorbs another MRN's person
        events = (merge(pat.body["identifier"][:1], [mrn(MRNS[system], f"{system[:3]}-{draw(st.integers(0, 2))}")]),)
    resources = ([pat] if pat is not None else []) + draw(facts())
    return message(*resources, events=events), Provenance(system, 0, "his-adt")


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[tuple[Mapped, Provenance]], list[int]]:
    """Messages (provenance message ids 1, 2, 3, ...) and the sizes of the batches they are recorded in."""
    drawn = draw(st.lists(messages(), min_size=1, max_size=10))
    items = [(mapped, Provenance(prov.source_system, i, prov.channel)) for i, (mapped, prov) in enumerate(drawn, 1)]
    sizes: list[int] = []
    while sum(sizes) < len(items):
        sizes.append(draw(st.integers(1, len(items) - sum(sizes))))
    return items, sizes


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    """Two empty stores on one backend: one for message by message, one for batches."""
    from tests.conftest import postgres_schema_url

    urls: list[Iterator[str]] = []
    engines: list[Engine] = []
    for name in ("one", "batch"):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'store.db'}"
        else:
            schema = postgres_schema_url()
            urls.append(schema)
            url = next(schema)
        engines.append(open_engine(url))
        migrate(engines[-1])
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()
    for schema in urls:
        next(schema, None)


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(table.delete())


def record(engine: Engine, items: Sequence[tuple[Mapped, Provenance]], sizes: Sequence[int]) -> list[AppliedSummary]:
    from tests.support.mpi import shipped_resolver

    summaries: list[AppliedSummary] = []
    start = 0
    for size in sizes:
        with engine.begin() as conn:
            summaries.extend(apply(conn, items[start : start + size], NOW, shipped_resolver()))
        start += size
    return summaries


def contents(engine: Engine, summaries: Sequence[AppliedSummary]) -> dict[str, Any]:
    """The store's record with every stored id replaced by a name taken from the messages."""
    names: dict[str, str] = {}
    for n, summary in enumerate(summaries, 1):
        for person in (summary.person_id, summary.merged):
            if person is not None:
                names.setdefault(person, f"person of message {n}")
        for local, stored in summary.ids.items():
            names.setdefault(stored.partition("/")[2], f"{local} of message {n}")
    with engine.connect() as conn:
        return _contents(conn, names, summaries)


def _contents(conn: Connection, names: dict[str, str], summaries: Sequence[AppliedSummary]) -> dict[str, Any]:
    def rows(query: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in dbapi.fetchall(conn, query, [])]

    for rid, kind, source, first in rows(
        "SELECT r.id, r.type, r.source_system, v.message_id FROM record_resources r"
        " JOIN record_versions v ON v.resource_id = r.id AND v.version = 1"
    ):
        names.setdefault(rid, f"{kind} of {source} first said by message {first}")
    assert len(set(names.values())) == len(names), "two stored things got one name"
    pattern = re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))) or "(?!)")

    def named(value: Any) -> Any:
        text = value.decode() if isinstance(value, bytes) else value
        return pattern.sub(lambda m: names[m.group(0)], text) if isinstance(text, str) else text

    def table(query: str) -> list[tuple[Any, ...]]:
        return sorted((tuple(named(v) for v in row) for row in rows(query)), key=repr)

    return {
        "summaries": [
            (
                named(s.person_id),
                named(s.merged),
                s.created,
                s.versioned,
                s.unchanged,
                s.shared,
                s.skipped,
                sorted((k, named(v)) for k, v in s.ids.items()),
            )
            for s in summaries
        ],
        "persons": table("SELECT id, merged_into FROM record_persons"),
        "identifiers": table("SELECT system, value, person_id, source_system FROM record_identifiers"),
        "resources": table(
            "SELECT id, person_id, type, source_system, source_key, digest, version FROM record_resources"
        ),
        "versions": table(
            "SELECT resource_id, version, body, source_system, message_id, channel, mapping FROM record_versions"
        ),
        "links": table("SELECT resource_id, source_system, source_key, message_id FROM record_links"),
        "merges": [
            (named(a), named(b), m, sorted(named(r) for r in orjson.loads(res)))
            for a, b, m, res in rows("SELECT surviving, retired, message_id, resources FROM record_merges ORDER BY id")
        ],
        "mpi": table("SELECT source_system, local_id, person_id, state FROM mpi_records"),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=runs())
def test_recording_in_batches_equals_recording_one_by_one(stores: tuple[Engine, Engine], run: Any) -> None:
    items, sizes = run
    one, batch = stores
    wipe(one)
    wipe(batch)
    expected = contents(one, record(one, items, [1] * len(items)))
    assert contents(batch, record(batch, items, sizes)) == expected


def test_a_message_stating_one_visit_twice_records_both_versions(stores: tuple[Engine, Engine]) -> None:
    one, _ = stores
    wipe(one)
    twice = message(
        patient(mrn(HIS_MRN, "H-1")),
        encounter("V1", "2026-03-01", "门诊", local="e1"),
        encounter("V1", "2026-03-01", "住院", local="e2"),
    )
    [summary] = record(one, [(twice, Provenance(HIS, 1, "lab-files"))], [1])
    assert (summary.created, summary.versioned) == (2, 1)
    with one.connect() as conn:
        versions = dbapi.fetchall(
            conn,
            "SELECT v.version FROM record_versions v JOIN record_resources r"
            " ON r.id = v.resource_id WHERE r.type = 'Encounter' ORDER BY v.version",
            [],
        )
    assert [v for (v,) in versions] == [1, 2]


def test_a_shared_fact_restated_differently_later_in_the_batch_keeps_no_link(stores: tuple[Engine, Engine]) -> None:
    one, batch = stores
    wang = [resident(RESIDENTS[0])]
    his = message(patient(*wang, mrn(HIS_MRN, "H-1")), encounter("V1", "2026-03-01", "门诊", local="e1"))
    same = message(patient(*wang, mrn(PHS_MRN, "P-1")), encounter("V9", "2026-03-01", "门诊", local="e1"))
    changed = message(patient(*wang, mrn(PHS_MRN, "P-1")), encounter("V9", "2026-03-01", "住院", local="e1"))
    items = [(his, Provenance(HIS, 1, "his")), (same, Provenance(PHS, 2, "phs")), (changed, Provenance(PHS, 3, "phs"))]
    for store, sizes in ((one, [1, 1, 1]), (batch, [3])):
        wipe(store)
        record(store, items, sizes)
        with store.connect() as conn:
            assert dbapi.fetchall(conn, "SELECT COUNT(*) FROM record_links", []) == [(0,)]
