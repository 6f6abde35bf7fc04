"""Code tables: a source's local codes -> standard codes, from the YAML or CSV files of mappings/tables/ (read by
engine/config/mappings.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from .errors import CompileError


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    display: str | None = None
    system: str | None = None


@dataclass(frozen=True)
class CodeTable:
    name: str
    source: str
    system: str | None = None
    description: str = ""
    ignore_case: bool = False
    default: Code | None = None
    codes: dict[str, Code] = field(default_factory=dict)

    def lookup(self, local: str) -> Code | None:
        found = self.codes.get(local.lower() if self.ignore_case else local)
        if found is None:
            found = self.codes.get(local.strip().lower() if self.ignore_case else local.strip())
        return found if found is not None else self.default

    def coding(self, local: str) -> dict[str, str] | None:
        found = self.lookup(local)
        if found is None:
            return None
        out = {"system": found.system or self.system, "code": found.code, "display": found.display}
        return {k: v for k, v in out.items() if v}


def _code(value: Any, where: tuple[str | int, ...]) -> Code:
    if isinstance(value, dict):
        if "code" not in value:
            raise CompileError("a code entry written as a mapping needs code:", where)
        unknown = set(value) - {"code", "display", "system"}
        if unknown:
            raise CompileError(f"unknown key(s) {sorted(unknown)}; expected code, display, system", where)
        return Code(str(value["code"]), _opt(value.get("display")), _opt(value.get("system")))
    if value is None or isinstance(value, list):
        raise CompileError("expected a target code (text) or {code, display, system}", where)
    return Code(str(value))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def table_from_data(name: str, data: Any) -> CodeTable:
    """A table from a YAML file's data; CompileError names the offending key."""
    if not isinstance(data, dict):
        raise CompileError("a code table file is a mapping with table:, source: and codes:")
    unknown = set(data) - {"table", "description", "source", "system", "ignore_case", "default", "codes"}
    if unknown:
        raise CompileError(f"unknown key(s) {sorted(unknown)}", (sorted(unknown)[0],))
    if data.get("table") != name:
        raise CompileError(f"table: must be {name!r}, the file's name", ("table",))
    if not data.get("source"):
        raise CompileError("source: must cite where the code list comes from", ("source",))
    codes = data.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise CompileError("codes: must map each local code to its target", ("codes",))
    ignore_case = bool(data.get("ignore_case", False))
    table = {
        (str(k).lower() if ignore_case else str(k)): _code(v, ("codes", str(k))) for k, v in codes.items()
    }
    default = _code(data["default"], ("default",)) if data.get("default") is not None else None
    return CodeTable(
        name, str(data["source"]), _opt(data.get("system")), str(data.get("description") or ""), ignore_case,
        default, table,
    )


def table_from_csv(name: str, text: str) -> CodeTable:
    """A CSV table: ``# key: value`` comment lines, then a header ``code,target,display[,system]``."""
    meta: dict[str, Any] = {}
    lines = text.splitlines()
    body_start = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            body_start = i
            break
        key, _, value = line[1:].partition(":")
        meta[key.strip()] = value.strip()
    else:
        body_start = len(lines)
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[body_start:]))))
    if not rows or "code" not in rows[0] or "target" not in rows[0]:
        raise CompileError("a CSV table needs a header row code,target[,display][,system]")
    codes = {r["code"]: {k: v for k, v in (("code", r["target"]), ("display", r.get("display")),
                                           ("system", r.get("system"))) if v} for r in rows}
    meta["codes"] = codes
    if "ignore_case" in meta:
        meta["ignore_case"] = meta["ignore_case"].lower() in ("true", "yes", "1")
    return table_from_data(name, meta)

