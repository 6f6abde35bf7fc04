"""What a batch of arriving patient records is matched against, read from the store once for the batch.

Matching one record reads its candidates (every record of every person sharing a blocking key with it, blocks
over ``max_block`` skipped) and the counts of its values (term frequencies). For a batch, the pool reads the
blocks of all the batch's keys, the records of the persons they reach and the counts of all its values in
three queries, compares the arriving records with their candidates in one vectorised comparison, then answers
each record as the store would at that point: the records the batch added or
changed before it are in the blocks, persons and counts it sees. What the batch writes is the resolver's to
store; the pool is told (``add``, ``replace``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from engine.domain.mpi import blocking
from engine.domain.mpi.compare import Table, compare
from engine.domain.mpi.matcher import Candidate
from engine.domain.mpi.model import Frequencies
from engine.domain.mpi.settings import Settings
from engine.store import mpi as store
from engine.store.mpi import ALL, StoredRecord

Term = tuple[str, str]


class Pool:
    def __init__(
        self,
        conn: Connection,
        settings: Settings,
        tf_columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        persons: Iterable[str],
    ) -> None:
        """``rows``: the features of every record the batch may match or refresh (new and old); ``persons``: those
        of the records it refreshes, held whether or not a block reaches them."""
        self.settings, self.tf_columns = settings, tf_columns
        keys = {k for row in rows for k in blocking.keys(settings.blocking, row)}
        # A block the batch can shrink back to max_block (a refreshed record leaves it) is read in full too.
        sizes, found = store.blocks(conn, keys, settings.max_block + len(rows))
        self.members: dict[str, set[str]] = {k: {r for r, _ in found.get(k, ())} for k in keys}
        self.oversized = {k for k in keys if sizes.get(k, 0) > settings.max_block + len(rows)}
        reached = {person for part in found.values() for _, person in part} | set(persons)
        self.records: dict[str, StoredRecord] = {}
        self.by_person: dict[str, dict[str, StoredRecord]] = {}
        for record in store.of_persons(conn, reached):
            self._hold(record)
        terms = {t for row in rows for t in self.terms(row)}
        self.counts = store.term_counts(conn, terms) if terms else {}
        self.ahead: dict[int, dict[str, np.ndarray]] = {}  # by arriving row: each candidate's comparison vector
        self.changed: set[str] = set()  # records whose features the batch changed: compared again

    def _hold(self, record: StoredRecord) -> None:
        self.records[record.id] = record
        self.by_person.setdefault(record.person_id, {})[record.id] = record

    def terms(self, row: Mapping[str, Any]) -> list[Term]:
        return [(c, str(row[c])) for c in self.tf_columns if row.get(c)]

    def candidates(self, row: Mapping[str, Any], exclude: str | None = None) -> list[Candidate]:
        """As store.candidates: the records of the persons the row's small blocks reach, oldest change first."""
        persons = {
            self.records[r].person_id
            for k in blocking.keys(self.settings.blocking, row)
            if k not in self.oversized and len(self.members[k]) <= self.settings.max_block
            for r in self.members[k]
        }
        found = sorted(
            (r for p in persons for r in self.by_person.get(p, {}).values()), key=lambda r: (r.updated_at, r.id)
        )
        return [Candidate(r.id, r.person_id, r.features) for r in found if r.id != exclude]

    def compare_ahead(self, rows: Mapping[int, Mapping[str, Any]]) -> None:
        """Compare each arriving row (by its place in the batch) with the candidates it has now, all pairs in one
        vectorised comparison; ``gammas`` takes them from here, and compares only what the batch changed since."""
        found = {n: self.candidates(row) for n, row in rows.items()}
        order = [n for n in rows if found[n]]
        if not order:
            return
        left = Table([rows[n] for n in order], self.settings.columns)
        right = Table([c.features for n in order for c in found[n]], self.settings.columns)
        li = np.repeat(np.arange(len(order), dtype=np.int64), [len(found[n]) for n in order])
        gammas = compare(self.settings, left, li, right, np.arange(len(li), dtype=np.int64))
        pair = 0
        for n in order:
            self.ahead[n] = {}
            for c in found[n]:
                self.ahead[n][c.record_id] = gammas[pair]
                pair += 1

    def gammas(self, n: int, row: Mapping[str, Any], candidates: Sequence[Candidate]) -> np.ndarray:
        """The comparison vectors of arriving row ``n`` with its candidates, in their order."""
        ahead = self.ahead.get(n, {})
        out = np.empty((len(candidates), len(self.settings.comparisons)), dtype=np.int8)
        missing = []
        for k, c in enumerate(candidates):
            if c.record_id in ahead and c.record_id not in self.changed:
                out[k] = ahead[c.record_id]
            else:
                missing.append(k)
        if missing:
            left = Table([row], self.settings.columns)
            right = Table([candidates[k].features for k in missing], self.settings.columns)
            zeros = np.zeros(len(missing), dtype=np.int64)
            out[missing] = compare(self.settings, left, zeros, right, np.arange(len(missing), dtype=np.int64))
        return out

    def frequencies(self, row: Mapping[str, Any]) -> Frequencies:
        """As store.frequencies, with what the batch counted so far."""
        total = self.counts.get((ALL, ""), 0)
        out: dict[str, dict[str, tuple[int, int]]] = {}
        if not total:
            return out
        for field, value in self.terms(row):
            if (field, value) in self.counts:
                out.setdefault(field, {})[value] = (self.counts[(field, value)], total)
        return out

    def count(self, terms: Iterable[Term], delta: int) -> None:
        """As store.count_terms: every record once in (ALL, ""), each of its terms."""
        for term in [(ALL, ""), *terms]:
            self.counts[term] = self.counts.get(term, 0) + delta

    def add(self, record: StoredRecord) -> None:
        """A record the batch stored: in its blocks, with its person."""
        self._hold(record)
        for k in blocking.keys(self.settings.blocking, record.features):
            if k in self.members:
                self.members[k].add(record.id)

    def replace(self, record: StoredRecord, features: dict[str, Any], now: float) -> None:
        """A record whose features the batch changed: out of its old blocks, into its new ones."""
        held = self.records[record.id]
        self.changed.add(record.id)
        for k in blocking.keys(self.settings.blocking, held.features):
            if k in self.members:
                self.members[k].discard(record.id)
        held.features, held.updated_at = features, now
        for k in blocking.keys(self.settings.blocking, features):
            if k in self.members:
                self.members[k].add(record.id)
