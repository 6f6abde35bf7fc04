"""Vendor contract status codes -> the canonical Status, through the code tables in mappings/tables/.

One table per vendor code set, named ``contract-status-{vendor}`` (and ``contract-termination-{vendor}`` for
termination reasons). A target is a Status name, optionally ``+hint`` for what the status alone cannot say:
``renewal_due`` (BOCO 2 待续约), ``termination_requested`` (Yihu 2, 3) and ``renewed`` (Bsoft 3 续约). The
tables are loaded by the caller (config layer, tests): this module only reads values it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from engine.domain.mapping.tables import CodeTable

from .model import Status, TerminationReason

__all__ = [
    "STATUS_PREFIX",
    "TERMINATION_PREFIX",
    "CodeError",
    "Hint",
    "VendorCodes",
    "VendorStatus",
    "vendor_codes",
]

STATUS_PREFIX = "contract-status-"
TERMINATION_PREFIX = "contract-termination-"


class CodeError(ValueError):
    """A vendor or code no table knows; names both (codes are not personal data)."""


class Hint(StrEnum):
    RENEWAL_DUE = "renewal_due"
    TERMINATION_REQUESTED = "termination_requested"
    RENEWED = "renewed"


@dataclass(frozen=True, slots=True)
class VendorStatus:
    status: Status
    hint: Hint | None = None


def _target(table: CodeTable, code: str, target: str) -> VendorStatus:
    name, _, hint = target.partition("+")
    try:
        return VendorStatus(Status(name), Hint(hint) if hint else None)
    except ValueError:
        raise CodeError(f"table {table.name}: code {code!r} maps to {target!r}, not STATUS[+hint]") from None


@dataclass(frozen=True)
class VendorCodes:
    """The status and termination tables of every vendor, keyed by vendor name."""

    status: Mapping[str, CodeTable]
    termination: Mapping[str, CodeTable]

    def vendors(self) -> tuple[str, ...]:
        return tuple(sorted(self.status))

    def status_of(self, vendor: str, code: str) -> VendorStatus:
        """The canonical status a vendor's code means; CodeError for an unknown vendor or code."""
        table = self.status.get(vendor)
        if table is None:
            raise CodeError(f"no status code table for vendor {vendor!r}; known: {', '.join(self.vendors())}")
        found = table.lookup(code)
        if found is None:
            raise CodeError(f"status code {code!r} is not in table {table.name}")
        return _target(table, code, found.code)

    def termination_reason(self, vendor: str | None, code: str) -> TerminationReason:
        """A canonical reason name as is, else the vendor's code through its termination table."""
        if code in TerminationReason.__members__:
            return TerminationReason(code)
        table = self.termination.get(vendor or "")
        found = table.lookup(code) if table is not None else None
        if table is None or found is None:
            raise CodeError(f"termination reason {code!r} is neither canonical nor in a table for vendor {vendor!r}")
        if found.code not in TerminationReason.__members__:
            raise CodeError(f"table {table.name}: code {code!r} maps to unknown reason {found.code!r}")
        return TerminationReason(found.code)

    def check(self) -> list[str]:
        """Every target that is not a canonical status or reason, so a bad table fails at load, not mid-stream."""
        problems: list[str] = []
        for table in self.status.values():
            for code, target in table.codes.items():
                try:
                    _target(table, code, target.code)
                except CodeError as exc:
                    problems.append(str(exc))
        for table in self.termination.values():
            problems += [
                f"table {table.name}: code {code!r} maps to unknown reason {target.code!r}"
                for code, target in table.codes.items()
                if target.code not in TerminationReason.__members__
            ]
        return problems


def vendor_codes(tables: Mapping[str, CodeTable]) -> VendorCodes:
    """The contract tables among all code tables, by vendor (the name after the prefix)."""
    return VendorCodes(
        status={n.removeprefix(STATUS_PREFIX): t for n, t in tables.items() if n.startswith(STATUS_PREFIX)},
        termination={
            n.removeprefix(TERMINATION_PREFIX): t for n, t in tables.items() if n.startswith(TERMINATION_PREFIX)
        },
    )
