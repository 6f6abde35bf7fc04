"""The master patient index in the pipeline: which enterprise person each arriving patient record is.

Each source's patient (its own local id, usually its MRN) is one MPI record. A record seen before keeps its
person (its features are refreshed); a new one is matched against the candidates its blocking keys find:
certain → linked, probable → a new person and a review, else a new person. Operators link, unlink, merge,
unmerge and decide reviews; each change is audited with before and after, and an operator's decision is
never undone by automatic matching. All of it runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection

from engine.domain.mpi import blocking, features
from engine.domain.mpi.matcher import Candidate, Matcher, PersonScore, decision
from engine.domain.record import identity
from engine.domain.record.identity import Key
from engine.pipeline.mpi_events import Subscribers, publish
from engine.pipeline.mpi_pool import Pool
from engine.store import audit, persons, record
from engine.store import mpi as store
from engine.store.mpi import AUTO, MANUAL, MATCH, NEW, REVIEW, StoredRecord
from engine.store.persons import Identification, lookup, new_id

log = structlog.get_logger("huitong.mpi")
OPERATOR = "operator"


class MpiError(LookupError):
    """An operation that cannot be done as asked; the message says why (ids only, no personal data)."""


@dataclass(frozen=True, slots=True)
class Moved:
    """What a merge gave the surviving person: enough for an unmerge to give it back."""

    identifiers: list[Key]
    records: list[str]


def local_id(request: Identification, found: Mapping[str, Any]) -> str:
    """The source's own key for its patient: its MRN, else the resident ID, else a digest of the features."""
    residents, mrns = identity.by_trust(request.identifiers)
    if mrns:
        return "|".join(mrns[0])
    if residents:
        return "|".join(residents[0])
    digest = hashlib.blake2b(orjson.dumps(dict(found), option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
    return f"features|{digest}"


@dataclass
class _Writes:
    """What resolving a batch stores, written a statement per table at its end (or before anything reads those
    tables back), in the order resolving them one by one would have written them."""

    persons: list[str] = field(default_factory=list)
    records: list[StoredRecord] = field(default_factory=list)
    blocks: dict[str, list[str]] = field(default_factory=dict)
    terms: dict[tuple[str, str], int] = field(default_factory=dict)
    counted: int = 0
    identifiers: list[tuple[str, str, list[Key]]] = field(default_factory=list)

    def count(self, terms: Sequence[tuple[str, str]], delta: int) -> None:
        self.counted += delta
        for term in terms:
            self.terms[term] = self.terms.get(term, 0) + delta

    def flush(self, conn: Connection, now: float) -> None:
        persons.create_all(conn, self.persons, now)
        store.insert(conn, self.records, self.blocks)
        if self.counted or self.terms:
            store.add_counts(conn, self.terms, self.counted)
        persons.register_all(conn, [g for g in self.identifiers if g[2]], now)
        self.persons, self.records, self.blocks, self.terms, self.counted, self.identifiers = [], [], {}, {}, 0, []


class MpiResolver:
    """The PersonResolver of the record, backed by the MPI tables."""

    def __init__(
        self,
        matcher: Matcher,
        subscribers: Subscribers | None = None,
        node: str = "",
        decided: Callable[[str], None] = lambda _: None,
    ) -> None:
        """``decided(outcome)`` is told each decision as it is taken (new, matched, review, merged): the daemon's
        metrics count them."""
        self.matcher = matcher
        self.settings = matcher.settings
        self.subscribers = subscribers or {}
        self.node = node  # the daemon node whose sweep routes the change messages
        self.decided = decided

    # --- the record's interface ------------------------------------------------------------------------

    def resolve(self, conn: Connection, requests: Sequence[Identification], now: float) -> list[str]:
        found = [features.from_patient(r.patient) for r in requests]
        keys = [(r.source_system, local_id(r, f)) for r, f in zip(requests, found, strict=True)]
        known = store.by_local(conn, keys)
        # Who holds each identifier of the batch: one lookup, kept current as the batch registers more.
        held = lookup(conn, (k for r in requests for k in identity.keys(r.identifiers)))
        # What the batch matches (new records, and records whose features change) is read for it at once.
        arriving = [row for k, row in zip(keys, found, strict=True) if k not in known or known[k].features != row]
        changing = [known[k] for k, row in zip(keys, found, strict=True) if k in known and known[k].features != row]
        rows = [*arriving, *(r.features for r in changing)]
        pool = Pool(conn, self.settings, self.matcher.tf_columns, rows, [r.person_id for r in changing])
        pool.compare_ahead({n: row for n, (k, row) in enumerate(zip(keys, found, strict=True)) if k not in known})
        writes = _Writes()
        persons: list[str] = []
        for n, (request, row, key) in enumerate(zip(requests, found, keys, strict=True)):
            stored = known.get(key)
            if stored is None:
                stored = self._new_record(conn, key, row, now, n, pool, writes)
                known[key] = stored
            elif stored.features != row:
                writes.flush(conn, now)  # the refresh and a rematch read and change what the batch wrote
                self._refresh(conn, stored, row, now, pool)
                before = stored.person_id
                self._rematch(conn, stored, now, pool)
                if stored.person_id != before:  # a merge moved identifiers: read them again
                    held.update(lookup(conn, identity.keys(request.identifiers)))
            self._register(request, stored.person_id, held, writes)
            persons.append(stored.person_id)
        writes.flush(conn, now)
        return persons

    def find(self, conn: Connection, identifiers: Sequence[Mapping[str, Any]]) -> str | None:
        residents, mrns = identity.by_trust(identifiers)
        others = identity.keys(identifiers)
        known = lookup(conn, others)
        return next((known[k] for k in [*residents, *mrns, *others] if k in known), None)

    def _move_person(self, conn: Connection, surviving: str, retired: str) -> Moved:
        moved = persons.give_identifiers(conn, surviving, retired)
        return Moved(moved, store.repoint(conn, surviving, retired))

    # --- matching --------------------------------------------------------------------------------------

    def candidates(self, conn: Connection, row: Mapping[str, Any], exclude: str | None = None) -> list[Candidate]:
        keys = blocking.keys(self.settings.blocking, row)
        return [
            Candidate(r.id, r.person_id, r.features)
            for r in store.candidates(conn, keys, self.settings.max_block)
            if r.id != exclude
        ]

    def frequencies(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, tuple[int, int]]]:
        pairs = {(c, str(r[c])) for r in rows for c in self.matcher.tf_columns if r.get(c)}
        return store.frequencies(conn, pairs)

    def score(self, conn: Connection, row: Mapping[str, Any], exclude: str | None = None) -> list[PersonScore]:
        """Candidate persons for a feature row, best first."""
        return self.matcher.persons(row, self.candidates(conn, row, exclude), self.frequencies(conn, [row]))

    def _terms(self, row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(c, str(row[c])) for c in self.matcher.tf_columns if row.get(c)]

    def _new_record(
        self,
        conn: Connection,
        key: tuple[str, str],
        row: dict[str, Any],
        now: float,
        n: int,
        pool: Pool,
        writes: _Writes,
    ) -> StoredRecord:
        """``n``: the record's place in the batch, under which the pool compared it ahead."""
        candidates = pool.candidates(row)
        scores = self.matcher.persons(row, candidates, pool.frequencies(row), pool.gammas(n, row, candidates))
        best = scores[0] if scores else None
        decided = decision(best)
        record_id = new_id(now)
        if decided == "match" and best is not None:
            person, state, probability, rule = best.person_id, MATCH, best.probability, best.rule or "model"
        else:
            person = new_id(now)
            writes.persons.append(person)
            state = REVIEW if decided == "review" else NEW
            probability, rule = None, "new"
        stored = StoredRecord(record_id, key[0], key[1], person, state, AUTO, probability, rule, row, now)
        writes.records.append(stored)
        writes.blocks[record_id] = blocking.stored_keys(self.settings.blocking, row)
        pool.add(stored)
        self.decided({MATCH: "matched", REVIEW: "review"}.get(state, "new"))
        writes.count(self._terms(row), 1)
        pool.count(self._terms(row), 1)
        if decided == "review" and best is not None:
            store.open_review(conn, record_id, best.person_id, best.probability, now)
        if decided == "match" and best is not None:
            _audit(conn, "mpi.link", record_id, None, person, "pipeline", rule, now, probability=probability)
            if self._wanted("link"):
                writes.flush(conn, now)  # the change names the identifiers the person holds
            self._publish_record(conn, "link", stored, None, person, "pipeline", rule, now)
        return stored

    def _refresh(self, conn: Connection, stored: StoredRecord, row: dict[str, Any], now: float, pool: Pool) -> None:
        store.count_terms(conn, self._terms(stored.features), -1)
        store.count_terms(conn, self._terms(row))
        pool.count(self._terms(stored.features), -1)
        pool.count(self._terms(row), 1)
        store.replace_features(conn, stored, row, blocking.stored_keys(self.settings.blocking, row), now)
        pool.replace(stored, row, now)
        stored.features = row

    def _rematch(self, conn: Connection, stored: StoredRecord, now: float, pool: Pool) -> None:
        """A record whose update makes it another person's: merged when it is its person alone, else reviewed.

        Records an operator placed stay where they are, and persons an operator separated stay apart.
        """
        if stored.link_source != AUTO:
            return
        refused = {p for _, p in store.not_same(conn, [stored.id])}
        row = stored.features
        found = self.matcher.persons(row, pool.candidates(row), pool.frequencies(row))
        scores = [s for s in found if s.person_id != stored.person_id]
        best = next((s for s in scores if s.person_id not in refused), None)
        decided = decision(best)
        if best is None or decided == "new":
            return
        alone = not [r for r in store.of_persons(conn, [stored.person_id]) if r.id != stored.id]
        if decided == "match" and alone:
            why = best.rule or "model"
            self.merge_persons(conn, best.person_id, stored.person_id, actor="pipeline", reason=why, now=now)
            store.place(
                conn,
                [stored.id],
                best.person_id,
                state=MATCH,
                link_source=AUTO,
                probability=best.probability,
                rule=why,
                now=now,
            )
            stored.person_id = best.person_id
        elif not store.reviews_of(conn, stored.id, best.person_id):
            store.open_review(conn, stored.id, best.person_id, best.probability, now)
            self.decided("review")

    def _register(self, request: Identification, person: str, held: dict[Key, str], writes: _Writes) -> None:
        """Identifiers nobody holds yet become this person's; one held by another person stays theirs."""
        keys = identity.keys(request.identifiers)
        known = {k: held[k] for k in keys if k in held}
        fresh = [k for k in keys if k not in known]
        held.update({k: person for k in fresh})
        writes.identifiers.append((person, request.source_system, fresh))
        if any(p != person for p in known.values()):
            log.warning(
                "mpi.identifier_held_elsewhere",
                person=person,
                source_system=request.source_system,
                reason="an identifier of this record belongs to another person; left there for a reviewer",
            )

    # --- operations ------------------------------------------------------------------------------------

    def merge_persons(
        self,
        conn: Connection,
        surviving: str,
        retired: str,
        *,
        actor: str,
        reason: str,
        now: float,
        message_id: int | None = None,
    ) -> int:
        """Everything of the retired person to the surviving one (an A40 or an operator); returns the merge id."""
        surviving = _current(conn, surviving)
        retired = _current(conn, retired)
        if surviving == retired:
            raise MpiError(f"person {surviving} cannot be merged into itself")
        moved = self._move_person(conn, surviving, retired)
        merge_id = record.move_person(
            conn, surviving, retired, moved.identifiers, moved.records, message_id=message_id, now=now, actor=actor
        )
        if actor != "pipeline":
            for record_id in moved.records:
                store.decide(conn, record_id, surviving, True, actor, reason, now)
        _audit(conn, "mpi.merge", retired, retired, surviving, actor, reason, now, merge=merge_id)
        self.decided("merged")
        self._publish(
            conn,
            "merge",
            {"merge": merge_id, "actor": actor, "reason": reason, "surviving": surviving, "retired": retired},
            now,
        )
        return merge_id

    def unmerge(self, conn: Connection, merge_id: int, *, actor: str, reason: str, now: float) -> tuple[str, str]:
        """Give back exactly what a merge moved; the two are then never the same automatically."""
        merge = record.merge(conn, merge_id)
        if merge is None:
            raise MpiError(f"no merge {merge_id}")
        if merge.undone_at is not None:
            raise MpiError(f"merge {merge_id} was already undone")
        surviving, retired = merge.surviving, merge.retired
        persons.move_identifiers(conn, merge.identifiers, surviving, retired)
        store.assign(conn, merge.records, retired, holder=surviving)
        record.undo_merge(conn, merge_id, merge, now)
        for record_id in merge.records:
            store.decide(conn, record_id, surviving, False, actor, reason, now)
        _audit(conn, "mpi.unmerge", retired, surviving, retired, actor, reason, now, merge=merge_id)
        self._publish(
            conn,
            "unmerge",
            {"merge": merge_id, "actor": actor, "reason": reason, "surviving": surviving, "retired": retired},
            now,
        )
        return surviving, retired

    def link(self, conn: Connection, record_id: str, person: str, *, actor: str, reason: str, now: float) -> None:
        """An operator: this source record is that person (sticky)."""
        stored = _one(conn, record_id)
        person = _current(conn, person)
        if stored.person_id == person:
            store.decide(conn, record_id, person, True, actor, reason, now)
            return
        others = [r for r in store.of_persons(conn, [stored.person_id]) if r.id != record_id]
        if not others:  # the record is its person: merge, so an unmerge can restore it
            self.merge_persons(conn, person, stored.person_id, actor=actor, reason=reason, now=now)
        else:
            self._move_record(conn, stored, person, now)
        store.place(
            conn, [record_id], person, state=MATCH, link_source=MANUAL, probability=None, rule=OPERATOR, now=now
        )
        store.decide(conn, record_id, person, True, actor, reason, now)
        store.close_reviews(conn, record_id, "accepted", actor, reason, now, None)
        _audit(conn, "mpi.link", record_id, stored.person_id, person, actor, reason, now)
        self._publish_record(conn, "link", stored, stored.person_id, person, actor, reason, now)

    def unlink(self, conn: Connection, record_id: str, *, actor: str, reason: str, now: float) -> str:
        """An operator: this source record is not its person; it becomes a person of its own (sticky)."""
        stored = _one(conn, record_id)
        others = [r for r in store.of_persons(conn, [stored.person_id]) if r.id != record_id]
        if not others:
            raise MpiError(f"record {record_id} is the only record of person {stored.person_id}: nothing to unlink")
        person = new_id(now)
        persons.create(conn, person, now)
        self._move_record(conn, stored, person, now)
        store.place(conn, [record_id], person, state=NEW, link_source=MANUAL, probability=None, rule=OPERATOR, now=now)
        store.decide(conn, record_id, stored.person_id, False, actor, reason, now)
        _audit(conn, "mpi.unlink", record_id, stored.person_id, person, actor, reason, now)
        self._publish_record(conn, "unlink", stored, stored.person_id, person, actor, reason, now)
        return person

    def _move_record(self, conn: Connection, stored: StoredRecord, person: str, now: float) -> None:
        """Move one source record with its MRN and, when no other record of that source stays, its resources."""
        system, _, value = stored.local_id.partition("|")
        persons.move_identifiers(conn, [(system, value)], stored.person_id, person)
        same_source = [
            r
            for r in store.of_persons(conn, [stored.person_id])
            if r.id != stored.id and r.source_system == stored.source_system
        ]
        if not same_source:
            record.move_source_resources(conn, stored.person_id, person, stored.source_system)
        store.assign(conn, [stored.id], person)

    def _wanted(self, event: str) -> bool:
        return any(event in events for events in self.subscribers.values())

    def _publish(self, conn: Connection, event: str, body: dict[str, Any], now: float) -> None:
        """Pass the change on to subscribing channels, with the identifiers each person holds now."""
        if not self._wanted(event):
            return
        for role in ("surviving", "retired", "before", "after"):
            person = body.get(role)
            if isinstance(person, str):
                body[role] = {"person": person, "identifiers": _identifiers(conn, person)}
        publish(conn, self.subscribers, self.node, event, body, now)

    def _publish_record(
        self,
        conn: Connection,
        event: str,
        stored: StoredRecord,
        before: str | None,
        after: str,
        actor: str,
        reason: str,
        now: float,
    ) -> None:
        body: dict[str, Any] = {
            "record": {"id": stored.id, "source_system": stored.source_system, "local_id": stored.local_id},
            "actor": actor,
            "reason": reason,
            "before": before,
            "after": after,
        }
        self._publish(conn, event, body, now)

    def accept(self, conn: Connection, review_id: int, *, actor: str, reason: str, now: float) -> str:
        review = _open_review(conn, review_id)
        store.close_reviews(conn, review.record_id, "accepted", actor, reason, now, review_id)
        self.link(conn, review.record_id, review.candidate, actor=actor, reason=reason, now=now)
        return _current(conn, review.candidate)

    def reject(self, conn: Connection, review_id: int, *, actor: str, reason: str, now: float) -> None:
        review = _open_review(conn, review_id)
        store.decide(conn, review.record_id, review.candidate, False, actor, reason, now)
        store.close_reviews(conn, review.record_id, "rejected", actor, reason, now, review_id)
        store.set_state(conn, review.record_id, NEW, was=REVIEW)
        _audit(conn, "mpi.review.reject", review.record_id, review.candidate, None, actor, reason, now)


def _identifiers(conn: Connection, person: str) -> list[dict[str, str]]:
    return [{"system": s, "value": v} for s, v in persons.identifiers_of(conn, person)]


def _one(conn: Connection, record_id: str) -> StoredRecord:
    found = store.by_ids(conn, [record_id])
    if not found:
        raise MpiError(f"no MPI record {record_id}")
    return found[0]


def _current(conn: Connection, person: str) -> str:
    found = record.surviving(conn, person)
    if found is None:
        raise MpiError(f"no person {person}")
    return found


def _open_review(conn: Connection, review_id: int) -> store.Review:
    found = store.reviews(conn, None, review_id)
    if not found:
        raise MpiError(f"no review {review_id}")
    if found[0].status != "open":
        raise MpiError(f"review {review_id} is already {found[0].status}")
    return found[0]


def _audit(
    conn: Connection,
    action: str,
    target: str,
    before: str | None,
    after: str | None,
    actor: str,
    why: str,
    now: float,
    **detail: Any,
) -> None:
    """Who, when, why, and the person before and after (ids only: the audit holds no personal data)."""
    body = {"before": before, "after": after, "why": why, **detail}
    audit.record(conn, action, target, body, actor=actor, at=now)
