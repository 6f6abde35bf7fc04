"""Count each indicator per institution and per team, and sum the institutions up the registry tree.

Roll-ups add numerators and denominators, never rates: a county's rate is its total numerator over
its total denominator, not the mean of its townships' rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.domain.orgs import OrgTree, UnknownCode

from .definitions import Context, Indicator
from .model import Resident
from .period import Period


@dataclass(frozen=True, slots=True)
class Row:
    """One indicator at one institution (``team`` None, counts include everything below it) or one team."""

    indicator: str
    period: str
    org: str
    team: str | None
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        """None when nobody is in the denominator: no rate, rather than a misleading 0 %."""
        return self.numerator / self.denominator if self.denominator else None


def compute(
    definitions: Sequence[Indicator], residents: Iterable[Resident], period: Period, orgs: OrgTree
) -> list[Row]:
    """Rows per indicator: every institution of the tree top down (with roll-up), then every team.

    A resident whose institution or team is not in the registry raises :class:`UnknownCode`: dropping
    them would quietly lower someone's numbers.
    """
    people = list(residents)
    for person in people:
        orgs.get(person.org)
        if person.team is not None:
            orgs.team(person.team)
    rows: list[Row] = []
    for indicator in definitions:
        rows.extend(_rows(indicator, people, period, orgs))
    return rows


def _rows(indicator: Indicator, people: list[Resident], period: Period, orgs: OrgTree) -> list[Row]:
    first, last = period.window(indicator.window)
    ctx = Context(period, first, last, orgs)
    at_org: dict[str, list[int]] = {}
    at_team: dict[str, list[int]] = {}
    for person in people:
        num, den = _count(indicator, person, ctx)
        if den == 0:
            continue
        for code in [person.org, *(o.code for o in orgs.ancestors(person.org))]:
            _add(at_org, code, num, den)
        if person.team is not None:
            _add(at_team, person.team, num, den)
    rows = [_row(indicator, period, org.code, None, at_org.get(org.code)) for org in orgs]
    rows += [_row(indicator, period, team.org, team.team_id, at_team.get(team.team_id)) for team in orgs.teams]
    return rows


def _count(indicator: Indicator, person: Resident, ctx: Context) -> tuple[int, int]:
    """This resident's (numerator, denominator): 0/1 each for residents, fact counts for facts."""
    den, num = indicator.denominator, indicator.numerator
    if not den.residents.matches(person, ctx):
        return 0, 0
    in_num = num.residents.matches(person, ctx)
    if indicator.unit == "residents":
        return int(in_num), 1
    if den.facts is None:  # the loader refuses this; a hand-built definition gets a clear error
        raise ValueError(f"indicator {indicator.code}: unit facts needs denominator.facts")
    facts = [f for f in ctx.in_window(person.facts) if den.facts.matches(f, person, ctx)]
    if not in_num:
        return 0, len(facts)
    counted = [f for f in facts if num.facts is None or num.facts.matches(f, person, ctx)]
    return len(counted), len(facts)


def _add(totals: dict[str, list[int]], key: str, num: int, den: int) -> None:
    pair = totals.setdefault(key, [0, 0])
    pair[0] += num
    pair[1] += den


def _row(indicator: Indicator, period: Period, org: str, team: str | None, pair: list[int] | None) -> Row:
    num, den = pair if pair is not None else (0, 0)
    return Row(indicator.code, period.label, org, team, num, den)


__all__ = ["Row", "UnknownCode", "compute"]
