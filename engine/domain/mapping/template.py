"""FHIR-shaped templates compiled to closures that build the JSON and leave out whatever is absent."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .context import Ctx
from .errors import CompileError
from .expressions import Compiler, absent
from .paths import Iterator

Build = Callable[[Ctx], Any]
DataPath = tuple[str | int, ...]

_EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)


def _dotted(path: DataPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def iterator_of(iterator: Callable[[str], Iterator], node: dict[str, Any], path: DataPath) -> Iterator:
    """The iterator of a node's ``for:`` path, its errors named at ``for`` (both template compilers)."""
    spec = node["for"]
    if not isinstance(spec, str) or not spec.strip():
        raise CompileError("for: needs a path, e.g. PID-3 or OBX", (*path, "for"))
    try:
        return iterator(spec.strip())
    except CompileError as exc:
        raise CompileError(str(exc), (*path, "for")) from None


class TemplateCompiler:
    """Compiles templates. A node that holds no expression is a constant and kept as written; an object or
    list that holds expressions is absent when all of them are (so ``{system: X, code: "{{ absent }}"}``
    leaves no half-empty coding behind)."""

    def __init__(self, expressions: Compiler, iterator: Callable[[str], Iterator]) -> None:
        self.expressions = expressions
        self.iterator = iterator

    def value(self, node: Any, path: DataPath) -> Build:
        return self._node(node, path)[0]

    def _node(self, node: Any, path: DataPath) -> tuple[Build, bool]:
        """The builder of ``node`` and whether it holds an expression."""
        try:
            if isinstance(node, str):
                return self._string(node, path)
            if isinstance(node, dict):
                if "for" in node:
                    raise CompileError("for: repeats a list item; put this mapping inside a list")
                return self._dict(node, path)
            if isinstance(node, list):
                return self._list(node, path)
        except CompileError as exc:
            if exc.path:
                raise
            raise CompileError(str(exc), path) from None
        return (lambda ctx: node), False

    def condition(self, text: Any, path: DataPath) -> Build:
        if not isinstance(text, str) or not _EXPR.fullmatch(text.strip()):
            raise CompileError("expected one {{ expression }}", path)
        return self.value(text.strip(), path)

    def _string(self, text: str, path: DataPath) -> tuple[Build, bool]:
        found = list(_EXPR.finditer(text))
        if not found:
            return (lambda ctx: text), False
        field = _dotted(path)
        if len(found) == 1 and found[0].span() == (0, len(text)):
            return self.expressions.expression(found[0].group(1).strip(), field), True
        pieces: list[str | Build] = []
        last = 0
        for m in found:
            if m.start() > last:
                pieces.append(text[last : m.start()])
            pieces.append(self.expressions.expression(m.group(1).strip(), field))
            last = m.end()
        if last < len(text):
            pieces.append(text[last:])

        def concat(ctx: Ctx) -> Any:
            out, any_value = [], False
            for piece in pieces:
                if isinstance(piece, str):
                    out.append(piece)
                    continue
                value = piece(ctx)
                if value is not None and value != "":
                    any_value = True
                    out.append(str(value))
            return "".join(out).strip() if any_value else None

        return concat, True

    def _dict(self, node: dict[str, Any], path: DataPath) -> tuple[Build, bool]:
        when = self.condition(node["when"], (*path, "when")) if "when" in node else None
        constants: dict[str, Any] = {}
        fields: list[tuple[str, Build]] = []
        for k, v in node.items():
            if k == "when":
                continue
            fn, dynamic = self._node(v, (*path, str(k)))
            if dynamic:
                fields.append((str(k), fn))
            else:
                constant = fn(None)  # type: ignore[arg-type]
                if not absent(constant):
                    constants[str(k)] = constant
        if not fields and when is None:
            return (lambda ctx: dict(constants) if constants else None), False

        def build(ctx: Ctx) -> Any:
            if when is not None:
                test = when(ctx)
                if test is None or test == "" or test == []:
                    return None
            out = None
            for key, fn in fields:
                value = fn(ctx)
                if value is not None and value != "":
                    if out is None:
                        out = dict(constants)
                    out[key] = value
            if out is None and not fields:
                return dict(constants) if constants else None
            return out

        return build, True

    def _list(self, items: list[Any], path: DataPath) -> tuple[Build, bool]:
        parts: list[tuple[bool, Build]] = []
        dynamic = False
        for i, item in enumerate(items):
            if isinstance(item, dict) and "for" in item:
                parts.append((True, self._repeated(item, (*path, i))))
                dynamic = True
            else:
                fn, item_dynamic = self._node(item, (*path, i))
                parts.append((False, fn))
                dynamic = dynamic or item_dynamic
        if not dynamic:
            constant = [v for _, fn in parts if not absent(v := fn(None))]  # type: ignore[arg-type]
            return (lambda ctx: list(constant) if constant else None), False

        def build(ctx: Ctx) -> Any:
            out: list[Any] = []
            for repeated, fn in parts:
                value = fn(ctx)
                if value is None or value == "":
                    continue
                if repeated or isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out or None

        return build, True

    def _repeated(self, node: dict[str, Any], path: DataPath) -> Build:
        each = iterator_of(self.iterator, node, path)
        body, _ = self._dict({k: v for k, v in node.items() if k != "for"}, path)

        def repeat(ctx: Ctx) -> Any:
            out = []
            for item in each(ctx):
                value = body(item)
                if value is not None:
                    out.append(value)
            return out

        return repeat
