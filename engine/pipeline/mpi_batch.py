"""Batch MPI: deduplicate a CSV export (no store at all), or every record of the store after a backfill.

The file mode lets a county try the MPI on an export before connecting anything. The store mode runs the same
clustering over the MPI's records and acts on it the way an arrival would: persons found to be one are merged
(audited, restorable by unmerge), doubtful ones are queued for review, and an operator's decisions stand.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from engine.domain.mpi import clusters, features
from engine.domain.mpi.matcher import Matcher
from engine.pipeline.mpi import MpiResolver
from engine.store import mpi as store
from engine.store import record

CSV_HEADER = ["source", "local_id", "name", "sex", "birth_date", "id_number", "phone", "address"]
OUT_HEADER = ["source", "local_id", "person_id", "decision"]
Tick = Callable[[int], None]


class InputError(ValueError):
    """The CSV cannot be read as the documented MPI format; the message names the file and line."""


@dataclass(slots=True)
class Summary:
    records: int = 0
    pairs: int = 0
    persons: int = 0
    matched: int = 0
    review: int = 0
    merges: int = 0
    kept_apart: int = 0  # clusters an operator's decision kept from merging
    seconds: float = 0.0


def read_people(text: str, where: str) -> list[dict[str, str]]:
    """Rows of the MPI CSV (the file's text, decoded); raises InputError naming ``where`` and the line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in CSV_HEADER if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{where}:1: the header lacks {', '.join(missing)}; expected {','.join(CSV_HEADER)}")
    rows = []
    seen: set[tuple[str, str]] = set()
    try:
        for row in reader:
            key = (row["source"] or "", row["local_id"] or "")
            if not all(key):
                raise InputError(f"{where}:{reader.line_num}: source and local_id are required")
            if key in seen:
                raise InputError(f"{where}:{reader.line_num}: {key[0]},{key[1]} appears twice")
            seen.add(key)
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{where}:{reader.line_num}: {exc}") from None
    return rows


def dedupe_rows(
    matcher: Matcher, rows: Sequence[dict[str, str]], tick: Tick | None = None
) -> tuple[Summary, list[list[str]]]:
    """Persons for the rows of a CSV: the summary and the output rows ``source,local_id,person_id,decision``
    (OUT_HEADER first)."""
    started = time.perf_counter()
    found = []
    for row in rows:
        found.append(features.from_row(row))
        if tick:
            tick(1)
    result = clusters.dedupe(matcher.settings, matcher.model, found)
    names: dict[int, str] = {}
    out = [OUT_HEADER]
    for row, person, decided in zip(rows, result.person, result.decision, strict=True):
        name = names.setdefault(person, f"P{len(names) + 1:07d}")
        out.append([row["source"], row["local_id"], name, decided])
    return _summary(len(rows), result, len(names), started), out


def _summary(records: int, result: clusters.Clustering, persons: int, started: float) -> Summary:
    counts: dict[str, int] = {}
    for d in result.decision:
        counts[d] = counts.get(d, 0) + 1
    return Summary(
        records=records,
        pairs=result.pairs,
        persons=persons,
        matched=counts.get(clusters.MATCH, 0),
        review=counts.get(clusters.REVIEW, 0),
        seconds=time.perf_counter() - started,
    )


def dedupe_store(
    conn: Connection,
    resolver: MpiResolver,
    *,
    source: str | None,
    actor: str,
    now: float,
    tick: Tick | None = None,
) -> Summary:
    """Cluster every MPI record; merge the persons a cluster joins (one of them from ``source``, if given)."""
    started = time.perf_counter()
    records = all_records(conn, tick)
    result = clusters.dedupe(resolver.settings, resolver.matcher.model, [r.features for r in records])
    summary = _summary(len(records), result, len(set(result.person)), started)
    refused = store.not_same(conn, [r.id for r in records])
    groups: dict[int, list[store.StoredRecord]] = {}
    for stored, person in zip(records, result.person, strict=True):
        groups.setdefault(person, []).append(stored)
    for members in groups.values():
        persons = list(dict.fromkeys(r.person_id for r in members))
        if len(persons) < 2 or (source is not None and all(r.source_system != source for r in members)):
            continue
        if any((r.id, p) in refused for r in members for p in persons) or any(
            r.link_source == store.MANUAL for r in members
        ):
            summary.kept_apart += 1
            continue
        surviving = persons[0]  # the person of the earliest record
        for retired in persons[1:]:
            # An earlier group may have merged these two already (a person's records can fall in two groups).
            if record.surviving(conn, retired) != record.surviving(conn, surviving):
                resolver.merge_persons(conn, surviving, retired, actor=actor, reason="mpi dedupe", now=now)
                summary.merges += 1
    summary.review = 0
    for i, decided in enumerate(result.decision):
        candidate = result.candidate[i]
        if decided != clusters.REVIEW or candidate is None:
            continue
        mine = record.surviving(conn, records[i].person_id)
        theirs = record.surviving(conn, records[candidate].person_id)
        if theirs is None or mine == theirs or (records[i].id, theirs) in refused:
            continue
        if not store.reviews_of(conn, records[i].id, theirs):
            store.open_review(conn, records[i].id, theirs, result.probability[i] or 0.0, now)
            summary.review += 1
    summary.seconds = time.perf_counter() - started
    return summary


def all_records(conn: Connection, tick: Tick | None) -> list[store.StoredRecord]:
    ids = store.all_ids(conn)
    out: list[store.StoredRecord] = []
    for i in range(0, len(ids), 5000):
        part = store.by_ids(conn, ids[i : i + 5000])
        order = {record_id: n for n, record_id in enumerate(ids[i : i + 5000])}
        out.extend(sorted(part, key=lambda r: order[r.id]))
        if tick:
            tick(len(part))
    return out
