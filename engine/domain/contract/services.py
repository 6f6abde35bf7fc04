"""Data return (数据回流): hospital services of a contracted resident, as service records for public health.

A HIS message adds resources to the unified record; those of a resident with a contract in force become service
records matched to the contract's package items, so care given in hospital counts toward fulfilment (履约).
Rules are data (mappings/contract/service-items.yaml); criteria use the care matchers, so a rule that closes a
care task and one that fulfils a contract item read the record the same way. docs/contract-services.md has the
whole story.

What one service is, within the resources of one message:

- a resource that a ``service_types`` rule takes is a service of that type (the first rule wins);
- a visit's parts are the Conditions, Observations and Procedures recorded at it (``encounter``): its diagnoses
  and readings are what happened at the visit, not services of their own, and count only when the visit does;
- a report's parts are its ``result`` Observations;
- a report, prescription or vaccination is a service of its own, and the visit it names is only where it was
  ordered: HIS messages that carry results or orders (ORU, RDE, VXU) repeat the visit's PV1 for context, while
  the visit itself was reported when it happened (ADT).

Each service gives one record per contract item it fulfils, or one record without an item. Record ids are UUID5
of (contract, resource reference, item), so the same message sent again gives the same records.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from lxml import etree

from engine.domain.care.fhir import Resource, ref
from engine.domain.care.match import Matcher, compile_matcher, hits_any

from .events import contracted
from .model import Contract

__all__ = [
    "SERVICE_TYPES",
    "ItemRule",
    "ServiceRecord",
    "ServiceRules",
    "TypeRule",
    "compile_service_rules",
    "service_records",
    "service_xml",
]

SERVICE_TYPES = (
    "outpatient-visit",
    "emergency-visit",
    "inpatient-admission",
    "lab-result",
    "prescription",
    "follow-up",
    "health-check",
    "vaccination",
)
_NAMESPACE = uuid.UUID("0b6f3c52-8d1e-4f7a-b2c9-5e4d7a9c1f36")  # Huitong contract service records; never change it
_VISIT_PARTS = frozenset({"Condition", "Observation", "Procedure"})
# Statuses that say the service has not been given yet (a planned visit, a draft prescription, a test with no
# result); cancelled and entered-in-error records the matchers already leave out.
_NOT_YET = frozenset({"planned", "draft", "registered"})
_RESIDENT_ID_TYPE = "01"  # CV02.01.101 居民身份证: contracts are keyed on the GB 11643 number
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # as the contract samples write it
_ITEM_KEYS = frozenset({"code", "name", "services", "any_of", "source"})
_TYPE_KEYS = frozenset({"type", "match"})


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One service delivered to a contracted resident, as it goes back to the contract's public-health system."""

    record_id: str
    contract_id: str
    contract_source_system: str
    resident_id: str
    resident_name: str
    service_type: str
    service_date: date
    organisation: str | None  # where it was given: the visit's serviceProvider, else the recording system
    item_code: str | None  # the contract package item it fulfils
    evidence: tuple[str, ...]  # "Type/id" in the unified record: the service, then its parts
    source_system: str | None  # the system that recorded it (meta.source), e.g. the HIS
    task_ids: tuple[str, ...] = ()  # the care tasks (engine/domain/care/tasks.py ids) this service closed


def with_tasks(records: Sequence[ServiceRecord], closed: Mapping[str, Sequence[str]]) -> list[ServiceRecord]:
    """The records, each naming the care tasks its evidence closed (``closed``: resource reference -> task ids)."""
    out = []
    for record in records:
        ids = tuple(dict.fromkeys(t for ref in record.evidence for t in closed.get(ref, ())))
        out.append(replace(record, task_ids=ids) if ids else record)
    return out


@dataclass(frozen=True)
class TypeRule:
    type: str
    matcher: Matcher


@dataclass(frozen=True)
class ItemRule:
    code: str
    name: str
    services: frozenset[str]  # empty: a service of any type
    matchers: tuple[Matcher, ...]
    source: str


@dataclass(frozen=True)
class ServiceRules:
    types: tuple[TypeRule, ...]
    items: tuple[ItemRule, ...]

    def item(self, code: str) -> ItemRule | None:
        return next((rule for rule in self.items if rule.code == code), None)


def compile_service_rules(data: Mapping[str, Any]) -> ServiceRules:
    """Rules from parsed service-items.yaml; ValueError naming the rule and key for anything unknown or missing."""
    types = tuple(_type_rule(i, spec) for i, spec in enumerate(_list(data, "service_types")))
    items: list[ItemRule] = []
    for i, spec in enumerate(_list(data, "items")):
        rule = _item_rule(i, spec)
        if any(r.code == rule.code for r in items):
            raise ValueError(f"service item {rule.code}: listed twice")
        items.append(rule)
    return ServiceRules(types, tuple(items))


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"service rules: '{key}' must be a non-empty list")
    return value


def _check_keys(where: str, spec: Any, known: frozenset[str], required: tuple[str, ...]) -> None:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; known {sorted(known)}")
    for key in required:
        if not spec.get(key):
            raise ValueError(f"{where}: '{key}' is required")


def _services(where: str, names: Any) -> frozenset[str]:
    if not isinstance(names, list):
        raise ValueError(f"{where}: must be a list of service types")
    for name in names:
        if name not in SERVICE_TYPES:
            raise ValueError(f"{where}: unknown service type {name!r}; known {list(SERVICE_TYPES)}")
    return frozenset(names)


def _matcher(where: str, spec: Any) -> Matcher:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: must be a matcher mapping")
    try:
        return compile_matcher(spec)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _type_rule(index: int, spec: Any) -> TypeRule:
    where = f"service_types[{index}]"
    _check_keys(where, spec, _TYPE_KEYS, ("type", "match"))
    (kind,) = _services(f"{where}.type", [spec["type"]])
    return TypeRule(kind, _matcher(f"{where}.match", spec["match"]))


def _item_rule(index: int, spec: Any) -> ItemRule:
    code = spec.get("code") if isinstance(spec, Mapping) else None
    where = f"service item {code}" if code else f"items[{index}]"
    _check_keys(where, spec, _ITEM_KEYS, ("code", "name", "any_of", "source"))
    if not isinstance(spec["any_of"], list):
        raise ValueError(f"{where}: 'any_of' must be a list of matchers")
    return ItemRule(
        code=str(code),
        name=str(spec["name"]),
        services=_services(f"{where}: services", spec.get("services", [])),
        matchers=tuple(_matcher(f"{where}: any_of[{i}]", m) for i, m in enumerate(spec["any_of"])),
        source=str(spec["source"]),
    )


@dataclass(frozen=True)
class _Service:
    type: str
    resource: Resource
    on: date
    parts: tuple[Resource, ...]


def service_records(contract: Contract, resources: Sequence[Resource], rules: ServiceRules) -> list[ServiceRecord]:
    """The services in ``resources`` (what one message added for the contract's resident) given on days the
    resident was contracted, each with the contract items it fulfils; ordered by date, then reference."""
    records = []
    by_code = {code: rules.item(code) for code in _item_codes(contract)}
    for service in _services_of(resources, rules):
        if not contracted(contract, service.on):
            continue
        group = [service.resource, *service.parts]
        fulfilled: list[str | None] = [
            code
            for code, rule in by_code.items()
            if rule is not None
            and (not rule.services or service.type in rule.services)
            and hits_any(rule.matchers, group, date.max)
        ]
        for code in fulfilled or [None]:
            records.append(_record(contract, service, code, resources))
    return sorted(records, key=lambda r: (r.service_date, r.evidence[0], r.item_code or ""))


def _item_codes(contract: Contract) -> list[str]:
    """The contract's item codes, once each, in package order."""
    return list(dict.fromkeys(item.code for package in contract.packages for item in package.items))


def _services_of(resources: Sequence[Resource], rules: ServiceRules) -> list[_Service]:
    given = [r for r in resources if r.get("id") and r.get("status") not in _NOT_YET]
    typed: dict[str, tuple[str, Resource, date]] = {}
    for rule in rules.types:
        for hit in rule.matcher.hits(given, date.max):
            typed.setdefault(hit.ref, (rule.type, hit.resource, hit.on))

    parts: dict[str, list[Resource]] = {}
    taken: set[str] = set()  # refs that are part of another service
    for _, resource, _ in typed.values():
        if resource.get("resourceType") == "DiagnosticReport":
            results = {r.get("reference") for r in resource.get("result") or []}
            found = [r for r in given if ref(r) in results]
            parts[ref(resource)] = found
            taken.update(ref(r) for r in found)
    # A visit named by a report, prescription or vaccination in the same message is only its context.
    context = {
        _encounter_ref(resource)
        for _, resource, _ in typed.values()
        if resource.get("resourceType") not in _VISIT_PARTS | {"Encounter"}
    }
    # What was recorded at a visit of the message goes with the visit, even one that is no service (planned).
    visits = {ref(r) for r in resources if r.get("resourceType") == "Encounter"} - context
    for resource in given:
        visit = _encounter_ref(resource)
        if resource.get("resourceType") in _VISIT_PARTS and ref(resource) not in taken and visit in visits:
            parts.setdefault(str(visit), []).append(resource)
            taken.add(ref(resource))

    return [
        _Service(kind, resource, on, tuple(sorted(parts.get(key, []), key=ref)))
        for key, (kind, resource, on) in typed.items()
        if key not in taken and key not in context
    ]


def _encounter_ref(resource: Resource) -> str | None:
    reference = (resource.get("encounter") or {}).get("reference")
    return str(reference) if reference else None


def _record(contract: Contract, service: _Service, code: str | None, resources: Sequence[Resource]) -> ServiceRecord:
    anchor = ref(service.resource)
    key = f"{contract.source_system}|{contract.contract_id}|{anchor}|{code or ''}"
    return ServiceRecord(
        record_id=str(uuid.uuid5(_NAMESPACE, key)),
        contract_id=contract.contract_id,
        contract_source_system=contract.source_system,
        resident_id=contract.resident.resident_id,
        resident_name=contract.resident.name,
        service_type=service.type,
        service_date=service.on,
        organisation=_organisation(service.resource, resources),
        item_code=code,
        evidence=(anchor, *(ref(p) for p in service.parts)),
        source_system=_source(service.resource),
    )


def _source(resource: Resource) -> str | None:
    source = (resource.get("meta") or {}).get("source")
    return str(source) if source else None


def _organisation(resource: Resource, resources: Sequence[Resource]) -> str | None:
    """The visit's serviceProvider identifier (the resource's own visit, if it is not one), else the recorder."""
    visit: Resource | None = resource
    if resource.get("resourceType") != "Encounter":
        target = _encounter_ref(resource)
        visit = next((r for r in resources if r.get("resourceType") == "Encounter" and ref(r) == target), None)
    provider = ((visit or {}).get("serviceProvider") or {}).get("identifier") or {}
    value = provider.get("value")
    return str(value) if value else _source(resource)


def service_xml(records: Sequence[ServiceRecord]) -> bytes:
    """A ``<ServiceRecords>`` document (mappings/contract/service-record.xsd), UTF-8; at least one record."""
    if not records:
        raise ValueError("a service-record document holds at least one record")
    root = etree.Element("ServiceRecords")
    for record in records:
        element = etree.SubElement(root, "ServiceRecord")
        _text(element, "RecordId", record.record_id)
        _text(element, "ContractId", record.contract_id)
        _text(element, "SourceSystem", record.contract_source_system)
        resident = etree.SubElement(element, "Resident")
        _text(resident, "IdTypeCode", _RESIDENT_ID_TYPE)
        _text(resident, "IdNumber", record.resident_id)
        _text(resident, "Name", record.resident_name)
        _text(element, "ServiceType", record.service_type)
        _text(element, "ServiceDate", record.service_date.strftime("%Y%m%d"))
        _text(element, "ItemCode", record.item_code)
        for task in record.task_ids:
            _text(element, "TaskId", task)
        _text(element, "OrganizationCode", record.organisation)
        _text(element, "ServiceSystem", record.source_system)
        evidence = etree.SubElement(element, "Evidence")
        for reference in record.evidence:
            _text(evidence, "Reference", reference)
    return _DECLARATION + bytes(etree.tostring(root, encoding="UTF-8", pretty_print=True))


def _text(parent: etree._Element, tag: str, value: str | None) -> None:
    """A child element with ``value``; none at all when the value is absent (optional elements)."""
    if value is not None:
        etree.SubElement(parent, tag).text = value


def cycle_of(contract: Contract, on: date) -> tuple[date, date]:
    """The contract year ``on`` falls in (counts are per year: a two-year contract has two cycles); inclusive."""
    start = contract.period.start
    years = max(0, on.year - start.year - ((on.month, on.day) < (start.month, start.day)))
    first = _years_after(start, years)
    return first, min(_years_after(start, years + 1) - timedelta(days=1), contract.period.end)


def remaining(contract: Contract, records: Sequence[ServiceRecord], on: date) -> dict[str, int]:
    """Services left per package item in the cycle of ``on``: times per year less the services recorded for it
    (``records``: everything the resident's record shows, from any system), never below zero."""
    first, last = cycle_of(contract, on)
    done = Counter(r.item_code for r in records if r.item_code and first <= r.service_date <= last)
    return {
        item.code: max(0, item.times_per_year - done[item.code]) for p in contract.packages for item in p.items
    }


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
