"""Every public sample and every shipped sample, through the whole pipeline into the record (both backends).

The gate for every mapping or record change: each HL7 v2, C-CDA, XML and FHIR file of tests/corpus and samples/ is
read by `huitong backfill` through a channel with all shipped mappings (journal, routing, deliveries, mapping, MPI,
record, care loop, as the daemon runs them). Each message must end PROCESSED with its record delivery SENT, or
FILTERED, or refused at intake with its reason, or SKIPPED because no mapping takes its type; none may end with a
delivery failed, retrying or never tried.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, create_engine, select

from engine.domain.outcome import DeliveryStatus, MessageStatus
from engine.store.schema import messages, outbox, record_resources, record_versions
from tests.support.corpus import SAMPLES, files
from tests.support.daemon import MAPPINGS, huitong, write_config

HL7 = [f"hl7v2/{p.stem}" for p in sorted((MAPPINGS / "hl7v2").glob("*.yaml")) if not p.stem.startswith("_")]
CDA = [f"cda/{p.stem}" for p in sorted((MAPPINGS / "cda").glob("*.yaml"))]
CA_ORU = "cdc-trusted-intermediary/examples/CA/003_CA_ORU_R01_CDPH_produced_0_initial_message.hl7"


def _record(**extra: object) -> list[dict[str, object]]:
    return [{"name": "record", "type": "record", **extra}]


# channel -> (its configuration, the files it reads: (path, name under its inbox))
CHANNELS: dict[str, dict[str, object]] = {
    "corpus-hl7": {"map": HL7, "source": {"type": "file", "glob": "*", "encoding": "utf-8"}},
    "samples-hl7": {"map": HL7, "source": {"type": "file", "glob": "*", "encoding": "gb18030"}},
    "documents": {"map": CDA, "source": {"type": "file", "glob": "*", "format": "xml"}},
    "fhir-ndjson": {"source": {"type": "file", "glob": "*", "format": "ndjson"}},
    "fhir-json": {"source": {"type": "file", "glob": "*", "format": "fhir-json"}},
    "contracts": {
        "source": {"type": "file", "glob": "*", "format": "xml"},
        "destinations": [{"name": "register", "type": "contract", "vendor": "bsoft-scm"}],
    },
}


def inputs() -> dict[str, list[tuple[Path, str]]]:
    """Every corpus and sample file, by the channel that takes it, with a name that says where it came from."""
    out: dict[str, list[tuple[Path, str]]] = {name: [] for name in CHANNELS}
    by_kind = {
        "hl7v2-er7": "corpus-hl7",
        "hl7v2-malformed": "corpus-hl7",
        "cda-document": "documents",
        "fhir-ndjson": "fhir-ndjson",
        "expected-fhir-json": "fhir-json",
    }
    for kind, channel in by_kind.items():
        out[channel].extend((f.path, f.id) for f in files(kind))
    for path in sorted(SAMPLES.rglob("*")):
        name = f"samples/{path.relative_to(SAMPLES)}"
        if path.suffix == ".hl7":
            out["samples-hl7"].append((path, name))
        elif path.suffix == ".ndjson":
            out["fhir-ndjson"].append((path, name))
        elif path.suffix == ".xml":
            root = etree.parse(str(path)).getroot().tag
            out["contracts" if str(root).startswith("FamilyDoctorContract") else "documents"].append((path, name))
    return out


@dataclass(frozen=True)
class Run:
    store: Engine
    inbox: Path
    read: dict[str, list[tuple[Path, str]]]
    summaries: dict[str, str]


@pytest.fixture(scope="module")
def corpus_run(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("corpus")
    read = inputs()
    channels: dict[str, dict] = {}
    for name, spec in CHANNELS.items():
        inbox = root / "inbox" / name
        for path, relative in read[name]:
            (inbox / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, inbox / relative)
        source = {**spec["source"], "path": str(inbox)}  # type: ignore[dict-item]
        channels[name] = {"source_system": f"corpus.{name}", **spec, "source": source}
        channels[name].setdefault("destinations", _record())
    config = write_config(root, module_store_url, channels, root / "huitong.log")
    summaries = {}
    for name in CHANNELS:
        done = huitong("backfill", name, "--path", str(root / "inbox" / name), config=config)
        assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
        summaries[name] = done.stdout
    store = create_engine(module_store_url)
    yield Run(store, root / "inbox", read, summaries)
    store.dispose()


def outcomes(run: Run) -> list[tuple[str, str, str, str | None, str | None, str | None]]:
    """(channel, file, message status, its error, delivery status, delivery error) for every journaled message."""
    m, o = messages.c, outbox.c
    query = select(m.channel, m.source, m.status, m.error, o.status, o.last_error).select_from(
        messages.outerjoin(outbox, o.message_id == m.id)
    )
    with run.store.connect() as conn:
        rows = conn.execute(query.order_by(m.id)).all()
    prefix = len(str(run.inbox)) + 1
    return [(c, source[prefix:], s, e, ds, de) for c, source, s, e, ds, de in rows]


def test_every_file_of_the_corpus_and_the_samples_is_read(corpus_run: Run) -> None:
    assert sum(map(len, corpus_run.read.values())) > 300  # the whole corpus, not an empty directory
    for name, read in corpus_run.read.items():
        assert f"files              {len(read)}\n" in corpus_run.summaries[name], corpus_run.summaries[name]


def test_no_delivery_ends_failed_retrying_or_untried(corpus_run: Run) -> None:
    done = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED)
    failed = [
        f"{channel} {file}: {status} {error}"
        for channel, file, _, _, status, error in outcomes(corpus_run)
        if status is not None and status not in done
    ]
    assert failed == []


def test_every_message_is_processed_filtered_a_duplicate_or_refused_at_intake_with_its_reason(
    corpus_run: Run,
) -> None:
    rows = outcomes(corpus_run)
    assert {status for _, _, status, *_ in rows} <= {
        MessageStatus.PROCESSED,
        MessageStatus.FILTERED,
        MessageStatus.DUPLICATE,
        MessageStatus.ERROR,
    }
    unexplained = [f"{c} {f}" for c, f, status, error, *_ in rows if status == MessageStatus.ERROR and not error]
    assert unexplained == []
    undelivered = [f"{c} {f}" for c, f, status, _, delivery, _ in rows if status == "PROCESSED" and delivery is None]
    assert undelivered == []


def test_a_skipped_delivery_says_which_type_no_mapping_takes(corpus_run: Run) -> None:
    skipped = [(f, error) for _, f, _, _, status, error in outcomes(corpus_run) if status == DeliveryStatus.SKIPPED]
    assert skipped, "the corpus has message types no shipped mapping takes (SIU, MDM, BAR ...)"
    assert [(f, e) for f, e in skipped if not (e or "").startswith("no mapping takes ")] == []


def test_most_hl7_messages_of_the_corpus_reach_the_record(corpus_run: Run) -> None:
    rows = [r for r in outcomes(corpus_run) if r[0] == "corpus-hl7" and r[2] == MessageStatus.PROCESSED]
    sent = [r for r in rows if r[4] == DeliveryStatus.SENT]
    assert len(sent) >= 100 and len(sent) / len(rows) > 0.5


def test_the_california_lab_result_that_broke_the_record_files_every_resource(corpus_run: Run) -> None:
    m, v = messages.c, record_versions.c
    with corpus_run.store.connect() as conn:
        [message_id] = conn.execute(select(m.id).where(m.source.endswith(CA_ORU), m.channel == "corpus-hl7")).scalars()
        types = conn.execute(
            select(record_resources.c.type)
            .select_from(record_versions.join(record_resources, record_resources.c.id == v.resource_id))
            .where(v.message_id == message_id)
        ).scalars()
        kinds = set(types)
    assert {"Patient", "DiagnosticReport", "Observation"} <= kinds
