"""Turn pydantic's validation errors into ``file:line:column: field: message`` lines.

Pydantic reports a location as a tuple of keys, list indexes and, for ``type:``-discriminated
unions, the tag. We walk that tuple through the model types and the YAML data together, which
tells us which elements are tags (not shown), which model a key belongs to (for "expected one
of"), and where in the file the value, key or enclosing mapping is.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ._yaml import DataPath, Document, Pos, dotted
from .errors import WHOLE_FILE
from .values import describe


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` so only the shape remains."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _union_members(tp: Any) -> list[type[BaseModel]]:
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return [m for m in (_unwrap(a) for a in get_args(tp)) if _is_model(m)]
    return []


def _tags(members: list[type[BaseModel]]) -> list[str]:
    tags: list[str] = []
    for member in members:
        field = member.model_fields.get("type")
        if field is not None:
            tags.extend(str(a) for a in get_args(field.annotation))
    return tags


def _step(tp: Any, element: str | int) -> tuple[Any, bool]:
    """The type one location element further down, and whether the element was a union tag."""
    members = _union_members(tp)
    if members:
        for member in members:
            if element in _tags([member]):
                return member, True
        return None, True
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin in (tuple, list) and isinstance(element, int):
        return get_args(tp)[0], False
    if origin is dict:
        return get_args(tp)[1], False
    if _is_model(tp) and isinstance(element, str):
        field = tp.model_fields.get(element)
        return (field.annotation if field is not None else None), False
    return None, False


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _one_of(choices: list[str]) -> str:
    return ", ".join(choices)


def _type_message(kind: str, value: Any, ctx: dict[str, Any], tp: Any) -> str:
    got = f"got {describe(value)}"
    literal = _unwrap(tp)
    if kind == "literal_error" and get_origin(literal) is Literal:
        choices = [str(a) for a in get_args(literal)]
        hint = _suggest(str(value), choices) if isinstance(value, str) else ""
        return f"expected one of: {_one_of(choices)}; {got}{hint}"
    simple = {
        "string_type": "expected text",
        "int_type": "expected a whole number",
        "int_parsing": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_type": "expected a number",
        "float_parsing": "expected a number",
        "bool_type": "expected true or false",
        "bool_parsing": "expected true or false",
        "list_type": "expected a list, e.g. [a, b] or lines starting with '- '",
        "tuple_type": "expected a list, e.g. [a, b] or lines starting with '- '",
        "model_type": "expected a mapping of keys (key: value)",
        "model_attributes_type": "expected a mapping of keys (key: value)",
        "dict_type": "expected a mapping of keys (key: value)",
        "string_too_short": "expected non-empty text",
        "too_short": "expected a non-empty list",
    }
    if kind in simple:
        return f"{simple[kind]}, {got}"
    bounds = {
        "greater_than": ("greater than", "gt"),
        "greater_than_equal": ("at least", "ge"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        limit = ctx.get(key)
        shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
        return f"expected a number {words} {shown}, {got}"
    if kind == "value_error":
        return str(ctx.get("error", "invalid value"))
    if kind == "config_field":
        return str(ctx.get("message", "invalid value"))
    return f"{ctx.get('message') or kind.replace('_', ' ')}, {got}"


def translate(doc: Document, exc: ValidationError, root: type[BaseModel]) -> None:
    """Add one ConfigError to ``doc`` for each pydantic error, positioned in the YAML."""
    for err in exc.errors(include_url=False):
        kind = err["type"]
        ctx: dict[str, Any] = dict(err.get("ctx") or {})
        loc = list(err["loc"])
        if kind == "config_field":
            loc.append(ctx["field"])

        tp: Any = root
        parent: Any = root
        data: Any = doc.data
        present = True
        path: DataPath = ()
        for element in loc:
            nxt, is_tag = _step(tp, element)
            if is_tag:
                tp = nxt
                continue
            parent, tp = tp, nxt
            path = (*path, element)
            in_dict = isinstance(data, dict) and element in data
            in_list = isinstance(data, list) and isinstance(element, int) and 0 <= element < len(data)
            if present and (in_dict or in_list):
                data = data[element]
            else:
                present = False
        if doc.is_poisoned(path):
            continue  # the value could not be read; that error is already reported
        field_name = dotted(path) or WHOLE_FILE
        pos: Pos

        if kind == "missing":
            key = str(path[-1])
            parent_model = _unwrap(parent)
            info = parent_model.model_fields.get(key) if _is_model(parent_model) else None
            about = f" ({info.description})" if info is not None and info.description else ""
            pos = doc.value_pos(path[:-1])
            message = f"missing required key '{key}'{about}"
        elif kind == "extra_forbidden":
            key = str(path[-1])
            parent_model = _unwrap(parent)
            allowed = sorted(parent_model.model_fields) if _is_model(parent_model) else []
            pos = doc.key_pos(path)
            message = f"unknown key '{key}'{_suggest(key, allowed)}; expected one of: {_one_of(allowed)}"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            tags = _tags(_union_members(tp))
            field_name = dotted((*path, "type"))
            if kind == "union_tag_invalid":
                pos = doc.value_pos((*path, "type"))
                given = data.get("type") if isinstance(data, dict) else ctx.get("tag")
                if isinstance(given, str):
                    hint = _suggest(given, tags)
                    message = f"unknown type {describe(given)}{hint}; expected one of: {_one_of(tags)}"
                else:
                    message = f"expected one of: {_one_of(tags)}; got {describe(given)}"
            else:
                pos = doc.value_pos(path)
                message = f"missing required key 'type'; expected one of: {_one_of(tags)}"
        elif kind in ("model_attributes_type", "model_type") and _union_members(tp):
            tags = _tags(_union_members(tp))
            pos = doc.value_pos(path)
            message = f"expected a mapping with a type key (type: {' or '.join(tags)}), "
            message += f"got {describe(err['input'])}"
        else:
            pos = doc.value_pos(path)
            message = _type_message(kind, err.get("input"), ctx, tp)
        doc.error(pos, field_name, message)
