"""Indicator definitions as values: who is counted (denominator) and who of them qualifies (numerator).

Definitions are data (mappings/indicators/*.yaml, read by engine/config/indicators.py) so the customer's
own definitions can replace ours without code. The criteria are a small language, all keys of one
mapping ANDed:

``ResidentCriteria``
    ``contracted``   a contract was (true) or was not (false) in force at some time in the period.
    ``labels_any``   has at least one of these labels; ``labels_all``: has every one.
    ``age``          age on the period's last day within ``min``..``max`` (both inclusive, either optional).
    ``has``          at least ``at_least`` facts matching a pattern inside the indicator's window.
    ``latest``       the most recent fact of the pattern's kind and condition inside the window
                     also matches the rest of the pattern (e.g. ``controlled: true``).
    ``any_of``       at least one of several nested criteria (key populations: aged 65+ OR labelled).

``FactPattern``: ``kind``, and optionally ``condition``, ``controlled``, ``at_home_org`` (the fact
happened at the resident's own institution or one below it in the registry).

A numerator is always counted inside its denominator: its criteria are added to the denominator's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from engine.domain.orgs import OrgTree

from .model import Resident, ServiceFact
from .period import Period, Window

Unit = Literal["residents", "facts"]


@dataclass(frozen=True, slots=True)
class Context:
    """What a criterion may look at besides the resident: the period, the window's days and the tree."""

    period: Period
    first: date
    last: date
    orgs: OrgTree

    def in_window(self, facts: Iterable[ServiceFact]) -> list[ServiceFact]:
        return [f for f in facts if self.first <= f.on <= self.last]


@dataclass(frozen=True, slots=True)
class FactPattern:
    kind: str
    condition: str | None = None
    controlled: bool | None = None
    at_home_org: bool | None = None

    def same_series(self, fact: ServiceFact) -> bool:
        """Same kind and condition: the facts among which ``latest`` picks the most recent."""
        return fact.kind == self.kind and (self.condition is None or fact.condition == self.condition)

    def matches(self, fact: ServiceFact, resident: Resident, ctx: Context) -> bool:
        if not self.same_series(fact):
            return False
        if self.controlled is not None and fact.controlled is not self.controlled:
            return False
        if self.at_home_org is not None:
            home = fact.org is not None and fact.org in ctx.orgs.rollup(resident.org)
            if home is not self.at_home_org:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Has:
    pattern: FactPattern
    at_least: int = 1


@dataclass(frozen=True, slots=True)
class AgeRange:
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True, slots=True)
class ResidentCriteria:
    contracted: bool | None = None
    labels_any: frozenset[str] = frozenset()
    labels_all: frozenset[str] = frozenset()
    age: AgeRange | None = None
    has: Has | None = None
    latest: FactPattern | None = None
    any_of: tuple[ResidentCriteria, ...] = ()

    def matches(self, resident: Resident, ctx: Context) -> bool:
        if self.contracted is not None and resident.contracted(ctx.period.start, ctx.period.end) is not self.contracted:
            return False
        if self.labels_any and not (self.labels_any & resident.labels):
            return False
        if not self.labels_all <= resident.labels:
            return False
        if self.age is not None and not _age_within(resident.age_on(ctx.period.end), self.age):
            return False
        if self.has is not None:
            pattern = self.has.pattern
            found = sum(1 for f in ctx.in_window(resident.facts) if pattern.matches(f, resident, ctx))
            if found < self.has.at_least:
                return False
        if self.latest is not None:
            series = [f for f in ctx.in_window(resident.facts) if self.latest.same_series(f)]
            if not series or not self.latest.matches(max(series, key=lambda f: f.on), resident, ctx):
                return False
        return not self.any_of or any(c.matches(resident, ctx) for c in self.any_of)


def _age_within(age: int | None, bounds: AgeRange) -> bool:
    if age is None:
        return False
    return (bounds.min is None or age >= bounds.min) and (bounds.max is None or age <= bounds.max)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the fraction: the residents, and for ``unit: facts`` the facts of theirs counted."""

    residents: ResidentCriteria = ResidentCriteria()
    facts: FactPattern | None = None


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    window: Window
    denominator: Side
    numerator: Side
    source: str
    unit: Unit = "residents"
    note: str = ""
