"""Rows per institution and team: roll-up sums counts, never rates; zero denominators; CSV and JSON text."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engine.domain.indicators import compute, parse_period, to_csv, to_json
from engine.domain.orgs import UnknownCode

from .population import DEFINITIONS, ORGS, contracted, counts, fact, person

ADMITTED = (fact("admission", "2026-08-01"),)


def _population() -> list:
    # T1: 1 of 1 admitted (100 %); V1 (under T1): 0 of 1; T2: 1 of 3 (33 %).
    return [
        contracted("t1 admitted", org="T1", team="T1-a", facts=ADMITTED),
        contracted("v1", org="V1", team="T1-b"),
        contracted("t2 admitted", org="T2", team="T2-a", facts=ADMITTED),
        contracted("t2 a", org="T2", team="T2-a"),
        contracted("t2 b", org="T2", team="T2-a"),
    ]


def test_rollup_adds_numerators_and_denominators_up_the_tree() -> None:
    got = counts("contracted_hospitalisation", _population())
    assert got["V1"] == (0, 1)
    assert got["T1"] == (1, 2)  # its own resident plus its village clinic's
    assert got["T2"] == (1, 3)
    assert got["H"] == got["C"] == (2, 5)


def test_county_rate_is_the_total_ratio_not_the_mean_of_rates() -> None:
    rows = compute([DEFINITIONS["contracted_hospitalisation"]], _population(), parse_period("2026Q3"), ORGS)
    by_org = {r.org: r for r in rows if r.team is None}
    assert by_org["C"].rate == pytest.approx(2 / 5)
    assert by_org["C"].rate != pytest.approx((by_org["T1"].rate + by_org["T2"].rate) / 2)


def test_team_rows_count_only_their_own_contracted_residents() -> None:
    residents = [*_population(), person("not contracted, no team", org="T1", facts=ADMITTED)]
    got = counts("contracted_hospitalisation", residents)
    assert (got["T1-a"], got["T1-b"], got["T2-a"]) == ((1, 1), (0, 1), (1, 3))


def test_every_institution_and_team_gets_a_row_in_tree_order() -> None:
    rows = compute([DEFINITIONS["contracted_hospitalisation"]], [], parse_period("2026"), ORGS)
    assert [(r.org, r.team) for r in rows] == [
        ("C", None),
        ("H", None),
        ("T1", None),
        ("V1", None),
        ("T2", None),
        ("T1", "T1-a"),
        ("T1", "T1-b"),
        ("T2", "T2-a"),
    ]


def test_a_zero_denominator_has_no_rate() -> None:
    rows = compute([DEFINITIONS["contracted_hospitalisation"]], [], parse_period("2026"), ORGS)
    assert all(r.rate is None for r in rows)


def test_a_resident_of_an_unregistered_institution_is_refused() -> None:
    with pytest.raises(UnknownCode, match="'X9'"):
        compute(list(DEFINITIONS.values()), [contracted("lost", org="X9", team=None)], parse_period("2026"), ORGS)


def test_a_resident_of_an_unregistered_team_is_refused() -> None:
    with pytest.raises(UnknownCode, match="'T9-z'"):
        compute(list(DEFINITIONS.values()), [contracted("lost", team="T9-z")], parse_period("2026"), ORGS)


def test_csv_has_one_line_per_row_with_names_and_an_empty_rate_for_zero_denominators() -> None:
    rows = compute([DEFINITIONS["contracted_hospitalisation"]], _population(), parse_period("2026Q3"), ORGS)
    lines = to_csv(rows, ORGS).splitlines()
    assert lines[0] == "indicator,period,org,org_name,team,team_name,numerator,denominator,rate"
    assert lines[1] == "contracted_hospitalisation,2026Q3,C,岚溪县卫生健康局,,,2,5,0.4"
    assert len(lines) == 1 + len(rows)
    empty = compute([DEFINITIONS["contracted_hospitalisation"]], [], parse_period("2026"), ORGS)
    assert to_csv(empty).splitlines()[1] == "contracted_hospitalisation,2026,C,,,,0,0,"


def test_json_carries_the_same_fields_and_null_rates() -> None:
    rows = compute([DEFINITIONS["contracted_hospitalisation"]], _population(), parse_period("2026Q3"), ORGS)
    data = json.loads(to_json(rows, ORGS))
    assert data[-1] == {
        "indicator": "contracted_hospitalisation",
        "period": "2026Q3",
        "org": "T2",
        "org_name": "乙乡卫生院",
        "team": "T2-a",
        "team_name": "乙乡团队",
        "numerator": 1,
        "denominator": 3,
        "rate": 0.3333,
    }
    assert (
        json.loads(to_json(compute([DEFINITIONS["contracted_hospitalisation"]], [], parse_period("2026"), ORGS)))[0][
            "rate"
        ]
        is None
    )


def test_contract_status_is_judged_against_the_period_not_the_window() -> None:
    # A contract that ended in June: inside the rolling year, outside the quarter.
    from engine.domain.indicators import Span

    gone = person(
        "ended in June",
        born=date(1950, 1, 1),
        contracts=(Span(date(2025, 7, 1), date(2026, 6, 30)),),
        facts=(fact("flu_vaccine", "2025-11-01"),),
    )
    assert counts("contracted_elderly_flu_vaccine", [gone])["C"] == (0, 0)
    assert counts("contracted_elderly_flu_vaccine", [gone], period="2026Q2")["C"] == (1, 1)
