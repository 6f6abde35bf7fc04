"""The FEBRL4 benchmark's scoring (bench/febrl.py): precision, recall and F1 of predicted pairs against true
pairs. The peers themselves are not run here (too slow); see the module's docstring for the command."""

from __future__ import annotations

import pytest

from bench.febrl import Pairs, score, true_pairs

TRUE = {("rec-1-org", "rec-1-dup-0"), ("rec-2-org", "rec-2-dup-0"), ("rec-3-org", "rec-3-dup-0")}


def test_perfect_prediction() -> None:
    assert score(set(TRUE), TRUE) == {"tp": 3, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_counts_and_rates() -> None:
    predicted = {("rec-1-org", "rec-1-dup-0"), ("rec-2-org", "rec-2-dup-0"), ("rec-1-org", "rec-2-dup-0")}
    s = score(predicted, TRUE)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)


def test_pairs_are_ordered_a_then_b() -> None:
    s = score({("rec-1-dup-0", "rec-1-org")}, TRUE)
    assert (s["tp"], s["fp"], s["fn"]) == (0, 1, 3)


def test_empty_prediction_scores_zero() -> None:
    assert score(set(), TRUE) == {"tp": 0, "fp": 0, "fn": 3, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_empty_truth() -> None:
    s = score({("rec-1-org", "rec-1-dup-0")}, set())
    assert (s["tp"], s["fp"], s["fn"], s["recall"], s["f1"]) == (0, 1, 0, 0.0, 0.0)


def test_pairs_with_extras_score_as_a_set() -> None:
    predicted = Pairs({("rec-1-org", "rec-1-dup-0")}, candidate_pairs=10, phases={"x": 0.1})
    assert score(predicted, TRUE)["tp"] == 1
    assert predicted.candidate_pairs == 10


def test_true_pairs_from_links_multiindex() -> None:
    pd = pytest.importorskip("pandas")
    links = pd.MultiIndex.from_tuples([("rec-1-org", "rec-1-dup-0"), ("rec-2-org", "rec-2-dup-0")])
    assert true_pairs(links) == {("rec-1-org", "rec-1-dup-0"), ("rec-2-org", "rec-2-dup-0")}
