"""Family-doctor contracts (家庭医生签约): the canonical record, its status events, vendor codes and the PHS XML."""

from .codes import CodeError, VendorCodes, VendorStatus, vendor_codes
from .events import Change, Outcome, Result, apply, contract_end, contracted, diff, kind_of, renewal_is_due
from .model import (
    Contract,
    ContractEvent,
    Doctor,
    EventKind,
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
from .xml import ContractReader, ContractXmlError

__all__ = [
    "Change",
    "CodeError",
    "Contract",
    "ContractEvent",
    "ContractReader",
    "ContractXmlError",
    "Doctor",
    "EventKind",
    "LocalId",
    "Outcome",
    "Package",
    "PackageItem",
    "PackageKind",
    "Period",
    "Resident",
    "Result",
    "Status",
    "Team",
    "Termination",
    "TerminationReason",
    "VendorCodes",
    "VendorStatus",
    "apply",
    "contract_end",
    "contracted",
    "diff",
    "kind_of",
    "renewal_is_due",
    "vendor_codes",
]
