"""The canonical family-doctor contract (家庭医生签约): one record per contract cycle, whatever vendor sent it.

Follows the PROPOSAL in docs (domain-cn.md §2.5) with these choices:

- Identity is ``(source_system, contract_id)``, the id the sending system gave (Bsoft ``SCID``, Yihu ``code``):
  the domain has no randomness, so an engine-wide uuid, if wanted, is the store's to mint.
- A renewal is a new contract whose ``previous_contract_id`` names the old one (the PROPOSAL), but vendors that
  renew in place (Bsoft ``signFlag`` 3) are accepted too: see events.py.
- ``renewal_due`` is a date (from when the contract counts as 待续约), not the PROPOSAL's derived bool: a bool
  needs "today", and the domain reads no clock. ``renewal_is_due(contract, on)`` gives the bool.
- Package items count services per year (``times_per_year``); cycles are one year in practice (§2.1), and a
  multi-year cycle multiplies, rather than the PROPOSAL's per-cycle count that changes meaning with the cycle.
- Payment, channel, team members, sex/birth date and audit fields are left out: nothing downstream of the
  contract loop needs them yet, and the MPI holds the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

__all__ = [
    "Contract",
    "ContractEvent",
    "Doctor",
    "EventKind",
    "LocalId",
    "Package",
    "PackageItem",
    "PackageKind",
    "Period",
    "Resident",
    "Status",
    "Team",
    "Termination",
    "TerminationReason",
]


class Status(StrEnum):
    PENDING = "PENDING"  # applied for or awaiting review/payment; not yet in force (待签约, 待审核, 待支付)
    ACTIVE = "ACTIVE"  # in force (已签约, 有效期内, 生效中); also 待续约 and "cancellation requested"
    TERMINATED = "TERMINATED"  # ended early after taking effect (解约); final
    EXPIRED = "EXPIRED"  # ran to the end of its period without renewal (已到期)
    CANCELLED = "CANCELLED"  # withdrawn, refused or voided, treated as never in force (已取消, 已拒绝, 已驳回); final


class EventKind(StrEnum):
    SIGNED = "SIGNED"
    RENEWED = "RENEWED"
    UPDATED = "UPDATED"
    TERMINATED = "TERMINATED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class PackageKind(StrEnum):
    BASIC = "BASIC"  # 基础性签约服务
    PERSONALIZED = "PERSONALIZED"  # 个性化签约服务


class TerminationReason(StrEnum):
    """Why a contract ended early; the PROPOSAL's list, which covers Bsoft ``stopReason`` 01-06 and 99."""

    MOVED_OUT = "MOVED_OUT"  # 迁出
    DECEASED = "DECEASED"  # 死亡
    LOST_CONTACT = "LOST_CONTACT"  # 失访 / 连续一年无法取得联系
    REFUSED = "REFUSED"  # 本人拒绝 / 连续一年拒绝服务
    VOLUNTARY = "VOLUNTARY"  # 主动解约
    RESIGNED = "RESIGNED"  # 重签 (signed again, e.g. with another team)
    PAYMENT_VOID = "PAYMENT_VOID"  # 发票作废
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class LocalId:
    """A number the resident has in one system (HIS patient id, 健康档案编号, EMPI id)."""

    system: str
    value: str


@dataclass(frozen=True, slots=True)
class Resident:
    """Enough to find the person through the MPI: the GB 11643 number is the key, the rest re-links locally."""

    resident_id: str
    name: str
    local_ids: tuple[LocalId, ...] = ()


@dataclass(frozen=True, slots=True)
class Doctor:
    doctor_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    name: str


@dataclass(frozen=True, slots=True)
class PackageItem:
    code: str
    name: str
    times_per_year: int  # SERVICETIMES / kpi_times / frequency; what fulfilment is counted against


@dataclass(frozen=True, slots=True)
class Package:
    code: str
    name: str
    kind: PackageKind = PackageKind.BASIC
    items: tuple[PackageItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Period:
    """When the contract is in force; both ends inclusive (contracts run 1 January to 31 December)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a contract period cannot end before it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Termination:
    """``on`` is the first day the resident is no longer contracted (Bsoft ``stopDate``)."""

    on: date
    reason: TerminationReason


@dataclass(frozen=True, slots=True)
class Contract:
    contract_id: str
    version: int  # the sender's; rises with every change, and is what makes events idempotent
    source_system: str
    status: Status
    resident: Resident
    organisation_code: str
    team: Team
    doctor: Doctor  # the responsible (signing) family doctor
    period: Period
    packages: tuple[Package, ...] = ()
    signed_on: date | None = None
    renewal_due: date | None = None
    termination: Termination | None = None
    labels: tuple[str, ...] = ()  # key-population codes as the sender coded them (§2.3); not yet canonical
    previous_contract_id: str | None = None  # the contract this one renews
    termination_requested: bool = False  # still in force, but resident or doctor asked to end it (Yihu 2, 3)

    def __post_init__(self) -> None:
        if self.version < 0:
            raise ValueError("a contract version cannot be negative")
        if (self.termination is not None) != (self.status is Status.TERMINATED):
            raise ValueError("a contract has a termination exactly when its status is TERMINATED")


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """A status event as pushed between systems: the whole contract after the change, so any one event is enough."""

    contract_id: str
    kind: EventKind
    version: int
    occurred_at: datetime
    contract: Contract

    @property
    def idempotency_key(self) -> tuple[str, str, int]:
        return (self.contract.source_system, self.contract_id, self.version)
