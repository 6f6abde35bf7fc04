"""Comparison vectors: for each pair of records, which level of each comparison they reach.

One code path for batch (hundreds of thousands of pairs) and for one arriving record against its handful
of candidates: columns are numpy object arrays, each level is tested only on the pairs no better level has
taken, and string similarity runs in rapidfuzz's C loops. Level 0 is the best; ``len(levels)`` is "else";
``NULL`` (-1) means a side lacks the comparison's column, which weighs nothing either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from .settings import Comparison, Level, Settings

NULL = -1
Row = Mapping[str, str | None]
_SMALL = 64  # below this many pairs a Python loop beats rapidfuzz's batch set-up


class Table:
    """Records as columns (numpy object arrays, None for missing), built once per batch or per lookup."""

    def __init__(self, rows: Sequence[Row], columns: Sequence[str]) -> None:
        self.size = len(rows)
        self.columns: dict[str, np.ndarray] = {}
        for name in columns:
            values = np.empty(self.size, dtype=object)
            values[:] = [row.get(name) or None for row in rows]
            self.columns[name] = values

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]


def _present(values: np.ndarray) -> np.ndarray:
    return values != None  # noqa: E711 -- elementwise on an object array


def _similarities(scorer: Callable[..., float], a: np.ndarray, b: np.ndarray, workers: int = -1) -> np.ndarray:
    if len(a) < _SMALL:
        return np.fromiter((scorer(x, y) for x, y in zip(a, b, strict=True)), dtype=np.float64, count=len(a))
    return process.cpdist(list(a), list(b), scorer=scorer, workers=workers)


@lru_cache(maxsize=65536)
def _ordinal(iso: str) -> int:
    try:
        return dt.date.fromisoformat(iso).toordinal()
    except ValueError:
        return -(10**9)


_DISTANCES: dict[str, Callable[..., float]] = {
    "levenshtein": Levenshtein.distance,
    "damerau": DamerauLevenshtein.distance,
}


def _agree(level: Level, x: str, y: str, x2: str | None, y2: str | None) -> bool:
    """Whether one pair of present values reaches the level; x2, y2 are the second column's (in_set, swap)."""
    kind = level.kind
    if kind == "exact":
        return bool(x == y)
    if kind == "jaro_winkler":
        return bool(JaroWinkler.normalized_similarity(x, y) >= level.threshold)
    if kind in _DISTANCES:
        return bool(_DISTANCES[kind](x, y) <= level.threshold)
    if kind == "in_set":
        return (x in (y2 or "").split("|")) or (y in (x2 or "").split("|"))
    if kind == "dropped":
        return abs(len(x) - len(y)) == 1 and min(len(x), len(y)) >= 2 and Levenshtein.distance(x, y) == 1
    if kind == "date_swap":
        return x != y and x[:4] == y[:4] and x[5:7] == y[8:10] and x[8:10] == y[5:7]
    if kind == "date_within":
        return abs(_ordinal(x) - _ordinal(y)) <= level.threshold
    if kind == "swap":
        return bool(x == y2 and x2 == y and x2 is not None and y2 is not None)
    raise ValueError(f"unknown level kind {kind}")  # settings.parse admits no other kind


def _test(level: Level, left: Table, li: np.ndarray, right: Table, ri: np.ndarray) -> np.ndarray:
    """Which of the pairs (li[k], ri[k]) reach this level: equality and string similarity over whole arrays,
    the other kinds through ``_agree`` pair by pair."""
    first = level.columns[0]
    a, b = left[first][li], right[first][ri]
    out = np.zeros(len(li), dtype=bool)
    idx = np.flatnonzero(_present(a) & _present(b))
    if not len(idx):
        return out
    a, b = a[idx], b[idx]
    kind = level.kind
    if kind == "exact":
        hit = a == b
    elif kind == "jaro_winkler":
        hit = _similarities(JaroWinkler.normalized_similarity, a, b) >= level.threshold
    elif kind in _DISTANCES:
        hit = _similarities(_DISTANCES[kind], a, b) <= level.threshold
    elif kind == "swap":
        second = level.columns[1]
        a2, b2 = left[second][li][idx], right[second][ri][idx]
        hit = (a == b2) & (a2 == b) & _present(a2) & _present(b2)
    else:
        second = level.columns[-1]
        a2, b2 = left[second][li][idx], right[second][ri][idx]
        hit = np.fromiter(
            (_agree(level, *values) for values in zip(a, b, a2, b2, strict=True)), dtype=bool, count=len(idx)
        )
    out[idx] = hit
    return out


def _compare_one(comparison: Comparison, left: Table, li: np.ndarray, right: Table, ri: np.ndarray) -> np.ndarray:
    result = np.full(len(li), len(comparison.levels), dtype=np.int8)
    null = ~(_present(left[comparison.column][li]) & _present(right[comparison.column][ri]))
    result[null] = NULL
    open_ = np.flatnonzero(~null)
    for index, level in enumerate(comparison.levels):
        if not len(open_):
            break
        hit = _test(level, left, li[open_], right, ri[open_])
        result[open_[hit]] = index
        open_ = open_[~hit]
    return result


def _hit(level: Level, left: Table, i: int, right: Table, j: int) -> bool:
    """Whether the one pair (i, j) reaches this level, without arrays."""
    first, second = level.columns[0], level.columns[-1]
    x, y = left[first][i], right[first][j]
    if x is None or y is None:
        return False
    return _agree(level, x, y, left[second][i], right[second][j])


def _compare_few(settings: Settings, left: Table, li: np.ndarray, right: Table, ri: np.ndarray) -> np.ndarray:
    """``compare`` pair by pair: for the handful of candidates of one arriving record, numpy's per-call set-up
    (a dozen small arrays per comparison) costs more than the comparisons themselves."""
    out = np.empty((len(li), len(settings.comparisons)), dtype=np.int8)
    for p, (i, j) in enumerate(zip(li.tolist(), ri.tolist(), strict=True)):
        for k, comparison in enumerate(settings.comparisons):
            if left[comparison.column][i] is None or right[comparison.column][j] is None:
                out[p, k] = NULL
                continue
            levels = comparison.levels
            out[p, k] = next((n for n, level in enumerate(levels) if _hit(level, left, i, right, j)), len(levels))
    return out


def compare(settings: Settings, left: Table, li: np.ndarray, right: Table, ri: np.ndarray) -> np.ndarray:
    """The comparison vector of every pair: an int8 matrix, one row per pair, one column per comparison."""
    if len(li) < _SMALL:
        return _compare_few(settings, left, li, right, ri)
    out = np.empty((len(li), len(settings.comparisons)), dtype=np.int8)
    for k, comparison in enumerate(settings.comparisons):
        out[:, k] = _compare_one(comparison, left, li, right, ri)
    return out
