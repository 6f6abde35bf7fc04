"""``{{ expression }}`` compiled to a closure: alternatives (``or``), a term, filters (``|``).

    expr   := chain (" or " chain)*          the first chain whose value is present
    chain  := term ("|" filter)*
    term   := 'text' | "text" | number | $var | ref(rule) | refs(rule) | path
    filter := name | name ":" arg ("," arg)*
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import filters
from .context import Ctx
from .errors import BadValue, CompileError
from .paths import Getter

_NUMBER = re.compile(r"\d+(\.\d+)?")
_CALL = re.compile(r"(ref|refs)\(\s*([A-Za-z0-9_.-]+)\s*\)")
_ALL = re.compile(r"all\((.+)\)", re.S)
_CONSTANTS = {"true": True, "false": False}
_VARS = ("source_system", "message_type", "control_id", "index")


@dataclass(frozen=True)
class Term:
    """What an expression reads: ``kind`` is literal, all, index, var, ref, refs or path; ``get`` reads it."""

    kind: str
    text: str  # the path, the variable's or the rule's name, or the literal as written
    get: Callable[[Ctx], Any]
    value: Any = None  # a literal's value


@dataclass(frozen=True)
class Step:
    """A filter with its arguments bound."""

    name: str
    args: tuple[Any, ...]
    fn: filters.Filter


@dataclass(frozen=True)
class Chain:
    term: Term
    steps: tuple[Step, ...]


def absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes, brackets and parentheses (XPath has all three)."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    n, k = len(text), len(sep)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += k
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _literal(token: str) -> tuple[bool, Any]:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return True, token[1:-1]
    if token in _CONSTANTS:
        return True, _CONSTANTS[token]
    if _NUMBER.fullmatch(token):
        return True, float(token) if "." in token else int(token)
    return False, None


class Compiler:
    """Compiles expressions for one mapping: knows its input kind, tables, functions and rule names."""

    def __init__(
        self,
        *,
        path_getter: Callable[[str], Getter],
        all_getter: Callable[[str], Getter],
        tables: dict[str, Any],
        functions: Callable[[str], Callable[..., Any]],
        timezone: str | None,
        rules: set[str],
    ) -> None:
        self.path_getter = path_getter
        self.all_getter = all_getter
        self.tables = tables
        self.functions = functions
        self.timezone = timezone
        self.rules = rules

    def expression(self, text: str, field: str) -> Callable[[Ctx], Any]:
        """``field`` (where the expression sits) goes into the errors its filters raise."""
        chains = [_chained(chain) for chain in self.parse(text, field)]
        if len(chains) == 1:
            return chains[0]
        if len(chains) == 2:
            a, b = chains

            def either(ctx: Ctx) -> Any:
                value = a(ctx)
                return b(ctx) if value is None or value == "" or value == [] else value

            return either

        def first_present(ctx: Ctx) -> Any:
            for chain in chains:
                value = chain(ctx)
                if not absent(value):
                    return value
            return None

        return first_present

    def parse(self, text: str, field: str) -> list[Chain]:
        """The alternatives of an expression, each a term and its filters, checked and bound."""
        if any(not part for part in split_top(text, " or ")):
            raise CompileError(f"empty alternative in {text!r}")
        return [self._chain(part, field) for part in split_top(text, " or ")]

    def _chain(self, text: str, field: str) -> Chain:
        parts = split_top(text, "|")
        term = self._term(parts[0])
        return Chain(term, tuple(self._filter(p, field) for p in parts[1:]))

    def _term(self, token: str) -> Term:
        if not token:
            raise CompileError("empty expression")
        is_literal, value = _literal(token)
        if is_literal:
            return Term("literal", token, lambda ctx: value, value)
        every = _ALL.fullmatch(token)
        if every:
            return Term("all", token, self.all_getter(every.group(1).strip()))
        if token.startswith("$"):
            name = token[1:]
            if name not in _VARS:
                raise CompileError(f"unknown variable {token}; known: {', '.join('$' + v for v in _VARS)}")
            if name == "index":
                return Term("index", token, lambda ctx: ctx.index)
            return Term("var", name, lambda ctx: ctx.run.vars.get(name) or None)
        call = _CALL.fullmatch(token)
        if call:
            kind, rule = call.groups()
            if rule not in self.rules:
                raise CompileError(f"{kind}({rule}): no rule named {rule!r} in this mapping")
            return Term(kind, rule, _ref(rule) if kind == "ref" else _refs(rule))
        return Term("path", token, self.path_getter(token))

    def _filter(self, text: str, field: str) -> Step:
        name, colon, rest = text.partition(":")
        args: list[Any] = []
        if colon:
            for raw in split_top(rest, ","):
                is_literal, value = _literal(raw)
                args.append(value if is_literal else raw)
        fn = filters.build(
            name.strip(), args, tables=self.tables, functions=self.functions, timezone=self.timezone, field=field
        )
        return Step(name.strip(), tuple(args), fn)


def _chained(chain: Chain) -> Callable[[Ctx], Any]:
    term = chain.term.get
    steps = [step.fn for step in chain.steps]
    if not steps:
        return term

    def chained(ctx: Ctx) -> Any:
        value = term(ctx)
        try:
            for step in steps:
                value = step(value)
        except BadValue as exc:  # the field is left out; the message is mapped with a note (errors.py)
            ctx.run.notes.append(exc)
            return None
        return value

    return chained


def _ref(rule: str) -> Callable[[Ctx], Any]:
    def ref(ctx: Ctx) -> Any:
        scope = ctx.scope
        while scope is not None:
            if scope.rule == rule:
                return scope.ref
            scope = scope.parent
        return ctx.run.instance(rule, ctx.current_segment() if ctx.view is not None else -1)

    return ref


def _refs(rule: str) -> Callable[[Ctx], Any]:
    def refs(ctx: Ctx) -> Any:
        found = ctx.scope.children.get(rule, ()) if ctx.scope is not None else ()
        return [{"reference": ref} for ref in found] or None

    return refs
