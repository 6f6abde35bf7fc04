"""Reporting periods: ``2026`` (a year), ``2026Q3`` (a quarter), ``2026-07`` (a month).

The period is always a parameter; nothing here reads the clock. An indicator counts its facts either
in the period itself, from 1 January to the period's end, or over the twelve months ending with it
(:data:`WINDOWS`), so an annual requirement such as "four follow-ups a year" can be asked of a quarter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Window = Literal["period", "year_to_date", "rolling_year"]
WINDOWS: tuple[Window, ...] = ("period", "year_to_date", "rolling_year")

_FORMS = re.compile(r"^(?P<year>\d{4})(?:Q(?P<quarter>[1-4])|-(?P<month>0[1-9]|1[0-2]))?$")


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period; ``start`` and ``end`` are both inside it."""

    label: str
    start: date
    end: date

    def window(self, kind: Window) -> tuple[date, date]:
        """The first and last day whose facts count for an indicator with this window."""
        if kind == "period":
            return self.start, self.end
        if kind == "year_to_date":
            return date(self.end.year, 1, 1), self.end
        return _one_year_before(self.end) + timedelta(days=1), self.end

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def parse_period(text: str) -> Period:
    """``2026``, ``2026Q3`` or ``2026-07``; anything else raises ValueError saying which forms exist."""
    match = _FORMS.match(text.strip())
    if match is None:
        raise ValueError(
            f"cannot read period {text!r}: expected a year (2026), a quarter (2026Q3) or a month (2026-07)"
        )
    year = int(match["year"])
    if match["quarter"]:
        first = 3 * int(match["quarter"]) - 2
        return Period(f"{year}Q{match['quarter']}", date(year, first, 1), _month_end(year, first + 2))
    if match["month"]:
        month = int(match["month"])
        return Period(f"{year}-{month:02d}", date(year, month, 1), _month_end(year, month))
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
