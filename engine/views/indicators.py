"""Indicator inputs read from the unified health record: one indicators Resident per enterprise person.

Each person is read as `huitong record assess` reads them (merged Patient and every current resource, each tagged
with its source) and turned into the store-independent values of engine/domain/indicators/model.py:

- ``contracts``: the family-doctor EpisodeOfCare resources (type ``family-doctor-contract``, as the contract
  register files them: engine/domain/contract/uhr.py) that were in force: status active, or finished, with a
  period; cancelled and planned never were.
- ``org`` and ``team``: those of the contract in force in the period (the latest started if several); a resident
  without one belongs to the institution holding their record: Patient.managingOrganization, else the
  institution of their latest visit (Encounter.serviceProvider), else the county (the registry's health bureau).
- ``labels``: the care labels (mappings/care/labels.yaml) on the period's last day, renamed to the indicator
  labels by mappings/indicators/inputs/record.yaml.
- ``facts``: visits, exams, vaccinations and lab results matched by that file, and chronic follow-ups (a visit of
  the programme, judged controlled by the care rules' control on that day's readings). Facts count once per
  kind, day and institution, so a visit sent by two systems is one visit.

Institutions are read from references by identifier value or ``Organization/<code>``; codes outside the registry
are ignored for facts (never "at home") and for the record's holder, but a contract naming one is an error
(:class:`~engine.domain.orgs.UnknownCode` from compute): dropping its resident would lower someone's numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from engine.domain.care import labels_of
from engine.domain.care.control import judgements
from engine.domain.care.fhir import Resource, codes, parse_date, when
from engine.domain.care.labels import birth_date
from engine.domain.care.match import hits_any
from engine.domain.indicators import Period, Resident, Row, ServiceFact, Span, compute
from engine.domain.indicators.definitions import Indicator
from engine.domain.indicators.inputs import RecordInputs
from engine.domain.orgs import OrgTree
from engine.domain.record.precedence import Rules
from engine.store import record
from engine.views.assessment import resources_of
from engine.views.record_view import person_view

CONTRACT_TYPE = "family-doctor-contract"  # EpisodeOfCare.type of engine/domain/contract/push.py emr_resources
_IN_FORCE = frozenset({"active", "finished"})
_PAGE = 500  # persons read per query while streaming the record


def residents_from_record(
    conn: Connection, precedence: Mapping[str, Rules], orgs: OrgTree, inputs: RecordInputs, period: Period
) -> Iterator[Resident]:
    """Every enterprise person of the record (merged-away persons are part of their survivor), one at a time."""
    for person in _persons(conn):
        yield resident_of(person, resources_of(person_view(conn, person, precedence)), orgs, inputs, period)


class OutsideScope(ValueError):
    """A team asked for together with an institution it does not belong to (the message says which)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which rows of the table are shown: an institution and everything below it, and/or one team."""

    codes: frozenset[str] | None = None
    team: str | None = None

    def holds(self, row: Row) -> bool:
        return (self.codes is None or row.org in self.codes) and (self.team is None or row.team == self.team)


def scope_of(orgs: OrgTree, org: str | None, team: str | None) -> Scope:
    """The rows an --org and --team choose; UnknownCode for a code the registry lacks, OutsideScope for a team
    of another institution."""
    codes = orgs.rollup(orgs.get(org).code) if org else None
    found = orgs.team(team) if team else None
    if found is not None and codes is not None and found.org not in codes:
        raise OutsideScope(f"team {team!r} belongs to {found.org}, which is not {org} or below it")
    return Scope(codes, found.team_id if found is not None else None)


def indicator_rows(
    conn: Connection,
    precedence: Mapping[str, Rules],
    orgs: OrgTree,
    definitions: Sequence[Indicator],
    inputs: RecordInputs,
    period: Period,
    scope: Scope,
) -> list[Row]:
    """The indicator table of a period from the whole record, the rows in scope (huitong indicators, the
    console); UnknownCode when the record names an institution or team the registry lacks."""
    residents = residents_from_record(conn, precedence, orgs, inputs, period)
    return [r for r in compute(definitions, residents, period, orgs) if scope.holds(r)]


def _persons(conn: Connection) -> Iterator[str]:
    """Surviving person ids in pages (keyset on the id), so the record is never listed whole."""
    after = ""
    while True:
        page = record.surviving_persons(conn, after, _PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1]


def resident_of(
    person: str, resources: Sequence[Resource], orgs: OrgTree, inputs: RecordInputs, period: Period
) -> Resident:
    """The indicators' view of one person's resources (as :func:`resources_of` gives them); pure."""
    on = period.end
    contracts = _contracts(resources)
    current = [c for c in contracts if c.span.overlaps(period.start, period.end)]
    if current:
        latest = max(current, key=lambda c: c.span.start)
        org, team = latest.org, latest.team
    else:
        org, team = _holder(resources, orgs), None
    held = {inputs.labels[x.code] for x in labels_of(inputs.label_rules, resources, on) if x.code in inputs.labels}
    born = birth_date(resources)
    return Resident(
        resident_id=person,
        org=org,
        team=team,
        labels=frozenset(held),
        birth_date=born[0] if born else None,
        contracts=tuple(c.span for c in contracts),
        facts=_facts(resources, orgs, inputs, on),
    )


@dataclass(frozen=True)
class _Contract:
    span: Span
    org: str
    team: str | None


def _contracts(resources: Sequence[Resource]) -> list[_Contract]:
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    out = []
    for episode in resources:
        if episode.get("resourceType") != "EpisodeOfCare" or CONTRACT_TYPE not in codes(episode.get("type")):
            continue
        period = episode.get("period") or {}
        start = parse_date(period.get("start"))
        end = parse_date(period.get("end")) or (date.max if episode.get("status") == "active" else None)
        org = _org_code(episode.get("managingOrganization"))
        if episode.get("status") not in _IN_FORCE or start is None or end is None or org is None:
            continue
        out.append(_Contract(Span(start, end), org, _team(episode, by_ref)))
    return out


def _team(episode: Resource, by_ref: Mapping[str, Resource]) -> str | None:
    """The team id on the CareTeam the episode's first team reference names (identifier system ``…:team``)."""
    teams = episode.get("team") or []
    care_team = by_ref.get((teams[0] or {}).get("reference", "")) if teams else None
    for identifier in (care_team or {}).get("identifier") or []:
        if str(identifier.get("system", "")).endswith(":team") and identifier.get("value"):
            return str(identifier["value"])
    return None


def _org_code(reference: Any) -> str | None:
    """The institution code of a Reference: its identifier's value, or the id of ``Organization/<code>``."""
    if not isinstance(reference, Mapping):
        return None
    value = (reference.get("identifier") or {}).get("value")
    if value:
        return str(value)
    kind, _, code = str(reference.get("reference") or "").partition("/")
    return code if kind == "Organization" and code else None


def _known(reference: Any, orgs: OrgTree) -> str | None:
    code = _org_code(reference)
    return code if code is not None and code in orgs else None


def _holder(resources: Sequence[Resource], orgs: OrgTree) -> str:
    """The institution holding an uncontracted resident's record (see the module doc for the order)."""
    for patient in resources:
        if patient.get("resourceType") == "Patient":
            code = _known(patient.get("managingOrganization"), orgs)
            if code is not None:
                return code
    visits = sorted(
        (r for r in resources if r.get("resourceType") == "Encounter" and _known(r.get("serviceProvider"), orgs)),
        key=lambda r: (when(r) or date.min, str(r.get("id"))),
    )
    if visits:
        return str(_known(visits[-1].get("serviceProvider"), orgs))
    return _county(orgs)


def _county(orgs: OrgTree) -> str:
    """The county health bureau (the registry's first), else the registry's first root."""
    return next((o.code for o in orgs if o.level == "health_bureau"), orgs.roots[0].code)


def _place(resource: Resource, orgs: OrgTree) -> str | None:
    """Where the service happened: Encounter.serviceProvider, else a performing organisation in the registry."""
    candidates = [resource.get("serviceProvider")]
    for performer in resource.get("performer") or []:
        candidates.append(performer.get("actor", performer) if isinstance(performer, Mapping) else None)
    return next((code for code in (_known(c, orgs) for c in candidates) if code is not None), None)


def _given(resource: Resource) -> bool:
    """A planned visit has not happened yet (the matchers already drop cancelled and entered-in-error)."""
    return resource.get("status") != "planned"


def _facts(resources: Sequence[Resource], orgs: OrgTree, inputs: RecordInputs, on: date) -> tuple[ServiceFact, ...]:
    found: dict[tuple[str, date, str | None, str | None], ServiceFact] = {}
    for kind, matchers in inputs.facts.items():
        for hit in hits_any(matchers, resources, on):
            if _given(hit.resource):
                org = _place(hit.resource, orgs)
                found.setdefault((kind, hit.on, org, None), ServiceFact(kind, hit.on, org))
    measures = inputs.task_rules.measures
    for programme in inputs.follow_ups:
        verdicts = {j.on: j.controlled for j in judgements(programme.control, measures, resources, on)}
        for hit in hits_any(programme.visits, resources, on):
            if _given(hit.resource):
                org = _place(hit.resource, orgs)
                fact = ServiceFact("follow_up", hit.on, org, programme.condition, verdicts.get(hit.on))
                found.setdefault(("follow_up", hit.on, org, programme.condition), fact)
    return tuple(sorted(found.values(), key=lambda f: (f.on, f.kind, f.condition or "", f.org or "")))
