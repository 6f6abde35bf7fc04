"""From comparison vectors to decisions: deterministic identity rules first, then the model's probability.

Grades follow FHIR's match-grade code system. ``certain``: link automatically; ``probable``: a reviewer
decides; ``possible``: shown by search only; ``certainly-not``. The identity rules are why two different
valid resident IDs are never linked by any weight: twins share everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import DamerauLevenshtein

from .compare import Table, compare
from .model import Frequencies, Model, match_weights, probability, tf_columns
from .settings import Settings

CERTAIN, PROBABLE, POSSIBLE, NOT = 3, 2, 1, 0
CAP = -2  # forced marker: the model decides, but no higher than probable
GRADES = {CERTAIN: "certain", PROBABLE: "probable", POSSIBLE: "possible", NOT: "certainly-not"}

#: Why a grade was forced, per pair ('' when the model's probability decided).
DISAGREES = "not close enough on {}"
SAME_ID = "same resident ID"
SAME_ID_CONFLICT = "same resident ID, conflicting demographics"
ID_TYPO = "resident IDs one typo apart"
DISTINCT_IDS = "different resident IDs"


@dataclass(slots=True)
class Scored:
    gammas: np.ndarray
    weights: np.ndarray
    probabilities: np.ndarray
    grades: np.ndarray
    rules: list[str]  # the identity rule that forced each grade, '' where none did


def identity_rules(
    settings: Settings, left: Table, li: np.ndarray, right: Table, ri: np.ndarray, gammas: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Forced grades (-1 where no identity rule applies, CAP for at most probable) and the rule behind each."""
    forced = np.full(len(li), -1, dtype=np.int8)
    why = [""] * len(li)
    for name, best in settings.link_requires:
        k = settings.comparison_index(name)
        for p in np.flatnonzero(gammas[:, k] >= best):
            if forced[p] == -1:
                forced[p], why[p] = CAP, DISAGREES.format(name)
    identity = settings.identity
    if identity is None or not len(li):
        return forced, why
    a, b = left[identity.column][li], right[identity.column][ri]
    both = np.flatnonzero((a != None) & (b != None))  # noqa: E711
    if not len(both):
        return forced, why
    conflict = np.zeros(len(li), dtype=bool)
    for name in identity.compatible:
        k = settings.comparison_index(name)
        conflict |= gammas[:, k] == len(settings.comparisons[k].levels)
    same = both[a[both] == b[both]]
    differ = both[a[both] != b[both]]
    typo = differ[_distances(a[differ], b[differ]) <= identity.typo_distance]
    distinct = np.setdiff1d(differ, typo)
    for indices, grade, rule in (
        (same[conflict[same]], PROBABLE, SAME_ID_CONFLICT),
        (same[~conflict[same]], CERTAIN, SAME_ID),
        (typo, CAP, ID_TYPO),
        (distinct, NOT, DISTINCT_IDS),
    ):
        forced[indices] = grade
        for p in indices:
            why[p] = rule
    return forced, why


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a):
        return np.zeros(0, dtype=np.int64)
    return np.fromiter(
        (DamerauLevenshtein.distance(x, y) for x, y in zip(a, b, strict=True)), dtype=np.int64, count=len(a)
    )


def grades_of(settings: Settings, probabilities: np.ndarray, forced: np.ndarray) -> np.ndarray:
    t = settings.thresholds
    grades = np.select(
        [probabilities >= t.link, probabilities >= t.review, probabilities >= t.possible],
        [CERTAIN, PROBABLE, POSSIBLE],
        NOT,
    ).astype(np.int8)
    # An ID typo caps at review but never lifts a hopeless pair into it.
    capped = forced == CAP
    grades[capped] = np.minimum(grades[capped], PROBABLE)
    grades[forced >= 0] = forced[forced >= 0]
    return grades


def score(
    settings: Settings,
    model: Model,
    left: Table,
    li: np.ndarray,
    right: Table,
    ri: np.ndarray,
    frequencies: Frequencies | None = None,
) -> Scored:
    """Compare, weigh and grade the pairs (li[k], ri[k])."""
    return weigh(settings, model, compare(settings, left, li, right, ri), left, li, right, ri, frequencies)


def weigh(
    settings: Settings,
    model: Model,
    gammas: np.ndarray,
    left: Table,
    li: np.ndarray,
    right: Table,
    ri: np.ndarray,
    frequencies: Frequencies | None = None,
) -> Scored:
    """Weigh and grade pairs already compared (``gammas``: their comparison vectors)."""
    tf_values = {k: left[column][li] for k, column in tf_columns(settings).items()}
    weights = match_weights(settings, model, gammas, tf_values, frequencies)
    probabilities = probability(weights)
    forced, why = identity_rules(settings, left, li, right, ri, gammas)
    return Scored(gammas, weights, probabilities, grades_of(settings, probabilities, forced), why)
