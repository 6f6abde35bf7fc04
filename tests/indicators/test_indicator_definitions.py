"""Each shipped indicator on a hand-made population whose answer is counted by hand (period 2026Q3,
so the rolling year is 2025-10-01 .. 2026-09-30)."""

from __future__ import annotations

from datetime import date

from engine.domain.indicators import Span

from .population import DEFINITIONS, contracted, county, fact, follow_ups, person


def test_every_shipped_indicator_names_its_source() -> None:
    assert set(DEFINITIONS) == {
        "key_population_contract",
        "hypertension_standard_management",
        "hypertension_control",
        "diabetes_standard_management",
        "diabetes_control",
        "elderly_health_management",
        "contracted_emergency_visit",
        "contracted_hospitalisation",
        "contracted_community_fixed_visit",
        "contracted_adult_health_check",
        "contracted_elderly_flu_vaccine",
        "contracted_fobt",
    }
    assert all(d.source and d.name_zh and d.name_en for d in DEFINITIONS.values())


def test_key_population_contract_counts_the_aged_and_the_labelled_and_only_current_contracts() -> None:
    residents = [
        contracted("aged 70", born=date(1956, 1, 1)),
        person("hypertensive, not contracted", labels=("hypertension",)),
        contracted("aged 40, no label", born=date(1986, 1, 1)),
        person(
            "pregnant, contract ended in June",
            labels=("pregnant",),
            contracts=(Span(date(2025, 7, 1), date(2026, 6, 30)),),
        ),
    ]
    assert county("key_population_contract", residents) == (1, 3)


def test_hypertension_standard_management_needs_four_follow_ups_in_the_rolling_year() -> None:
    residents = [
        person(
            "four",
            labels=("hypertension",),
            facts=follow_ups("hypertension", "2025-10-01", "2026-01-10", "2026-04-10", "2026-07-10"),
        ),
        person(
            "three, plus a diabetes visit",
            labels=("hypertension", "diabetes"),
            facts=(
                *follow_ups("hypertension", "2026-01-10", "2026-04-10", "2026-07-10"),
                *follow_ups("diabetes", "2026-08-01"),
            ),
        ),
        person(
            "four, one before the window",
            labels=("hypertension",),
            facts=follow_ups("hypertension", "2025-09-30", "2026-01-10", "2026-04-10", "2026-07-10"),
        ),
        person("diabetic only", labels=("diabetes",), facts=follow_ups("hypertension", *["2026-02-01"] * 4)),
    ]
    assert county("hypertension_standard_management", residents) == (1, 3)


def test_hypertension_control_looks_only_at_the_latest_follow_up() -> None:
    residents = [
        person(
            "controlled last",
            labels=("hypertension",),
            facts=(
                *follow_ups("hypertension", "2026-03-01", controlled=False),
                *follow_ups("hypertension", "2026-08-01", controlled=True),
            ),
        ),
        person(
            "uncontrolled last",
            labels=("hypertension",),
            facts=(
                *follow_ups("hypertension", "2026-03-01", controlled=True),
                *follow_ups("hypertension", "2026-08-01", controlled=False),
                *follow_ups("diabetes", "2026-09-01", controlled=True),
            ),
        ),
        person("no follow-up", labels=("hypertension",)),
    ]
    assert county("hypertension_control", residents) == (1, 3)


def test_diabetes_standard_management_counts_diabetes_follow_ups_only() -> None:
    residents = [
        person("four", labels=("diabetes",), facts=follow_ups("diabetes", *["2026-02-01"] * 4)),
        person("hypertension visits", labels=("diabetes",), facts=follow_ups("hypertension", *["2026-02-01"] * 4)),
    ]
    assert county("diabetes_standard_management", residents) == (1, 2)


def test_diabetes_control_ignores_follow_ups_after_the_period() -> None:
    residents = [
        person(
            "controlled in window, uncontrolled after",
            labels=("diabetes",),
            facts=(
                *follow_ups("diabetes", "2026-09-30", controlled=True),
                *follow_ups("diabetes", "2026-10-01", controlled=False),
            ),
        ),
        person("uncontrolled", labels=("diabetes",), facts=follow_ups("diabetes", "2026-05-01", controlled=False)),
    ]
    assert county("diabetes_control", residents) == (1, 2)


def test_elderly_health_management_takes_age_on_the_periods_last_day() -> None:
    residents = [
        person("65 on 30 September", born=date(1961, 9, 30), facts=(fact("health_check", "2026-09-30"),)),
        person("64 on 30 September", born=date(1961, 10, 1), facts=(fact("health_check", "2026-05-01"),)),
        person("80, checked before the window", born=date(1946, 1, 1), facts=(fact("health_check", "2025-09-01"),)),
        person("no birth date", facts=(fact("health_check", "2026-05-01"),)),
    ]
    assert county("elderly_health_management", residents) == (1, 2)


def test_emergency_visit_rate_counts_contracted_residents_with_a_visit_in_the_period() -> None:
    residents = [
        contracted(
            "visit in August", facts=(fact("emergency_visit", "2026-08-03"), fact("emergency_visit", "2026-08-04"))
        ),
        contracted("visit in June only", facts=(fact("emergency_visit", "2026-06-03"),)),
        person("not contracted", facts=(fact("emergency_visit", "2026-08-03"),)),
    ]
    assert county("contracted_emergency_visit", residents) == (1, 2)


def test_hospitalisation_rate_counts_admissions_in_the_period() -> None:
    residents = [
        contracted("admitted", facts=(fact("admission", "2026-07-01"),)),
        contracted("outpatient only", facts=(fact("outpatient_visit", "2026-07-01"),)),
        contracted("admitted in October", facts=(fact("admission", "2026-10-01"),)),
    ]
    assert county("contracted_hospitalisation", residents) == (1, 3)


def test_community_fixed_visit_rate_counts_visits_at_the_contracted_institution_or_below() -> None:
    residents = [
        contracted(
            "T1 resident",
            org="T1",
            facts=(
                fact("outpatient_visit", "2026-07-01", org="T1"),
                fact("outpatient_visit", "2026-07-02", org="V1"),
                fact("outpatient_visit", "2026-07-03", org="H"),
                fact("outpatient_visit", "2026-07-04"),
                fact("emergency_visit", "2026-07-05", org="T1"),
                fact("outpatient_visit", "2026-06-30", org="T1"),
            ),
        ),
        person("not contracted", org="T1", facts=(fact("outpatient_visit", "2026-07-01", org="T1"),)),
    ]
    assert county("contracted_community_fixed_visit", residents) == (2, 4)


def test_adult_health_check_excludes_minors() -> None:
    residents = [
        contracted("adult", born=date(1990, 1, 1), facts=(fact("health_check", "2026-03-01"),)),
        contracted("adult, not checked", born=date(1990, 1, 1)),
        contracted("17", born=date(2009, 1, 1), facts=(fact("health_check", "2026-03-01"),)),
    ]
    assert county("contracted_adult_health_check", residents) == (1, 2)


def test_elderly_flu_vaccine_counts_contracted_residents_aged_65_and_over() -> None:
    residents = [
        contracted("70, vaccinated", born=date(1956, 1, 1), facts=(fact("flu_vaccine", "2025-11-01"),)),
        contracted("70, not vaccinated", born=date(1956, 1, 1)),
        contracted("60, vaccinated", born=date(1966, 1, 1), facts=(fact("flu_vaccine", "2025-11-01"),)),
        person("70, not contracted", born=date(1956, 1, 1), facts=(fact("flu_vaccine", "2025-11-01"),)),
    ]
    assert county("contracted_elderly_flu_vaccine", residents) == (1, 2)


def test_fobt_rate_counts_ages_50_to_74_inclusive() -> None:
    residents = [
        contracted("50", born=date(1976, 9, 30), facts=(fact("fobt", "2026-01-05"),)),
        contracted("74", born=date(1951, 10, 1)),
        contracted("49", born=date(1976, 10, 1), facts=(fact("fobt", "2026-01-05"),)),
        contracted("75", born=date(1951, 9, 30), facts=(fact("fobt", "2026-01-05"),)),
    ]
    assert county("contracted_fobt", residents) == (1, 2)
