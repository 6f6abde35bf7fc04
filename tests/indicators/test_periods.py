"""Reporting periods and the windows indicators count their facts in."""

from __future__ import annotations

from datetime import date

import pytest

from engine.domain.indicators import parse_period


def test_a_quarter_runs_from_its_first_to_its_last_day() -> None:
    p = parse_period("2026Q3")
    assert (p.label, p.start, p.end) == ("2026Q3", date(2026, 7, 1), date(2026, 9, 30))


def test_a_month_ends_on_its_last_day_including_leap_february() -> None:
    assert parse_period("2028-02").end == date(2028, 2, 29)
    assert parse_period("2026-12").end == date(2026, 12, 31)


def test_a_year_is_the_calendar_year() -> None:
    p = parse_period("2026")
    assert (p.start, p.end) == (date(2026, 1, 1), date(2026, 12, 31))


@pytest.mark.parametrize("text", ["2026Q5", "2026-13", "26Q1", "2026q3", "2026-7", "2026H1", ""])
def test_other_forms_are_refused_with_the_forms_that_exist(text: str) -> None:
    with pytest.raises(ValueError, match=r"2026Q3.*2026-07"):
        parse_period(text)


def test_the_rolling_year_is_the_twelve_months_ending_with_the_period() -> None:
    assert parse_period("2026Q3").window("rolling_year") == (date(2025, 10, 1), date(2026, 9, 30))
    assert parse_period("2026").window("rolling_year") == (date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("2028-02").window("rolling_year") == (date(2027, 3, 1), date(2028, 2, 29))


def test_year_to_date_starts_on_1_january() -> None:
    assert parse_period("2026-07").window("year_to_date") == (date(2026, 1, 1), date(2026, 7, 31))


def test_the_period_window_is_the_period() -> None:
    p = parse_period("2026-07")
    assert p.window("period") == (p.start, p.end)
