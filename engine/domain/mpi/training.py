"""Training the model on the data itself, without labels (the Fellegi-Sunter EM method).

- u: from random pairs, which are almost all different persons, so each level's share among them is u.
- m: expectation-maximisation over the pairs of each training blocking rule, with u held fixed. A rule's
  own columns agree on every pair it yields, so those comparisons learn nothing in that session; each
  comparison's m is the mean over the sessions that could learn it.
- prior: the matches the EM found in its best session, over all possible pairs.

EM runs on the distinct comparison vectors with their counts, so it costs the same for 10^3 or 10^6 pairs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from . import blocking
from .compare import NULL, Table, compare
from .model import Model
from .settings import Settings

SMOOTH = 1e-6  # no level is impossible: a zero m or u would make one comparison veto everything
ITERATIONS = 30


def _shares(column: np.ndarray, levels: int) -> np.ndarray:
    """Each level's share, a level never seen counting as half a pair: rare is not impossible."""
    present = column[column != NULL]
    counts = np.bincount(present, minlength=levels).astype(np.float64) + 0.5
    return counts / counts.sum()


def estimate_u(
    settings: Settings, left: Table, right: Table | None, max_pairs: int, rng: np.random.Generator
) -> list[np.ndarray]:
    other = right or left
    n = min(max_pairs, left.size * other.size)
    li = rng.integers(0, left.size, n)
    ri = rng.integers(0, other.size, n)
    if right is None:
        keep = li != ri
        li, ri = li[keep], ri[keep]
    gammas = compare(settings, left, li, other, ri)
    return [_shares(gammas[:, k], len(c.levels) + 1) for k, c in enumerate(settings.comparisons)]


def _start_m(levels: int) -> np.ndarray:
    m = np.array([0.9 * 0.5**i for i in range(levels)], dtype=np.float64)
    m[-1] = 0.05  # "else": same person, every level missed
    return m / m.sum()


def em(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: Sequence[np.ndarray],
    learn: Sequence[bool],
    prior: float = 0.1,
    iterations: int = ITERATIONS,
) -> tuple[list[np.ndarray], float]:
    """m (for comparisons with ``learn``) and the share of matches among the given comparison vectors."""
    m = [x.copy() for x in m]
    for _ in range(iterations):
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for k in range(patterns.shape[1]):
            g = patterns[:, k]
            safe = np.where(g == NULL, 0, g)
            log_m += np.where(g == NULL, 0.0, np.log(m[k][safe]))
            log_u += np.where(g == NULL, 0.0, np.log(u[k][safe]))
        odds = np.exp(np.clip(log_m - log_u, -700, 700)) * prior / (1 - prior)
        posterior = odds / (1 + odds)
        weighted = posterior * counts
        prior = float(np.clip(weighted.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        for k in range(patterns.shape[1]):
            if not learn[k]:
                continue
            g = patterns[:, k]
            present = g != NULL
            tally = np.bincount(g[present], weights=weighted[present], minlength=len(m[k])) + SMOOTH
            m[k] = tally / tally.sum()
    return m, prior


def train(
    settings: Settings,
    left: Table,
    right: Table | None = None,
    *,
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    max_pairs_u: int = 100_000,
    seed: int = 1,
) -> Model:
    """A model trained on one table (deduplication) or two (linkage).

    ``candidates`` (left index, right index, comparison vectors) are the blocked pairs when the caller has
    them already: each training session takes those agreeing on its rule instead of comparing again.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    u = estimate_u(settings, left, right, max_pairs_u, rng)
    other = right or left
    total_pairs = left.size * (left.size - 1) / 2 if right is None else left.size * other.size
    sums = [np.zeros(len(c.levels) + 1) for c in settings.comparisons]
    sessions = [0] * len(settings.comparisons)
    found_matches = 0.0
    trained_pairs = 0
    for rule in settings.training_blocking:
        if candidates is None:
            li, ri, _ = blocking.pairs([rule], left, right, settings.max_block)
            gammas = compare(settings, left, li, other, ri)
        else:
            li, ri, all_gammas = candidates
            agree = np.ones(len(li), dtype=bool)
            for column in rule:
                a, b = left[column][li], other[column][ri]
                agree &= (a == b) & (a != None)  # noqa: E711
            li, ri, gammas = li[agree], ri[agree], all_gammas[agree]
        if not len(li):
            continue
        patterns, counts = np.unique(gammas, axis=0, return_counts=True)
        learn = [not _uses(settings, k, rule) for k in range(len(settings.comparisons))]
        start = [_start_m(len(c.levels) + 1) for c in settings.comparisons]
        m, share = em(patterns, counts.astype(np.float64), start, u, learn)
        found_matches = max(found_matches, share * len(li))
        trained_pairs += len(li)
        for k, learnt in enumerate(learn):
            if learnt:
                sums[k] += m[k]
                sessions[k] += 1
    m_final = [
        sums[k] / sessions[k] if sessions[k] else _start_m(len(c.levels) + 1)
        for k, c in enumerate(settings.comparisons)
    ]
    prior = float(np.clip(found_matches / max(total_pairs, 1), 1e-12, 0.5))
    trained = {
        "records": left.size + (right.size if right is not None else 0),
        "pairs": trained_pairs,
        "random_pairs_for_u": int(min(max_pairs_u, left.size * other.size)),
        "seconds": round(time.perf_counter() - started, 3),
        "untrained": [c.name for k, c in enumerate(settings.comparisons) if not sessions[k]],
    }
    return Model(prior, m_final, u, trained)


def _uses(settings: Settings, k: int, rule: Sequence[str]) -> bool:
    comparison = settings.comparisons[k]
    columns = {comparison.column, *(col for level in comparison.levels for col in level.columns)}
    return bool(columns & set(rule))
