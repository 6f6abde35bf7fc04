"""Family-doctor contract XML from a public-health system (mappings/contract/contract.xsd) -> Contracts.

Three gates, in this order, so hostile input never reaches the next: ``parse_xml`` refuses DOCTYPEs, entities,
oversized and malformed documents; the XSD checks shape; then each record is read, with the vendor's status
code going through its code table. Errors name the element and the record (its position and contract id),
never a personal value: lxml's schema messages quote the offending value, so anything quoted that is not an
element name is masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from engine.domain.formats.xml import XmlError, parse_xml
from engine.domain.mpi import resident_id

from .codes import CodeError, Hint, VendorCodes
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
)

__all__ = ["HEALTH_RECORD_SYSTEM", "ContractReader", "ContractXmlError"]

HEALTH_RECORD_SYSTEM = "health-record"  # LocalId.system of the 17-digit 健康档案编号
_RESIDENT_ID_TYPE = "01"  # CV02.01.101 居民身份证
_ONE = "FamilyDoctorContract"
_MANY = "FamilyDoctorContracts"


class ContractXmlError(ValueError):
    """Why a contract document was refused; names element and record, never a value from them."""

    def __init__(self, message: str, *, element: str | None = None, record: str | None = None) -> None:
        where = ", ".join(p for p in (record, element and f"element {element}") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.element = element
        self.record = record


_QUOTED = re.compile(r"'([^']*)'")
_SCHEMA_WORDS = frozenset({"pattern", "minLength", "maxLength", "enumeration", "length"})
_INDEX = re.compile(rf"/{_ONE}\[(\d+)\]")


@dataclass(frozen=True)
class ContractReader:
    schema: etree.XMLSchema
    codes: VendorCodes
    element_names: frozenset[str] = frozenset()

    @classmethod
    def build(cls, xsd: bytes, codes: VendorCodes) -> ContractReader:
        tree = parse_xml(xsd)
        names = frozenset(str(e.get("name")) for e in tree.iter("{http://www.w3.org/2001/XMLSchema}element"))
        names |= frozenset(str(e.get("name")) for e in tree.iter("{http://www.w3.org/2001/XMLSchema}attribute"))
        return cls(etree.XMLSchema(tree.getroottree()), codes, names)

    def read(self, data: bytes, *, vendor: str | None = None) -> tuple[Contract, ...]:
        """Every contract in ``data``; the status code set is the record's, else the list's, else ``vendor``."""
        try:
            root = parse_xml(data)
        except XmlError as exc:
            raise ContractXmlError(str(exc)) from None
        if root.tag not in (_ONE, _MANY):
            raise ContractXmlError(f"the root must be {_ONE} or {_MANY}", element=_safe_tag(root))
        if not self.schema.validate(root.getroottree()):
            raise self._schema_error(root)
        records = [root] if root.tag == _ONE else list(root)
        default = root.get("vendor") if root.tag == _MANY else None
        return tuple(
            _contract(r, i, self.codes, r.get("vendor") or default or vendor) for i, r in enumerate(records, 1)
        )

    def _safe(self, quoted: str) -> bool:
        """Element names, facets and built-in types may be repeated; anything else may be the sender's value."""
        return quoted in self.element_names or quoted in _SCHEMA_WORDS or re.fullmatch(r"xs:\w+", quoted) is not None

    def _schema_error(self, root: etree._Element) -> ContractXmlError:
        error = self.schema.error_log[0]
        path = error.path or ""
        element = path.rsplit("/", 1)[-1].split("[", 1)[0] or None
        found = _INDEX.search(path)
        index = int(found.group(1)) if found else 1
        record = _record_name(root if root.tag == _ONE else _nth(root, index), index)
        message = _QUOTED.sub(lambda m: m.group(0) if self._safe(m.group(1)) else "(value)", error.message)
        return ContractXmlError(f"does not match the contract schema: {message}", element=element, record=record)


def _safe_tag(element: etree._Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else "?"
    return tag if len(tag) <= 64 else tag[:64] + "…"


def _nth(root: etree._Element, index: int) -> etree._Element | None:
    children = root.findall(_ONE)
    return children[index - 1] if 0 < index <= len(children) else None


def _record_name(record: etree._Element | None, index: int) -> str:
    cid = record.findtext("ContractId") if record is not None else None
    # A contract id is the sender's key, not personal data; it is cut short in case a sender put anything there.
    return f"record {index}" + (f" (ContractId {cid.strip()[:64]})" if cid and cid.strip() else "")


def _text(record: etree._Element, path: str, where: str) -> str:
    value = record.findtext(path)
    if value is None or not value.strip():
        raise ContractXmlError("is required", element=path, record=where)
    return value.strip()


def _opt(record: etree._Element, path: str) -> str | None:
    value = record.findtext(path)
    return value.strip() if value and value.strip() else None


def _day(value: str, path: str, where: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ContractXmlError("is not a real date (YYYYMMDD)", element=path, record=where) from None


def _date(record: etree._Element, path: str, where: str) -> date:
    return _day(_text(record, path, where), path, where)


def _opt_date(record: etree._Element, path: str, where: str) -> date | None:
    value = _opt(record, path)
    return None if value is None else _day(value, path, where)


def _resident(record: etree._Element, where: str) -> Resident:
    id_type = _opt(record, "Resident/IdTypeCode") or _RESIDENT_ID_TYPE
    if id_type != _RESIDENT_ID_TYPE:
        raise ContractXmlError(
            f"must be {_RESIDENT_ID_TYPE} (居民身份证): contracts are keyed on the resident ID",
            element="Resident/IdTypeCode", record=where,
        )
    parsed = resident_id.parse(_text(record, "Resident/IdNumber", where))
    if parsed is None or not parsed.valid:
        raise ContractXmlError("is not a valid GB 11643 resident ID", element="Resident/IdNumber", record=where)
    local = [LocalId(HEALTH_RECORD_SYSTEM, h) for h in [_opt(record, "Resident/HealthRecordNo")] if h]
    local += [LocalId(str(e.get("system")), (e.text or "").strip()) for e in record.iterfind("Resident/LocalId")]
    return Resident(parsed.value, _text(record, "Resident/Name", where), tuple(local))


def _item(item: etree._Element, where: str) -> PackageItem:
    return PackageItem(_text(item, "ItemCode", where), _text(item, "ItemName", where),
                       int(_text(item, "TimesPerYear", where)))


def _packages(record: etree._Element, where: str) -> tuple[Package, ...]:
    return tuple(
        Package(
            _text(p, "PackageCode", where),
            _text(p, "PackageName", where),
            PackageKind(_opt(p, "PackageKind") or PackageKind.BASIC),
            tuple(_item(i, where) for i in p.iterfind("Item")),
        )
        for p in record.iterfind("Packages/Package")
    )


def _contract(record: etree._Element, index: int, codes: VendorCodes, vendor: str | None) -> Contract:
    where = _record_name(record, index)
    if vendor is None:
        raise ContractXmlError("no vendor: set vendor= on the record or the list, or pass one", element="StatusCode",
                               record=where)
    try:
        status = codes.status_of(vendor, _text(record, "StatusCode", where))
    except CodeError as exc:
        raise ContractXmlError(str(exc), element="StatusCode", record=where) from None
    start = _date(record, "EffectiveFrom", where)
    end = _date(record, "EffectiveTo", where)
    if end < start:
        raise ContractXmlError("is before EffectiveFrom", element="EffectiveTo", record=where)
    termination = None
    if (record.find("Termination") is None) == (status.status is Status.TERMINATED):
        raise ContractXmlError(
            f"is given exactly when the status is TERMINATED (here {status.status})", element="Termination",
            record=where,
        )
    if status.status is Status.TERMINATED:
        on = _date(record, "Termination/TerminationDate", where)
        try:
            reason = codes.termination_reason(vendor, _text(record, "Termination/TerminationReasonCode", where))
        except CodeError as exc:
            raise ContractXmlError(str(exc), element="Termination/TerminationReasonCode", record=where) from None
        termination = Termination(on, reason)
    renewal_due = _opt_date(record, "RenewalDueDate", where)
    if renewal_due is None and status.hint is Hint.RENEWAL_DUE:
        renewal_due = start  # the sender says renewal is due now, without a date: due from the start
    return Contract(
        contract_id=_text(record, "ContractId", where),
        version=int(_text(record, "Version", where)),
        source_system=_text(record, "SourceSystem", where),
        status=status.status,
        resident=_resident(record, where),
        organisation_code=_text(record, "OrganizationCode", where),
        team=Team(_text(record, "TeamId", where), _text(record, "TeamName", where)),
        doctor=Doctor(_text(record, "DoctorId", where), _text(record, "DoctorName", where)),
        period=Period(start, end),
        packages=_packages(record, where),
        signed_on=_opt_date(record, "SignDate", where),
        renewal_due=renewal_due,
        termination=termination,
        labels=tuple(str(e.get("code")) for e in record.iterfind("Labels/Label")),
        previous_contract_id=_opt(record, "PreviousContractId"),
        termination_requested=status.hint is Hint.TERMINATION_REQUESTED,
    )
