"""The MPI read back for a reviewer: a record, a review with the two sides it weighs, and the score waterfall of a
pair (huitong mpi explain / review, the console's review queue)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from sqlalchemy import Connection

from engine.domain.instants import local_iso
from engine.domain.mpi.matcher import Explanation, Matcher
from engine.domain.mpi.settings import Settings
from engine.store import mpi as store
from engine.store import record as record_store
from engine.store.mpi import Review, StoredRecord
from engine.views.record_view import find_person

# What a reviewer compares, in reading order (the normalised features of engine/domain/mpi/features.py).
SHOWN = ("name", "sex", "dob", "id_raw", "phone", "address")


class Scorer(Protocol):
    """The part of the MPI resolver (engine/pipeline/mpi.py) an explanation needs."""

    matcher: Matcher
    settings: Settings

    def frequencies(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, tuple[int, int]]]: ...


class NoRecord(LookupError):
    """No MPI record (or review) with that id; the message says which."""


def record_json(r: StoredRecord) -> dict[str, Any]:
    return {
        "record": r.id,
        "source_system": r.source_system,
        "local_id": r.local_id,
        "state": r.state,
        "link_source": r.link_source,
        "rule": r.rule,
        "probability": r.probability,
    }


def review_json(r: Review) -> dict[str, Any]:
    return {
        **asdict(r),
        "created_at": local_iso(r.created_at),
        "decided_at": local_iso(r.decided_at) if r.decided_at is not None else None,
    }


def explanation_json(e: Explanation, settings: Settings) -> dict[str, Any]:
    return {
        "prior_weight": e.prior_weight,
        "contributions": [asdict(c) for c in e.contributions],
        "weight": e.weight,
        "probability": e.probability,
        "grade": e.grade,
        "rule": e.rule or None,
        "blocking_rule": e.blocking_rule,
        "thresholds": {
            "link": settings.thresholds.link,
            "review": settings.thresholds.review,
            "possible": settings.thresholds.possible,
        },
    }


def record_of(conn: Connection, text: str) -> StoredRecord:
    """An MPI record id, or a person (then its earliest record); PersonNotFound or NoRecord otherwise."""
    found = store.by_ids(conn, [text])
    if found:
        return found[0]
    person = find_person(conn, text)
    records = store.of_persons(conn, [person])
    if not records:
        raise NoRecord(f"person {person} has no MPI record")
    return records[0]


def explain(scorer: Scorer, conn: Connection, a: StoredRecord, b: StoredRecord) -> Explanation:
    return scorer.matcher.explain(a.features, b.features, scorer.frequencies(conn, [a.features, b.features]))


def compared(r: StoredRecord) -> dict[str, Any]:
    """A record as the reviewer sees it: where it comes from and the values that were compared."""
    return {**record_json(r), "person": r.person_id, "values": {k: r.features.get(k) for k in SHOWN}}


def review_detail(conn: Connection, scorer: Scorer, review_id: int) -> dict[str, Any]:
    """A review, its record and the candidate person's closest record, and the waterfall of that pair."""
    found = store.reviews(conn, None, review_id)
    if not found:
        raise NoRecord(f"no review {review_id}")
    review = found[0]
    [arrival] = store.by_ids(conn, [review.record_id])
    candidate = record_store.surviving(conn, review.candidate) or review.candidate
    pairs = [(explain(scorer, conn, arrival, r), r) for r in store.of_persons(conn, [candidate])]
    if not pairs:
        raise NoRecord(f"person {candidate} has no MPI record")
    explanation, closest = max(pairs, key=lambda p: p[0].weight)
    return {
        "review": review_json(review),
        "record": compared(arrival),
        "candidate": {**compared(closest), "person": candidate},
        "explanation": explanation_json(explanation, scorer.settings),
    }


def person_records(conn: Connection, text: str) -> dict[str, Any]:
    """`huitong mpi show`: a person's source records, merges and open reviews (ids only)."""
    person = find_person(conn, text)
    records = store.of_persons(conn, [person])
    ids = {r.id for r in records}
    merges = record_store.merges_into(conn, person)
    reviews = [r for r in store.reviews(conn, "open") if r.candidate == person or r.record_id in ids]
    return {
        "person": person,
        "records": [record_json(r) for r in records],
        "merges": [
            {
                "merge": m.id,
                "retired": m.retired,
                "at": local_iso(m.at),
                "undone_at": local_iso(m.undone_at) if m.undone_at is not None else None,
            }
            for m in merges
        ],
        "open_reviews": [r.id for r in reviews],
    }

