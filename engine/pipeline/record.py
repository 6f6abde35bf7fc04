"""Mapped messages into the unified health record, inside a transaction the caller owns (no commit here).

For each message: resolve its Patient to an enterprise person, then place each resource:

- the source's own earlier statement (the same source key; for the Patient, the same source and person)
  gets a new version when the content changed, and nothing when it did not;
- otherwise a resource of the person with the identical fact (`facts.fact_digest`) from another source gains
  this source as further provenance instead of a copy;
- otherwise it is a new resource.

A ``patient.merge`` event then re-points the retired person's identifiers and resources to the survivor. The
whole batch costs a handful of statements: lookups are one ``IN`` query per kind, writes one executemany each.

A batch must leave exactly what recording its messages one by one would: the same resource may come twice in one
message or in several messages of a batch, so every stored row is one object that each placement updates in turn,
and each version takes its number when it is placed. Resolving the batch's persons together is only the same as
resolving them message by message while no person is merged on the way (the MPI merges a person whose updated
record turns out to be another's): when that happens the batch is resolved and recorded again one message at a
time, so every message's resources are on file before a later one moves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from engine.domain import fhir_search
from engine.domain.mapping.result import Mapped, Resource
from engine.domain.record import references
from engine.domain.record.facts import fact_digest
from engine.store import fhir_index, record
from engine.store.persons import Identification, PersonResolver, new_id
from engine.store.record import Link, Row, Version

MERGE = "patient.merge"


@dataclass(frozen=True, slots=True)
class Provenance:
    source_system: str
    message_id: int | None
    channel: str


@dataclass(slots=True)
class AppliedSummary:
    """What one message did to the record. ``ids`` maps each "Type/<local id>" to its stored reference."""

    message_id: int | None
    person_id: str | None
    ids: dict[str, str] = field(default_factory=dict)
    created: int = 0
    versioned: int = 0
    unchanged: int = 0
    shared: int = 0  # identical facts another source had stated: provenance added, no copy
    skipped: int = 0  # resources of a message without a Patient: nobody to file them under
    merged: str | None = None  # the person a patient.merge retired into person_id


def apply(
    conn: Connection,
    items: Sequence[tuple[Mapped, Provenance]],
    now: float,
    resolver: PersonResolver,
) -> list[AppliedSummary]:
    """Record a batch of mapped messages in order; returns one summary per message."""
    summaries: list[AppliedSummary] = []
    start = 0
    for end, (mapped, _) in enumerate(items, 1):
        # A merge changes who is who: what follows it is resolved after it.
        if end == len(items) or any(e.kind == MERGE for e in mapped.events):
            summaries.extend(_run(conn, items[start:end], now, resolver))
            start = end
    return summaries


def _run(
    conn: Connection, items: Sequence[tuple[Mapped, Provenance]], now: float, resolver: PersonResolver
) -> list[AppliedSummary]:
    """One batch together, or message by message when resolving it together merged persons (module doc)."""
    if len(items) == 1:
        return _Batch(conn, items, now, resolver).run()
    savepoint = conn.begin_nested()
    before = record.last_merge(conn)
    batch = _Batch(conn, items, now, resolver)
    batch.resolve()
    if record.last_merge(conn) == before:
        savepoint.commit()
        return batch.place()
    savepoint.rollback()
    return [summary for item in items for summary in _Batch(conn, [item], now, resolver).run()]


def _patient(mapped: Mapped) -> Resource | None:
    return next((r for r in mapped.resources if r.type == "Patient"), None)


class _Batch:
    """One run of messages without a merge in between: looked up together, written together."""

    def __init__(
        self, conn: Connection, items: Sequence[tuple[Mapped, Provenance]], now: float, resolver: PersonResolver
    ) -> None:
        self.conn, self.items, self.now, self.resolver = conn, items, now, resolver
        self.owned: dict[tuple[str, str, str], Row] = {}  # (source, type, key) -> resource
        self.linked: dict[tuple[str, str, str], Row] = {}
        # (person, type, digest) -> every resource stating it, by id: the oldest (least id) is the one to share
        self.by_fact: dict[tuple[str, str, str], dict[str, Row]] = {}
        self.patients: dict[tuple[str, str], Row] = {}  # (person, source) -> that source's Patient
        self.created: dict[str, Row] = {}
        self.changed: dict[str, Row] = {}
        self.versions: list[Version] = []
        self.indexed: dict[str, tuple[str, fhir_search.Entries]] = {}  # by id: the last version's search rows
        self.links: list[Link] = []
        self.unlinked: list[tuple[str, str, str]] = []
        self.rows: dict[str, Row] = {}  # by id: one object per stored resource, however it was found
        self.persons: list[str | None] = []

    def run(self) -> list[AppliedSummary]:
        self.resolve()
        return self.place()

    def resolve(self) -> None:
        """Each message's person (None for a message without a Patient)."""
        patients = [_patient(mapped) for mapped, _ in self.items]
        requests = [
            Identification(prov.source_system, p.body.get("identifier") or [], p.body)
            for (_, prov), p in zip(self.items, patients, strict=True)
            if p is not None
        ]
        resolved = iter(self.resolver.resolve(self.conn, requests, self.now))
        self.persons = [next(resolved) if p is not None else None for p in patients]

    def place(self) -> list[AppliedSummary]:
        """Every message's resources placed in order, then written, then a merge the last message asks for."""
        persons = self.persons
        digests = [[fact_digest(r.body) for r in mapped.resources] for mapped, _ in self.items]
        self._prefetch(persons, digests)
        summaries = [
            self._message(mapped, prov, person, facts)
            for (mapped, prov), person, facts in zip(self.items, persons, digests, strict=True)
        ]
        record.write(
            self.conn,
            created=list(self.created.values()),
            changed=[r for r in self.changed.values() if r.id not in self.created],
            versions=self.versions,
            links=self.links,
            unlinked=self.unlinked,
        )
        fhir_index.replace(self.conn, self.indexed, new=self.created)
        mapped, prov = self.items[-1]
        for event in mapped.events:
            if event.kind == MERGE:
                self._merge(event.data, summaries[-1], prov)
        return summaries

    def _row(self, row: Row) -> Row:
        """The batch's one object for this stored resource: a change through one lookup is seen by the others."""
        return self.rows.setdefault(row.id, row)

    def _states(self, row: Row) -> None:
        self.by_fact.setdefault((row.person_id, row.type, row.digest), {})[row.id] = row

    def _prefetch(self, persons: Sequence[str | None], digests: Sequence[Sequence[str]]) -> None:
        keys = {r.key for mapped, _ in self.items for r in mapped.resources if r.key and r.type != "Patient"}
        for row in record.by_keys(self.conn, keys):
            self.owned[(row.source_system, row.type, row.source_key)] = self._row(row)
        for source, key, row in record.linked_by_keys(self.conn, keys):
            self.linked[(source, row.type, key)] = self._row(row)
        people = [p for p in persons if p is not None]
        pairs = {
            (person, digest)
            for (mapped, prov), person, facts in zip(self.items, persons, digests, strict=True)
            if person is not None
            for r, digest in zip(mapped.resources, facts, strict=True)
            if r.type != "Patient" and (prov.source_system, r.type, r.key) not in self.owned
        }
        for row in record.by_facts(self.conn, pairs):
            self._states(self._row(row))
        for row in record.patients(self.conn, people):  # least recent first: the latest per source stays
            self.patients[(row.person_id, row.source_system)] = self._row(row)

    def _message(self, mapped: Mapped, prov: Provenance, person: str | None, facts: Sequence[str]) -> AppliedSummary:
        summary = AppliedSummary(prov.message_id, person)
        if person is None:
            summary.skipped = len(mapped.resources)
            return summary
        # Decide every resource's stored id first: references may point forward in the message.
        placed: list[tuple[Resource, Row, int | None]] = []  # the version each placement writes, if any
        for resource, digest in zip(mapped.resources, facts, strict=True):
            row, fresh = self._place(resource, digest, person, mapped, prov, summary)
            local = f"{resource.type}/{resource.body.get('id', '')}"
            # The Patient is the person: references to it name the person, whose merged Patient has that id.
            summary.ids[local] = f"Patient/{person}" if resource.type == "Patient" else f"{row.type}/{row.id}"
            placed.append((resource, row, row.version if fresh else None))
        for resource, row, version in placed:
            if version is not None:
                body = references.rewrite(resource.body, row.id, summary.ids)
                self.versions.append(
                    Version(
                        row.id,
                        version,
                        body,
                        prov.source_system,
                        prov.message_id,
                        prov.channel,
                        mapped.mapping,
                        mapped.version,
                        self.now,
                    )
                )
                self.indexed[row.id] = (row.type, fhir_search.entries(resource.body, summary.ids))
        return summary

    def _place(
        self,
        resource: Resource,
        digest: str,
        person: str,
        mapped: Mapped,
        prov: Provenance,
        summary: AppliedSummary,
    ) -> tuple[Row, bool]:
        """The row this resource lands in, and whether it needs a new version written."""
        source, kind, key = prov.source_system, resource.type, resource.key
        own = self.patients.get((person, source)) if kind == "Patient" else self.owned.get((source, kind, key))
        if own is None and key and kind != "Patient":
            shared = self.linked.get((source, kind, key))
            if shared is not None and shared.digest == digest and shared.person_id == person:
                summary.unchanged += 1
                return shared, False
            if shared is not None:  # this source no longer states what the shared resource says
                self.unlinked.append((shared.id, source, key))
                # A link made earlier in this batch is not written at all (the deletes run before the inserts).
                gone = (shared.id, source, key)
                self.links = [k for k in self.links if (k.resource_id, k.source_system, k.source_key) != gone]
                del self.linked[(source, kind, key)]
        if own is not None:
            if own.digest == digest and own.person_id == person:
                summary.unchanged += 1
                return own, False
            self.by_fact.get((own.person_id, kind, own.digest), {}).pop(own.id, None)
            own.digest, own.person_id, own.version, own.updated_at = digest, person, own.version + 1, self.now
            self.changed[own.id] = own
            self._states(own)
            summary.versioned += 1
            return own, True
        stating = self.by_fact.get((person, kind, digest)) if kind != "Patient" else None
        same = stating[min(stating)] if stating else None
        if same is not None and same.source_system != source:
            link = Link(same.id, source, key, prov.message_id, prov.channel, mapped.mapping, mapped.version, self.now)
            self.links.append(link)
            if key:
                self.linked[(source, kind, key)] = same
            summary.shared += 1
            return same, False
        if same is not None and not key:  # the same source said the same keyless fact again
            summary.unchanged += 1
            return same, False
        row = Row(new_id(self.now), person, kind, source, key, digest, 1, self.now)
        self.created[row.id] = row
        self._states(row)
        if kind == "Patient":
            self.patients[(person, source)] = row
        elif key:
            self.owned[(source, kind, key)] = row
        summary.created += 1
        return row, True

    def _merge(self, data: dict[str, Any], summary: AppliedSummary, prov: Provenance) -> None:
        surviving = summary.person_id or self.resolver.find(self.conn, data.get("surviving") or [])
        retired = self.resolver.find(self.conn, data.get("retired") or [])
        if surviving is None or retired is None or surviving == retired:
            return
        self.resolver.merge_persons(
            self.conn,
            surviving,
            retired,
            actor="pipeline",
            reason=f"merge message from {prov.source_system}",
            now=self.now,
            message_id=prov.message_id,
        )
        summary.person_id, summary.merged = surviving, retired
