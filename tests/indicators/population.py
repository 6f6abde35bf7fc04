"""A tiny county and helpers for building hand-made residents; the answers are counted by hand in each test."""

from __future__ import annotations

from datetime import date

from engine.config.indicators import SHIPPED, load_indicators
from engine.domain.indicators import Indicator, Resident, ServiceFact, Span, compute, parse_period
from engine.domain.orgs import Org, OrgTree, Team, build

ORGS: OrgTree = build(
    [
        Org("C", "岚溪县卫生健康局", "health_bureau"),
        Org("H", "县人民医院", "lead_hospital", "C"),
        Org("T1", "甲镇卫生院", "township", "H"),
        Org("V1", "甲镇下村卫生室", "village", "T1"),
        Org("T2", "乙乡卫生院", "township", "H"),
    ],
    [Team("T1-a", "甲镇一团队", "T1"), Team("T1-b", "甲镇二团队", "T1"), Team("T2-a", "乙乡团队", "T2")],
)

#: A contract in force through all of 2026.
YEAR_2026 = (Span(date(2026, 1, 1), date(2026, 12, 31)),)

_definitions, _errors = load_indicators(SHIPPED)
assert not _errors, _errors
DEFINITIONS: dict[str, Indicator] = {d.code: d for d in _definitions}


def person(
    rid: str,
    org: str = "T1",
    team: str | None = None,
    labels: tuple[str, ...] = (),
    born: date | None = None,
    contracts: tuple[Span, ...] = (),
    facts: tuple[ServiceFact, ...] = (),
) -> Resident:
    return Resident(rid, org, team, frozenset(labels), born, contracts, facts)


def contracted(rid: str, org: str = "T1", team: str | None = "T1-a", **kw: object) -> Resident:
    return person(rid, org, team, contracts=YEAR_2026, **kw)  # type: ignore[arg-type]


def fact(kind: str, on: str, **kw: object) -> ServiceFact:
    return ServiceFact(kind, date.fromisoformat(on), **kw)  # type: ignore[arg-type]


def follow_ups(condition: str, *days: str, controlled: bool | None = None) -> tuple[ServiceFact, ...]:
    return tuple(fact("follow_up", d, condition=condition, controlled=controlled) for d in days)


def counts(code: str, residents: list[Resident], period: str = "2026Q3") -> dict[str, tuple[int, int]]:
    """(numerator, denominator) by institution code, and by team id for team rows."""
    rows = compute([DEFINITIONS[code]], residents, parse_period(period), ORGS)
    return {(r.team or r.org): (r.numerator, r.denominator) for r in rows}


def county(code: str, residents: list[Resident], period: str = "2026Q3") -> tuple[int, int]:
    return counts(code, residents, period)["C"]
