"""Key facts of our mappings against Microsoft FHIR-Converter's expected bundles (bench/conformance.py).

C-CDA: we reproduce at least 95% of FHIR-Converter's facts (recall), Jaccard stays at 88% or more (88.7%
today, with Procedure and AllergyIntolerance facts compared: the facts only we emit are explained in
docs/conformance.md), and every case maps without error.
Every case meets the bar on its own once the facts we leave out on purpose are set aside
(``bench.conformance.DELIBERATE``, each explained with its standard in bench/conformance_notes.md).
"""

from __future__ import annotations

import pytest

from bench.conformance import BAR, DELIBERATE, below_bar, recall, run, totals

# Cases under the bar with the deliberate differences set aside: open gaps, each named in bench/conformance_notes.md
# ("Open gaps"); none today. The test fails when a case falls under the bar.
OPEN_GAPS: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return run()


def test_every_ccda_case_maps(results) -> None:  # type: ignore[no-untyped-def]
    failed = [f"{c.name}: {c.error}" for c in results if c.kind == "Ccda" and not c.mapped]
    assert not failed, failed


def test_no_mapped_case_errors(results) -> None:  # type: ignore[no-untyped-def]
    assert not [f"{c.name}: {c.error}" for c in results if c.error]


def test_ccda_recall_meets_the_bar(results) -> None:  # type: ignore[no-untyped-def]
    agreed, theirs = recall(results, "Ccda")
    assert theirs > 600
    assert agreed / theirs >= BAR, f"{agreed}/{theirs} = {agreed / theirs:.1%} < {BAR:.0%}"


def test_ccda_jaccard_does_not_regress(results) -> None:  # type: ignore[no-untyped-def]
    agreed, union = totals(results, "Ccda")
    # 0.88 since Procedure and AllergyIntolerance facts are compared too (their C-CDA facts only we emit, such
    # as procedures of sections FHIR-Converter's template skips, count against us; docs/conformance.md)
    assert agreed / union >= 0.88, f"Jaccard {agreed}/{union} = {agreed / union:.1%}"


def test_total_recall_with_the_deliberate_differences_set_aside_meets_the_bar(results) -> None:  # type: ignore[no-untyped-def]
    agreed, theirs = recall(results)
    theirs -= sum(c.n_set_aside for c in results if c.mapped)
    assert agreed / theirs >= BAR, f"{agreed}/{theirs} = {agreed / theirs:.1%} < {BAR:.0%}"


def test_every_case_meets_the_bar_with_the_deliberate_differences_set_aside(results) -> None:  # type: ignore[no-untyped-def]
    """Per case, not only in total."""
    below = {c.name: f"{c.n_agreed}/{c.n_theirs - c.n_set_aside}" for c in below_bar(results)}
    assert set(below) <= OPEN_GAPS, below


def test_every_fact_set_aside_is_one_fhir_converter_emits(results) -> None:  # type: ignore[no-untyped-def]
    """No stale entries: each deliberate difference still occurs in some case."""
    missing = {f for c in results for f in c.set_aside}
    assert set(DELIBERATE) == missing, set(DELIBERATE) - missing
