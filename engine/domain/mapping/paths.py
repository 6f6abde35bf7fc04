"""Paths into the input, compiled once: HL7 v2 positions (``PID-3(2).1``, ``-5``, ``.1``) and XPath.

A getter returns the value's text (unescaped), or None when absent. HL7's explicit null ``""`` is
absent too. An iterator returns the contexts a ``for:`` walks over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from engine.domain.formats.hl7v2 import unescape

from .context import Ctx, V2View
from .errors import CompileError

Getter = Callable[[Ctx], Any]
Iterator = Callable[[Ctx], list[Ctx]]

_V2 = re.compile(
    r"(?P<seg>[A-Z][A-Z0-9]{2})?(?:\[(?P<occ>\d+)\])?"
    r"(?:-(?P<field>\d+)(?:\((?P<rep>\d+)\))?)?"
    r"(?:\.(?P<comp>\d+))?(?:\.(?P<sub>\d+))?"
)


def _parts(path: str) -> dict[str, Any]:
    m = _V2.fullmatch(path)
    if m is None or not path or (m["seg"] is None and m["field"] is None and m["comp"] is None):
        raise CompileError(f"not an HL7 v2 path: {path!r} (expected e.g. PID-3.1, PID-3(2).1, OBX[2]-5, -5.1 or .1)")
    g = m.groupdict()
    return {k: (int(v) if v and v.isdigit() else v) for k, v in g.items()}


def _value(view: V2View, raw: str, rep: int, comp: int | None, sub: int | None, whole_field: bool) -> str | None:
    """One value from a field's raw text (``whole_field``) or a repetition's raw text."""
    seps = view.seps
    value = raw
    if whole_field and (rep > 1 or view.rep_sep in value):
        reps = value.split(view.rep_sep)
        value = reps[rep - 1] if rep <= len(reps) else ""
    if comp:
        if seps[0] in value:
            parts = value.split(seps[0])
            value = parts[comp - 1] if comp <= len(parts) else ""
        elif comp > 1:
            return None
        if sub:
            sub_sep = seps[3] if len(seps) > 3 else "&"
            if sub_sep in value:
                parts = value.split(sub_sep)
                value = parts[sub - 1] if sub <= len(parts) else ""
            elif sub > 1:
                return None
    if not value or value == '""':
        return None
    return unescape(value, seps, view.field_sep) if seps[2] in value else value


def _position(ctx: Ctx, seg_id: str | None, occ: int | None) -> int:
    """The segment a path names here: the context's own (``-5``), the n-th (``OBX[2]``), or the one meant."""
    if seg_id is None:
        return ctx.current_segment()
    if occ:
        assert ctx.view is not None
        found = ctx.view.by_id.get(seg_id, ())
        return found[occ - 1] if occ <= len(found) else -1
    return ctx.position_of(seg_id)


def v2_getter(path: str) -> Getter:
    p = _parts(path)
    seg_id, occ, field, rep, comp, sub = p["seg"], p["occ"], p["field"], p["rep"] or 1, p["comp"], p["sub"]
    if seg_id is None and field is None:  # ".1": a component of the current repetition

        def from_rep(ctx: Ctx) -> Any:
            raw = ctx.current_rep()
            if raw is None:
                return None
            view = ctx.view
            assert view is not None
            return _value(view, raw, 1, comp, sub, False)

        return from_rep

    if field is None:
        raise CompileError(f"{path!r} names a segment, not a value; add a field, e.g. {seg_id}-3")
    if seg_id == "MSH" and field in (1, 2):
        return lambda ctx: ctx.view.fields(0)[field] if ctx.view is not None and ctx.view.texts else None

    def get(ctx: Ctx) -> Any:
        view = ctx.view
        assert view is not None
        pos = _position(ctx, seg_id, occ)
        if pos < 0:
            return None
        fields = view.fields(pos)
        if field >= len(fields):
            return None
        raw = fields[field]
        if not raw:
            return None
        return _value(view, raw, rep, comp, sub, True)

    return get


def v2_all_getter(path: str) -> Getter:
    """``all(PID-13.1)``: the value in every repetition of the field, as a list (None when there is none)."""
    p = _parts(path)
    seg_id, occ, field, comp, sub = p["seg"], p["occ"], p["field"], p["comp"], p["sub"]
    if field is None:
        raise CompileError(f"all({path}): name a field, e.g. all(PID-13.1)")

    def get_all(ctx: Ctx) -> Any:
        view = ctx.view
        assert view is not None
        pos = _position(ctx, seg_id, occ)
        if pos < 0:
            return None
        fields = view.fields(pos)
        raw = fields[field] if field < len(fields) else ""
        if not raw:
            return None
        values = [_value(view, r, 1, comp, sub, False) for r in raw.split(view.rep_sep)]
        return [v for v in values if v is not None] or None

    return get_all


_BEFORE = re.compile(r"(?P<seg>[A-Z][A-Z0-9]{2}) before (?P<stop>[A-Z][A-Z0-9]{2}(?:\|[A-Z][A-Z0-9]{2})*)")


def v2_iterator(path: str) -> Iterator:
    """``OBX``: segments (within the enclosing group); ``OBX before OBR`` (or ``OBR|SPM``): those of them that
    come before the next such segment (a patient's or a specimen's own OBX, not the results of its orders);
    ``PID-3`` / ``-3``: the field's repetitions."""
    before = _BEFORE.fullmatch(path)
    if before is not None:
        every, stop_ids = v2_iterator(before["seg"]), before["stop"].split("|")

        def segments_before(ctx: Ctx) -> list[Ctx]:
            items = every(ctx)
            if not items:
                return items
            view = ctx.view
            assert view is not None
            start = ctx.current_segment()
            stop = min(next((i for i in view.by_id.get(s, ()) if i > start), len(view.texts)) for s in stop_ids)
            return [c for c in items if c.pos < stop]

        return segments_before
    p = _parts(path)
    seg_id, field = p["seg"], p["field"]
    if field is None and seg_id is not None and p["comp"] is None:

        def segments(ctx: Ctx) -> list[Ctx]:
            view = ctx.view
            assert view is not None
            found = view.by_id.get(seg_id, ())
            start = ctx.current_segment()
            if start >= 0 and found and not view.texts[start].startswith(seg_id):
                end = view.group_end(start)  # a group: after the enclosing segment, up to the next of its kind
                found = [i for i in found if start < i < end]
            return [ctx.child(pos=i, index=n) for n, i in enumerate(found, 1)]

        return segments
    if field is None or p["comp"] is not None:
        raise CompileError(
            f"for: {path!r}: iterate over segments (OBX, OBX before OBR) or a field's repetitions (PID-3, -3)"
        )
    occ = p["occ"]

    def repetitions(ctx: Ctx) -> list[Ctx]:
        view = ctx.view
        assert view is not None
        pos = _position(ctx, seg_id, occ)
        if pos < 0:
            return []
        fields = view.fields(pos)
        raw = fields[field] if field < len(fields) else ""
        if not raw:
            return []
        reps = [raw] if pos == 0 and seg_id == "MSH" and field <= 2 else raw.split(view.rep_sep)
        return [ctx.child(pos=pos, rep=r, index=n) for n, r in enumerate(reps, 1) if r and r != '""']

    return repetitions


def _xpath(expr: str, namespaces: dict[str, str]) -> etree.XPath:
    try:
        return etree.XPath(expr, namespaces=namespaces, smart_strings=False)
    except etree.XPathSyntaxError as exc:
        raise CompileError(f"not an XPath expression: {expr!r} ({exc})") from None


def _text_of(item: Any) -> Any:
    if isinstance(item, etree._Element):
        text = "".join(item.itertext()).strip()
        return text or None
    if isinstance(item, bool):
        return None if not item else True
    if isinstance(item, float):
        return int(item) if item.is_integer() else item
    text = str(item).strip()
    return text or None


def xml_getter(expr: str, namespaces: dict[str, str]) -> Getter:
    xp = _xpath(expr, namespaces)

    def get(ctx: Ctx) -> Any:
        result = xp(ctx.node)
        if isinstance(result, list):
            return _text_of(result[0]) if result else None
        return _text_of(result)

    return get


def xml_all_getter(expr: str, namespaces: dict[str, str]) -> Getter:
    """``all(h:given)``: the text of every node the XPath selects, as a list (None when there is none)."""
    xp = _xpath(expr, namespaces)

    def get_all(ctx: Ctx) -> Any:
        result = xp(ctx.node)
        if not isinstance(result, list):
            value = _text_of(result)
            return None if value is None else [value]
        values = [_text_of(item) for item in result]
        return [v for v in values if v is not None] or None

    return get_all


def xml_iterator(expr: str, namespaces: dict[str, str]) -> Iterator:
    xp = _xpath(expr, namespaces)

    def nodes(ctx: Ctx) -> list[Ctx]:
        result = xp(ctx.node)
        if not isinstance(result, list):
            return []
        return [ctx.child(node=n, index=i) for i, n in enumerate(result, 1) if isinstance(n, etree._Element)]

    return nodes


# -- JSON (database rows) ------------------------------------------------------------------------------------

_JSON_PATH = re.compile(r"\.|\.?[^.\s|(){}'\"]+(\.[^.\s|(){}'\"]+)*")


def _json_steps(path: str) -> tuple[bool, tuple[str, ...]]:
    """``row.visit_no``: keys from the message; ``.code``: from the current ``for:`` item; ``.``: the item."""
    if not _JSON_PATH.fullmatch(path):
        raise CompileError(
            f"not a JSON path: {path!r} (expected dotted keys, e.g. row.visit_no, or .code inside a for:)"
        )
    relative = path.startswith(".")
    return relative, tuple(k for k in path.split(".") if k)


def _json_root(ctx: Ctx) -> Any:
    while ctx.parent is not None:
        ctx = ctx.parent
    return ctx.node


def _json_walk(relative: bool, keys: tuple[str, ...]) -> Callable[[Ctx], Any]:
    def walk(ctx: Ctx) -> Any:
        value = ctx.node if relative else _json_root(ctx)
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return walk


def _json_scalar(value: Any) -> Any:
    """Like XML text: strings trimmed, empty strings and false absent; numbers, lists and objects as they are."""
    if isinstance(value, str):
        return value.strip() or None
    if value is False:
        return None
    return value


def json_getter(path: str) -> Getter:
    walk = _json_walk(*_json_steps(path))
    return lambda ctx: _json_scalar(walk(ctx))


def json_all_getter(path: str) -> Getter:
    """``all(row.tags)``: every present value of a list (one value: a list of it; None when there is none)."""
    walk = _json_walk(*_json_steps(path))

    def get_all(ctx: Ctx) -> Any:
        value = walk(ctx)
        items = value if isinstance(value, list) else [value]
        return [v for v in map(_json_scalar, items) if v is not None] or None

    return get_all


def json_iterator(path: str) -> Iterator:
    """``for: row.diagnoses``: each item of the list (an object: itself once); paths inside start with ``.``."""
    walk = _json_walk(*_json_steps(path))

    def items(ctx: Ctx) -> list[Ctx]:
        value = walk(ctx)
        found = value if isinstance(value, list) else [] if value is None else [value]
        return [ctx.child(node=v, index=i) for i, v in enumerate(found, 1) if v is not None]

    return items
