"""Batch deduplication: score every candidate pair, then join records into persons.

Pairs graded certain are joined strongest first (union-find), but two groups are never joined when each
already holds a different verified identifier: otherwise A-B and B-C would make twins one person through a
record without an ID. A record left on its own with a probable pair to another person goes to review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import blocking
from .compare import Row, Table
from .decide import CERTAIN, PROBABLE, Scored, score
from .model import Model, frequencies_of, tf_columns
from .settings import Settings

NEW, MATCH, REVIEW = "new", "match", "review"


@dataclass(slots=True)
class Clustering:
    person: list[int]  # per record: the index of the first record of its person
    decision: list[str]  # per record: new, match or review
    candidate: list[int | None]  # for review: a record of the person it may be
    probability: list[float | None]  # for review: the probability of that pair
    pairs: int  # candidate pairs scored
    scored: Scored | None = None


class _Groups:
    def __init__(self, ids: Sequence[str | None]) -> None:
        self.parent = list(range(len(ids)))
        self.ids: list[set[str]] = [{i} if i else set() for i in ids]

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.ids[ra] and self.ids[rb] and self.ids[ra] != self.ids[rb]:
            return False
        if ra > rb:
            ra, rb = rb, ra
        self.parent[rb] = ra  # the earliest record's index names the person
        self.ids[ra] |= self.ids[rb]
        return True


def dedupe(
    settings: Settings,
    model: Model,
    rows: Sequence[Row],
    progress: Callable[[str, int], None] | None = None,
) -> Clustering:
    """Persons for a table of feature rows (one per source record)."""
    table = Table(rows, settings.columns)
    li, ri, _ = blocking.pairs(settings.blocking, table, None, settings.max_block)
    if progress:
        progress("pairs", len(li))
    frequencies = frequencies_of(list(tf_columns(settings).values()), table.columns)
    scored = score(settings, model, table, li, table, ri, frequencies)
    if progress:
        progress("scored", len(li))
    identity = settings.identity.column if settings.identity else None
    groups = _Groups([row.get(identity) if identity else None for row in rows])
    for p in np.argsort(-scored.probabilities, kind="stable"):
        if scored.grades[p] == CERTAIN:
            groups.join(int(li[p]), int(ri[p]))
    person = [groups.find(i) for i in range(len(rows))]
    decision = [NEW if person[i] == i else MATCH for i in range(len(rows))]
    candidate: list[int | None] = [None] * len(rows)
    probability: list[float | None] = [None] * len(rows)
    for p in np.flatnonzero(scored.grades == PROBABLE):
        a, b = int(li[p]), int(ri[p])
        if person[a] == person[b]:
            continue
        later, other = (b, a) if b > a else (a, b)  # the later record is the one a reviewer attaches
        if decision[later] != MATCH and scored.probabilities[p] > (probability[later] or -1.0):
            probability[later] = float(scored.probabilities[p])
            decision[later], candidate[later] = REVIEW, other
    return Clustering(person, decision, candidate, probability, len(li), scored)
