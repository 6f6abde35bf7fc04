"""Key facts of our mappings against Microsoft FHIR-Converter's expected bundles (bench/conformance.py).

C-CDA: we reproduce at least 95% of FHIR-Converter's facts (recall), Jaccard stays at 88% or more (88.7%
today, with Procedure and AllergyIntolerance facts compared: the facts only we emit are explained in
docs/conformance.md), and every case maps without error.
All cases (C-CDA + HL7 v2): at least 95% recall (the HL7 v2 differences that remain are justified in
docs/conformance.md). Every HL7 v2 case meets the bar on its own, or misses only facts we leave out on
purpose (``DELIBERATE``, each one explained with its standard in bench/conformance_notes.md).
"""

from __future__ import annotations

import pytest

from bench.conformance import BAR, recall, run, totals

# FHIR-Converter facts we leave out on purpose, as (resource type, field, value); the notes say why.
DELIBERATE = frozenset(
    {
        # codes in FHIR-Converter's placeholder system; we code PDA and ACC as VRDR does
        ("Observation", "code", "autopsy"),
        ("Observation", "code", "coroner"),
        ("Observation", "code", "death-certificate"),
        ("Observation", "code", "injury-incident"),
        ("Procedure", "code", "autopsy-performed"),
        ("Procedure", "code", "death-certification"),
        ("Observation", "value.coded", "Y"),  # PDA-3 as an Observation: no standard code
        # IN2-7 Medicaid case name and IN2-8 case number: not the patient's name or identifier
        ("Patient", "identifier", "MCN-008"),
        ("Patient", "name.family", "Jack"),
        ("Patient", "name.given", "A"),
        ("Patient", "name.given", "ADAM"),
        ("Patient", "name.given", "Addsm"),
        ("Patient", "name.family", "123121234A"),  # ADT01-23: in no name field of the message
        # no PV1-44/PV1-45 sent: the expected admit and discharge (PV2-8/PV2-9) are plans, not the period
        ("Encounter", "period.end", "2015-02-09T15:54:19+05:30"),
        ("Encounter", "period.end", "2015-02-09T11:34:19+05:30"),
        ("Encounter", "period.end", "2015-02-10T15:54:19+05:30"),
        ("Encounter", "period.start", "2015-02-08T11:34:19+05:30"),
        ("ServiceRequest", "authoredOn", "1990-05-01T12:16:00+05:30"),  # RF1 of an ADT: referrals come as REF
        ("ServiceRequest", "authoredOn", "2020-09-10T20:15:00+05:30"),  # ORC-9 before the OBR of an ORU
        ("Procedure", "code", "71045"),  # FT1-25: a charge, not a procedure record
    }
)


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


def test_total_recall_meets_the_bar(results) -> None:  # type: ignore[no-untyped-def]
    agreed, theirs = recall(results)
    assert agreed / theirs >= BAR, f"{agreed}/{theirs} = {agreed / theirs:.1%} < {BAR:.0%}"


def test_every_hl7v2_case_meets_the_bar(results) -> None:  # type: ignore[no-untyped-def]
    """Per case, not only in total: below the bar, only the deliberate differences may be missing."""
    below = []
    for c in results:
        if c.kind != "Hl7v2" or not c.mapped or not c.n_theirs or c.n_agreed / c.n_theirs >= BAR:
            continue
        unexplained = [f for f in c.only_theirs if f not in DELIBERATE]
        if unexplained:
            below.append(f"{c.name}: {c.n_agreed}/{c.n_theirs}, unexplained {sorted(unexplained)}")
    assert not below, below
