"""A contract as JSON and back: what the store keeps of each contract, and the body of a ``json`` contract event.

Plain field names and ISO dates, so a gateway can read it without knowing the model; ``from_json`` is strict
(a key missing is a KeyError), because only this module writes what it reads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .model import (
    Contract,
    Doctor,
    LocalId,
    Package,
    PackageItem,
    PackageKind,
    Period,
    Resident,
    Status,
    Team,
    Termination,
    TerminationReason,
)

__all__ = ["from_json", "to_json"]


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def to_json(contract: Contract) -> dict[str, Any]:
    r = contract.resident
    return {
        "contract_id": contract.contract_id,
        "version": contract.version,
        "source_system": contract.source_system,
        "status": contract.status.value,
        "resident": {
            "resident_id": r.resident_id,
            "name": r.name,
            "local_ids": [{"system": i.system, "value": i.value} for i in r.local_ids],
        },
        "organisation": contract.organisation_code,
        "team": {"id": contract.team.team_id, "name": contract.team.name},
        "doctor": {"id": contract.doctor.doctor_id, "name": contract.doctor.name},
        "period": {"start": contract.period.start.isoformat(), "end": contract.period.end.isoformat()},
        "packages": [
            {
                "code": p.code,
                "name": p.name,
                "kind": p.kind.value,
                "items": [{"code": i.code, "name": i.name, "times_per_year": i.times_per_year} for i in p.items],
            }
            for p in contract.packages
        ],
        "signed_on": _day(contract.signed_on),
        "renewal_due": _day(contract.renewal_due),
        "termination": (
            {"on": contract.termination.on.isoformat(), "reason": contract.termination.reason.value}
            if contract.termination
            else None
        ),
        "labels": list(contract.labels),
        "previous_contract_id": contract.previous_contract_id,
        "termination_requested": contract.termination_requested,
    }


def from_json(data: dict[str, Any]) -> Contract:
    r = data["resident"]
    ended = data["termination"]
    return Contract(
        contract_id=data["contract_id"],
        version=data["version"],
        source_system=data["source_system"],
        status=Status(data["status"]),
        resident=Resident(r["resident_id"], r["name"], tuple(LocalId(i["system"], i["value"]) for i in r["local_ids"])),
        organisation_code=data["organisation"],
        team=Team(data["team"]["id"], data["team"]["name"]),
        doctor=Doctor(data["doctor"]["id"], data["doctor"]["name"]),
        period=Period(date.fromisoformat(data["period"]["start"]), date.fromisoformat(data["period"]["end"])),
        packages=tuple(
            Package(
                p["code"],
                p["name"],
                PackageKind(p["kind"]),
                tuple(PackageItem(i["code"], i["name"], i["times_per_year"]) for i in p["items"]),
            )
            for p in data["packages"]
        ),
        signed_on=_date(data["signed_on"]),
        renewal_due=_date(data["renewal_due"]),
        termination=(
            Termination(date.fromisoformat(ended["on"]), TerminationReason(ended["reason"])) if ended else None
        ),
        labels=tuple(data["labels"]),
        previous_contract_id=data["previous_contract_id"],
        termination_requested=data["termination_requested"],
    )
