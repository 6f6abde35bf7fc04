"""Filters: small value transforms named in expressions (``{{ PID-7 | date }}``). Pure.

Every filter takes the value and returns a new one; ``None`` means absent. A filter is built once per
expression at compile time (arguments bound), so mapping a message only calls closures.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from typing import Any

from .errors import BadValue, CompileError
from .tables import CodeTable

Value = Any
Filter = Callable[[Value], Value]

# HL7 DTM/TS (also CDA TS): YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]
_TS = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?")
_ISO = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_SQL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")  # a database's text: a space for the T


def _valid(y: str, mo: str | None, d: str | None, h: str | None, mi: str | None, s: str | None) -> bool:
    if mo and not 1 <= int(mo) <= 12:
        return False
    if d and not 1 <= int(d) <= (calendar.monthrange(int(y), int(mo))[1] if mo else 31):
        return False
    if h and int(h) > 23:
        return False
    if mi and int(mi) > 59:
        return False
    return not (s and int(s) > 60)


def _split_ts(text: str) -> tuple[str, ...] | None:
    m = _TS.fullmatch(text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if (h and not d) or not _valid(y, mo, d, h, mi, s):
        return None
    return y, mo or "", d or "", h or "", mi or "", s or "", frac or "", tz or ""


_NOT_TS = "is not an HL7 date/time (expected YYYY[MM[DD[HHMM[SS]]]][+ZZZZ])"


def _iso(text: str) -> str:
    return text.replace(" ", "T", 1) if _SQL_DATETIME.match(text) else text


def _real_iso(text: str) -> re.Match[str] | None:
    """An ISO date/time that is also a real one (no 29 February 2017): its match."""
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    y, mo, d, h, mi, s = (text[a:b] or None for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)))
    return found if _valid(y or "", mo, d, h, mi, s) else None


def date_filter(field: str) -> Filter:
    def to_date(value: Value) -> Value:
        if value is None:
            return None
        text = _iso(str(value).strip())
        if _real_iso(text):
            return text[:10]
        parts = _split_ts(text)
        if parts is None:
            raise BadValue(f"{_shape(text)} {_NOT_TS}", field=field)
        y, mo, d = parts[:3]
        return "-".join(p for p in (y, mo, d) if p)

    return to_date


def datetime_filter(timezone: str | None, field: str) -> Filter:
    def to_datetime(value: Value) -> Value:
        if value is None:
            return None
        text = _iso(str(value).strip())
        found = _real_iso(text)
        if found:  # ISO (a database row's time): the mapping's timezone when it has a time and no zone
            return text + timezone if timezone and found.group(3) and not found.group(6) else text
        parts = _split_ts(text)
        if parts is None:
            raise BadValue(f"{_shape(text)} {_NOT_TS}", field=field)
        y, mo, d, h, mi, s, frac, tz = parts
        if not h:
            return "-".join(p for p in (y, mo, d) if p)
        zone = f"{tz[:3]}:{tz[3:]}" if tz else (timezone or "")
        return f"{y}-{mo}-{d}T{h}:{mi or '00'}:{s or '00'}{frac}{zone}"

    return to_datetime


def _shape(text: str) -> str:
    """A value's shape, not the value (it may be personal data): digits -> 9, letters -> A."""
    return "'" + re.sub(r"[^\W\d_]", "A", re.sub(r"\d", "9", text))[:24] + "'"


def to_number(value: Value) -> Value:
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    if not _NUMBER.fullmatch(text):
        return None
    if "." in text or "e" in text.lower():
        return float(text)
    return int(text)


def _text(fn: Callable[[str], str]) -> Filter:
    return lambda v: None if v is None else (fn(v) if isinstance(v, str) else v)


def _table_filter(kind: str, table: CodeTable) -> Filter:
    if kind == "code":
        def code(v: Value) -> Value:
            found = None if v is None else table.lookup(str(v))
            return None if found is None else found.code
        return code
    if kind == "display":
        def display(v: Value) -> Value:
            found = None if v is None else table.lookup(str(v))
            return None if found is None else found.display
        return display
    return lambda v: None if v is None else table.coding(str(v))


def build(
    name: str,
    args: list[Any],
    *,
    tables: dict[str, CodeTable],
    functions: Callable[[str], Callable[..., Any]],
    timezone: str | None,
    field: str = "",
) -> Filter:
    """The filter ``name`` with its arguments bound; CompileError for unknown names, tables or arities."""

    def need(n: int) -> None:
        if len(args) != n:
            raise CompileError(f"filter {name} takes {n} argument{'s' if n != 1 else ''}, got {len(args)}")

    if name in ("date", "datetime", "number", "upper", "lower", "trim"):
        need(0)
        simple: dict[str, Filter] = {
            "date": date_filter(field),
            "datetime": datetime_filter(timezone, field),
            "number": to_number,
            "upper": _text(str.upper),
            "lower": _text(str.lower),
            "trim": _text(str.strip),
        }
        return simple[name]
    if name in ("code", "display", "coding"):
        need(1)
        table = tables.get(str(args[0]))
        if table is None:
            raise CompileError(f"no code table {args[0]!r} in mappings/tables (known: {', '.join(sorted(tables))})")
        return _table_filter(name, table)
    if name == "default":
        need(1)
        fallback = args[0]
        return lambda v: fallback if v is None or v == "" else v
    if name in ("prefix", "suffix"):
        need(1)
        extra = str(args[0])
        if name == "prefix":
            return lambda v: None if v is None else f"{extra}{v}"
        return lambda v: None if v is None else f"{v}{extra}"
    if name in ("in", "not_in"):
        if not args:
            raise CompileError(f"filter {name} needs at least one value")
        allowed = frozenset(str(a) for a in args)
        if name == "in":
            return lambda v: v if v is not None and str(v) in allowed else None
        return lambda v: v if v is not None and str(v) not in allowed else None
    if name == "nonempty":
        need(1)
        then = args[0]
        return lambda v: then if v not in (None, "", []) else None
    if name == "split":
        need(1)
        sep = str(args[0])
        return lambda v: None if v is None else [p for p in str(v).split(sep) if p.strip()] or None
    if name == "py":
        need(1)
        return functions(str(args[0]))
    raise CompileError(
        f"unknown filter {name!r}; known: code, coding, date, datetime, default, display, in, lower, nonempty, "
        "not_in, number, prefix, py, split, suffix, trim, upper"
    )
