"""What the indicators are computed from: residents and the services they received, nothing else.

This model is deliberately independent of the store. Whoever wires indicators to the unified record
builds these values (a resident's labels from diagnoses and programme registers, facts from visits,
follow-ups, exams, immunisations and lab results); the computation never sees a database.

Resident
    ``resident_id``  any stable key (the MPI id).
    ``org``          the institution that manages the resident: the contracted one when contracted,
                     otherwise the one holding the health record. Counts are attributed here.
    ``team``         the family-doctor team id when contracted, else None; team rows count these.
    ``labels``       programme memberships such as ``hypertension``, ``diabetes``, ``pregnant``,
                     ``child0_6``, ``disabled``, ``poverty_relief``, ``family_planning_special``,
                     ``tuberculosis``, ``severe_mental_disorder`` (see mappings/indicators/README.md).
                     Age is not a label: give ``birth_date`` and let the definition hold the threshold.
    ``birth_date``   for age criteria, measured at the period's last day; None never matches one.
    ``contracts``    the spans (first and last day) during which a family-doctor contract was in force
                     (ACTIVE); a resident is contracted in a period when any span overlaps it.
    ``facts``        the services received (below).

ServiceFact
    ``kind``         one of :data:`FACT_KINDS`.
    ``on``           the day it happened.
    ``org``          the institution where it happened, None when unknown (then never "at home").
    ``condition``    for a follow-up, the programme it belongs to (``hypertension``, ``diabetes``).
    ``controlled``   for a follow-up, whether the reading was within target (BP < 140/90; FBG < 7.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

FACT_KINDS: tuple[str, ...] = (
    "follow_up",  # 面对面随访 of a chronic-disease programme
    "health_check",  # 健康体检 (the annual exam of the elderly or any adult)
    "emergency_visit",  # 急诊就诊
    "admission",  # 住院 (an inpatient admission)
    "outpatient_visit",  # 门诊就诊
    "flu_vaccine",  # 流感疫苗接种
    "fobt",  # 粪便隐血试验 with a result
)


@dataclass(frozen=True, slots=True)
class ServiceFact:
    kind: str
    on: date
    org: str | None = None
    condition: str | None = None
    controlled: bool | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """Inclusive first and last day."""

    start: date
    end: date

    def overlaps(self, start: date, end: date) -> bool:
        return self.start <= end and start <= self.end


@dataclass(frozen=True, slots=True)
class Resident:
    resident_id: str
    org: str
    team: str | None = None
    labels: frozenset[str] = frozenset()
    birth_date: date | None = None
    contracts: tuple[Span, ...] = ()
    facts: tuple[ServiceFact, ...] = field(default=())

    def contracted(self, start: date, end: date) -> bool:
        return any(span.overlaps(start, end) for span in self.contracts)

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
