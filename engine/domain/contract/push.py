"""What the engine pushes on every contract status change: pure builders, no I/O, no clock.

- ``his_a31``: an HL7 v2.4 ADT^A31 for the HIS (docs/contract-his.md describes it segment by segment). A HIS
  needs the denormalised pair "contracted yes/no" and "contract end date" on its patient master (domain-cn.md
  §2.5), the family doctor and team, and the packages with the services left; PD1-4 and ROL carry the people in
  standard fields any HIS reads, the ``ZFD`` Z-segment carries the rest.
- ``emr_resources``: the same change as FHIR R4 resources for the EMR, shaped for the fhir destination's
  conditional PUTs (``engine/domain/formats/fhir/transaction.py``): each resource's first identifier is its key.

Every message is a full snapshot of the contract, never a delta, so a receiver can apply any one of them alone and
a resend changes nothing.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from engine.domain.formats.fhir.transaction import conditional_url, transaction_bundle
from engine.domain.formats.hl7v2 import escape
from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM, Resource

from .events import contract_end, contracted
from .model import Contract, LocalId, Status

__all__ = [
    "CARE_TEAM_ROLE_SYSTEM",
    "EPISODE_TYPE_SYSTEM",
    "FAMILY_DOCTOR_ROLE",
    "ORDER_TAG_SYSTEM",
    "TEAM_ROLE",
    "emr_resources",
    "emr_transaction",
    "episode_status",
    "his_a31",
    "identifier_system",
]

# HL7 table 0443 (provider role) as of v2.4: AD AT CP FHCP PP RP RT. The signing doctor is the resident's primary
# care provider (PP), the same person PD1-4 names; the team serves the resident's household as a whole, which is
# what "family health care professional" (FHCP) describes. Neither is a referral or a visit role.
FAMILY_DOCTOR_ROLE = ("PP", "Primary Care Provider")
TEAM_ROLE = ("FHCP", "Family Health Care Professional")

# Our code systems (no national code for "family-doctor contract" as an episode type was found).
EPISODE_TYPE_SYSTEM = "urn:huitong:codesystem:episode-type"
CARE_TEAM_ROLE_SYSTEM = "urn:huitong:codesystem:care-team-role"
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

# MSH-18 values (HL7 table 0211) for the codecs we send in; GB 18030 is what Chinese HIS systems expect by default.
_MSH18 = {"gb18030": "GB 18030-2000", "utf-8": "UNICODE UTF-8"}
_RESIDENT_OID = RESIDENT_ID_SYSTEM.removeprefix("urn:oid:")

_EPISODE_STATUS = {
    Status.PENDING: "planned",
    Status.ACTIVE: "active",
    Status.TERMINATED: "finished",
    Status.EXPIRED: "finished",
    Status.CANCELLED: "cancelled",
}
_CARE_TEAM_STATUS = {
    Status.PENDING: "proposed",
    Status.ACTIVE: "active",
    Status.TERMINATED: "inactive",
    Status.EXPIRED: "inactive",
    Status.CANCELLED: "inactive",  # withdrawn, not a data error: entered-in-error would say the record was wrong
}


# ---------------------------------------------------------------------------------------------------------- HL7 v2


def _dt(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day is not None else ""


def _ts(moment: datetime) -> str:
    """HL7 TS: to the second, with the UTC offset when the time carries one (China is +0800)."""
    return moment.strftime("%Y%m%d%H%M%S%z")


def _comp(*values: str) -> str:
    """One field of components, each escaped; trailing empty components dropped (HL7 says they may be)."""
    parts = [escape(v) for v in values]
    while parts and not parts[-1]:
        parts.pop()
    return "^".join(parts)


def _seg(name: str, *fields: str) -> str:
    """A segment from already-escaped fields; trailing empty fields dropped."""
    kept = list(fields)
    while kept and not kept[-1]:
        kept.pop()
    return "|".join((name, *kept))


def _xcn(contract: Contract, person_id: str, name: str, id_type: str) -> str:
    """XCN with the whole Chinese name in the family-name component (Chinese HIS practice; no given-name split).

    XCN-9 (assigning authority) is the system that issued the id, XCN-14 (assigning facility) the signing
    organisation: the doctor's or team's employer as far as the contract knows.
    """
    parts = [person_id, name, *[""] * 6, contract.source_system, *[""] * 3, id_type, contract.organisation_code]
    return _comp(*parts)


def _pid3(contract: Contract, patient_ids: Sequence[LocalId]) -> str:
    """The resident ID (type NNCHN, authority the GB 11643 OID), then the receiving HIS's own numbers (type MR)."""
    resident = f"{escape(contract.resident.resident_id)}^^^&{_RESIDENT_OID}&ISO^NNCHN"
    local = [_comp(i.value, "", "", i.system, MRN_TYPE) for i in patient_ids]
    return "~".join([resident, *local])


def _rol(contract: Contract, suffix: str, role: tuple[str, str], person: str) -> str:
    """ROL-2 is always UP: every A31 is the whole contract, so the receiver replaces what it holds."""
    end = contract_end(contract) or contract.period.end
    return _seg(
        "ROL",
        _comp(f"{contract.contract_id}-{suffix}", contract.source_system),
        "UP",
        _comp(role[0], role[1], "HL70443"),
        person,
        _dt(contract.period.start),
        _dt(end),
    )


def _zfd(contract: Contract, on: date, remaining: Mapping[str, int] | None) -> str:
    """The ZFD segment; its field table is in docs/contract-his.md and must change with it."""
    counts = remaining or {}
    for code, left in counts.items():
        if left < 0:
            raise ValueError(f"remaining count for item {code!r} cannot be negative")
    packages = "~".join(_comp(p.code, p.name) for p in contract.packages)
    items = "~".join(
        _comp(
            item.code,
            item.name,
            str(counts[item.code]) if item.code in counts else "",
            str(item.times_per_year),
            package.code,
        )
        for package in contract.packages
        for item in package.items
    )
    termination = contract.termination
    return _seg(
        "ZFD",
        _comp(contract.contract_id, contract.source_system),
        str(contract.version),
        contract.status.value,
        "Y" if contracted(contract, on) else "N",
        _dt(on),
        _dt(contract.period.start),
        _dt(contract.period.end),
        _dt(contract_end(contract)),
        escape(contract.organisation_code),
        packages,
        items,
        _dt(termination.on if termination else None),
        termination.reason.value if termination else "",
        _dt(contract.renewal_due),
    )


def his_a31(
    contract: Contract,
    *,
    patient_ids: Sequence[LocalId] = (),
    control_id: str,
    timestamp: datetime,
    sending_app: str,
    sending_facility: str,
    receiving_app: str,
    receiving_facility: str,
    on: date,
    remaining: Mapping[str, int] | None = None,
    charset: str = "gb18030",
    processing_id: str = "P",
) -> bytes:
    """The ADT^A31 (update person information) for one contract snapshot, encoded in ``charset``.

    ``patient_ids`` are the resident's numbers in the receiving HIS (its MRN, from the MPI), sent as PID-3
    repetitions so the HIS finds its patient without matching on the resident ID. ``on`` is the day the
    contracted flag (ZFD-4) is for; ``remaining`` maps item codes to services left in the cycle (unknown when
    absent). Counts for items the contract no longer carries are left out: the package changed.
    """
    codec = codecs.lookup(charset).name
    if codec not in _MSH18:
        raise ValueError(f"charset {charset!r} is not one the HIS push sends in (gb18030, utf-8)")
    resident = contract.resident
    doctor = _xcn(contract, contract.doctor.doctor_id, contract.doctor.name, "PRN")  # 0203 PRN: provider number
    segments = [
        _seg(
            "MSH",
            "^~\\&",
            escape(sending_app),
            escape(sending_facility),
            escape(receiving_app),
            escape(receiving_facility),
            _ts(timestamp),
            "",
            "ADT^A31^ADT_A05",
            escape(control_id),
            escape(processing_id),
            "2.4",
            "",
            "",
            "",
            "",
            "CHN",
            _MSH18[codec],
        ),
        _seg("EVN", "A31", _ts(timestamp)),
        _seg("PID", "1", "", _pid3(contract, patient_ids), "", _comp(resident.name, *[""] * 5, "L")),
        _seg("PD1", "", "", "", doctor),
        _rol(contract, "PP", FAMILY_DOCTOR_ROLE, doctor),
        _rol(contract, "TEAM", TEAM_ROLE, _xcn(contract, contract.team.team_id, contract.team.name, "")),
        _seg("PV1", "1", "N"),  # ADT_A05 requires PV1; N (not applicable): a person update, not a visit
        _zfd(contract, on, remaining),
    ]
    return ("\r".join(segments) + "\r").encode(codec)


# ------------------------------------------------------------------------------------------------------- FHIR R4


def identifier_system(contract: Contract, kind: str) -> str:
    """Identifier systems for what the sending system numbered, as the hl7v2 mappings name them."""
    return f"urn:huitong:id:{contract.source_system}:{kind}"


def episode_status(status: Status) -> str:
    return _EPISODE_STATUS[status]


def _ref(resource_type: str, system: str, value: str, display: str = "") -> dict[str, Any]:
    """A logical reference by identifier: the EMR resolves it against its own Practitioner, Patient or Organization,
    which this push does not create (Practitioner and Organization are master data; the Patient is the EMR's)."""
    out: dict[str, Any] = {"type": resource_type, "identifier": {"system": system, "value": value}}
    if display:
        out["display"] = display
    return out


def emr_resources(contract: Contract) -> list[dict[str, Any]]:
    """EpisodeOfCare, CareTeam and, for a contract in force, the Patient's generalPractitioner.

    The first two are whole resources for conditional PUT on their first identifier; the EpisodeOfCare points at
    the CareTeam by its local id (``CareTeam/<id>``), which the transaction rewrites to the entry's full URL.

    The Patient is a *patch*, not a resource to PUT: it carries only the resident ID and ``generalPractitioner``.
    A conditional PUT of it would wipe everything else the EMR holds on the patient, so it must be sent as a
    PATCH (see docs/contract-his.md). It is left out unless the contract is ACTIVE: a contract that is not (yet,
    or any more) in force names no one's GP, and removing this doctor as GP is a conditional patch of its own.
    """
    doctor = contract.doctor
    resident = contract.resident
    patient = _ref("Patient", RESIDENT_ID_SYSTEM, resident.resident_id, resident.name)
    practitioner = _ref("Practitioner", identifier_system(contract, "doctor"), doctor.doctor_id, doctor.name)
    organisation = _ref("Organization", identifier_system(contract, "org"), contract.organisation_code)
    end = contract_end(contract) or contract.period.end
    period = {"start": contract.period.start.isoformat(), "end": end.isoformat()}
    team_id = f"contract-team-{contract.contract_id}"
    care_team: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": team_id,
        "identifier": [
            # one CareTeam per contract: a team-wide resource would be overwritten by each contract's doctor
            {"system": identifier_system(contract, "contract-care-team"), "value": contract.contract_id},
            {"system": identifier_system(contract, "team"), "value": contract.team.team_id},
        ],
        "status": _CARE_TEAM_STATUS[contract.status],
        "name": contract.team.name,
        "subject": patient,
        "period": period,
        "participant": [
            {
                "role": [
                    {"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": "family-doctor", "display": "签约家庭医生"}]}
                ],
                "member": practitioner,
                "onBehalfOf": organisation,
                "period": period,
            }
        ],
        "managingOrganization": [organisation],
    }
    episode: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": f"contract-{contract.contract_id}",
        "identifier": [{"system": identifier_system(contract, "contract"), "value": contract.contract_id}],
        "status": episode_status(contract.status),
        "type": [
            {"coding": [{"system": EPISODE_TYPE_SYSTEM, "code": "family-doctor-contract", "display": "家庭医生签约"}]}
        ],
        "patient": patient,
        "managingOrganization": organisation,
        "period": period,
        "careManager": practitioner,
        "team": [{"reference": f"CareTeam/{team_id}", "display": contract.team.name}],
    }
    resources = [episode, care_team]
    if contract.status is Status.ACTIVE:
        resources.append(
            {
                "resourceType": "Patient",
                "identifier": [
                    {
                        "type": {"coding": [{"system": _V2_0203, "code": "NNCHN"}]},
                        "system": RESIDENT_ID_SYSTEM,
                        "value": resident.resident_id,
                    }
                ],
                "generalPractitioner": [practitioner],
            }
        )
    return resources


ORDER_TAG_SYSTEM = "urn:huitong:order-key"  # Bundle.meta.tag: the outbox's per-person order key (process.person_key)


def _gp_patch(contract: Contract, practitioner: dict[str, Any] | None) -> dict[str, Any]:
    """FHIRPath Patch: drop the GP list, then add this doctor; only the drop when the contract is not in force.

    Deleting an absent element is no error in FHIRPath Patch, so the pair works on any Patient.
    """
    operations: list[dict[str, Any]] = [
        {
            "name": "operation",
            "part": [
                {"name": "type", "valueCode": "delete"},
                {"name": "path", "valueString": "Patient.generalPractitioner"},
            ],
        }
    ]
    if practitioner is not None:
        operations.append(
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "Patient"},
                    {"name": "name", "valueString": "generalPractitioner"},
                    {"name": "value", "valueReference": practitioner},
                ],
            }
        )
    return {"resourceType": "Parameters", "parameter": operations}


def emr_transaction(contract: Contract, order_key: str, patient: tuple[str, str] | None = None) -> dict[str, Any]:
    """The EMR push as one FHIR transaction: conditional PUTs of the EpisodeOfCare and CareTeam, then a conditional
    PATCH of the Patient's generalPractitioner (a PUT would wipe what the EMR holds on the patient).

    ``patient``: the EMR's own number for the resident (identifier system, value), which the patch is addressed
    to; without it, the resident ID, which an EMR does not always hold.
    """
    episode, team, *gp = emr_resources(contract)
    bundle = transaction_bundle(
        [Resource("contract", "", episode), Resource("contract", "", team)],
        source_system=contract.source_system,
        message_id=contract.version,
    )
    system, value = patient or (RESIDENT_ID_SYSTEM, contract.resident.resident_id)
    resident = {"system": system, "value": value}
    practitioner = episode["careManager"] if gp else None
    bundle["entry"].append(
        {
            "resource": _gp_patch(contract, practitioner),
            "request": {"method": "PATCH", "url": conditional_url("Patient", resident)},
        }
    )
    bundle["meta"] = {"tag": [{"system": ORDER_TAG_SYSTEM, "code": order_key}]}
    return bundle
