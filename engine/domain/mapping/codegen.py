"""HL7 v2 templates compiled to Python source: one generated function per rule body, key, condition and event.

The closures of template.py call one another per node and per path step; here a template becomes one function
whose statements build the resource in place, with each HL7 v2 path and ``for:`` read by a generated function,
so a message costs a fraction of the calls (about 21% less CPU, docs/benchmarks.md). It does what template.py
does, node for node (tests/mapping_engine/test_generated_code.py compares the two on every shipped case and
corpus sample). Filters that are more than a line, ``all()``, ``ref()``/``refs()`` and ``X before Y`` stay the
closures the expression compiler binds; XML and JSON mappings stay closures (compiler.py says why).

Generation happens when the configuration loads; ``compile()`` of a template's source is cached by the
mapping's version (the digest of its files), so a reload compiles only what changed.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from engine.domain.formats.hl7v2 import unescape

from . import paths
from .errors import BadValue, CompileError
from .expressions import Chain, Compiler, Step, absent
from .template import _EXPR, Build, DataPath, _dotted, iterator_of

#: (mapping version, file, template path) -> its compiled source; kept by whoever loads the mappings.
CodeCache = MutableMapping[tuple[str, str, DataPath], CodeType]


@dataclass
class _Const:
    """A node without expressions: its value, as template.py computes it once at compile time."""

    value: Any


class _Function:
    """The source of one generated function, its local names and the objects it refers to."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.count = 0
        self.namespace = namespace

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def local(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def bind(self, value: Any, prefix: str) -> str:
        """A name in the generated module for ``value`` (a closure, a table, a constant)."""
        name = f"_{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name


class _Deferred:
    """A generated function, compiled with the rest of its mapping at the first call of any of them."""

    __slots__ = ("compiler", "fn")

    def __init__(self, compiler: SourceCompiler) -> None:
        self.compiler = compiler
        self.fn: Build | None = None

    def __call__(self, ctx: Any) -> Any:
        fn = self.fn
        if fn is None:
            self.compiler.flush()
            fn = self.fn
            assert fn is not None
        return fn(ctx)


class SourceCompiler:
    """Same interface as template.TemplateCompiler (``value``, ``condition``), generating functions instead."""

    def __init__(self, expressions: Compiler, iterator: Callable[[str], paths.Iterator], version: str,
                 cache: CodeCache) -> None:
        self.expressions = expressions
        self.iterator = iterator
        self.version = version
        self.cache = cache
        self.v2_paths: dict[str, str] = {}  # path -> name of its generated getter, shared by the mapping's functions
        self.namespace: dict[str, Any] = {"BadValue": BadValue, "unescape": unescape, "_UNREAD": _UNREAD}
        self.getters = _Function(self.namespace)
        self.origin = ""  # the file (mapping or fragment) whose templates are being compiled
        self._pending: list[tuple[str, tuple[str, str, DataPath], _Deferred]] = []
        self._compiling = threading.Lock()  # the console maps in a thread beside the record work

    def value(self, node: Any, path: DataPath) -> Build:
        fn = _Function(self.namespace)
        fn.line("view = ctx.view")
        fn.line(_scope("ctx"))
        result = self._node(node, path, fn, "ctx")
        fn.line(f"return {self._fresh(result.value, fn) if isinstance(result, _Const) else result}")
        return self._finish(fn, path)

    def condition(self, text: Any, path: DataPath) -> Build:
        if not isinstance(text, str) or not _EXPR.fullmatch(text.strip()):
            raise CompileError("expected one {{ expression }}", path)
        return self.value(text.strip(), path)

    def _finish(self, fn: _Function, path: DataPath) -> Build:
        source = "\n".join([*self.getters.lines, "def build(ctx):", *_reads(fn.lines), ""])
        self.getters.lines = []  # defined once: later functions find them in the namespace
        deferred = _Deferred(self)
        self._pending.append((source, (self.version, self.origin, path), deferred))
        return deferred

    def flush(self) -> None:
        """Compile and define the mapping's generated functions, in the order they were generated (a function
        uses the path getters an earlier one defined). Python's compile() of them is most of a mapping's load
        time, so it waits for the first message the mapping maps: a CLI command that maps nothing never pays."""
        with self._compiling:
            for source, key, deferred in self._pending:
                code = self.cache.get(key)
                if code is None:
                    code = compile(source, f"<mapping {key[1]} {key[0]} {_dotted(key[2])}>", "exec")
                    self.cache[key] = code
                exec(code, self.namespace)
                deferred.fn = self.namespace.pop("build")
            self._pending = []

    # -- templates (template.TemplateCompiler, node for node) -----------------------------------------------
    # A node without expressions emits no statement: it is a _Const holding what template.py's closure for it
    # returns. Every other node emits statements that leave its value in a local, evaluating what it holds in
    # the interpreter's order (a filter's note is a side effect).

    def _node(self, node: Any, path: DataPath, fn: _Function, ctx: str) -> _Const | str:
        try:
            if isinstance(node, str):
                return self._string(node, path, fn, ctx)
            if isinstance(node, dict):
                if "for" in node:
                    raise CompileError("for: repeats a list item; put this mapping inside a list")
                return self._dict(node, path, fn, ctx)
            if isinstance(node, list):
                return self._list(node, path, fn, ctx)
        except CompileError as exc:
            if exc.path:
                raise
            raise CompileError(str(exc), path) from None
        return _Const(node)

    def _fresh(self, value: Any, fn: _Function) -> str:
        """A constant as template.py's constant closures return it: a new copy of a dict or list each time."""
        if isinstance(value, dict):
            return f"dict({fn.bind(value, 'c')})"
        if isinstance(value, list):
            return f"list({fn.bind(value, 'c')})"
        if value is None or isinstance(value, (str, int, float, bool)):
            return repr(value)
        return fn.bind(value, "c")

    def _string(self, text: str, path: DataPath, fn: _Function, ctx: str) -> _Const | str:
        found = list(_EXPR.finditer(text))
        if not found:
            return _Const(text)
        field = _dotted(path)
        if len(found) == 1 and found[0].span() == (0, len(text)):
            return self._expression(found[0].group(1).strip(), field, fn, ctx)
        pieces: list[str] = []  # Python expressions, concatenated
        present = []
        last = 0
        for m in found:
            if m.start() > last:
                pieces.append(repr(text[last : m.start()]))
            value = self._expression(m.group(1).strip(), field, fn, ctx)
            flag = fn.local("p")
            fn.line(f"{flag} = {value} is not None and {value} != ''")
            pieces.append(f"(str({value}) if {flag} else '')")
            present.append(flag)
            last = m.end()
        if last < len(text):
            pieces.append(repr(text[last:]))
        out = fn.local()
        fn.line(f"{out} = ({' + '.join(pieces)}).strip() if {' or '.join(present)} else None")
        return out

    def _dict(self, node: dict[str, Any], path: DataPath, fn: _Function, ctx: str) -> _Const | str:
        out = fn.local("d")
        when = self._condition(node["when"], (*path, "when"), fn, ctx) if "when" in node else None
        if when is not None:
            fn.line(f"if {when} is None or {when} == '' or {when} == []:")
            fn.line(f"    {out} = None")
            fn.line("else:")
            fn.depth += 1
        constants: dict[str, Any] = {}
        start = fn.bind(constants, "c")  # filled below; copied when the first field is present
        dynamic = False
        for k, v in node.items():
            if k == "when":
                continue
            result = self._node(v, (*path, str(k)), fn, ctx)
            if isinstance(result, _Const):
                if not absent(result.value):
                    constants[str(k)] = result.value
                continue
            if not dynamic:
                fn.line(f"{out} = None")
                dynamic = True
            fn.line(f"if {result} is not None and {result} != '':")
            fn.line(f"    if {out} is None:")
            fn.line(f"        {out} = dict({start})")
            fn.line(f"    {out}[{str(k)!r}] = {result}")
        if not dynamic and when is None:
            return _Const(dict(constants) if constants else None)
        if not dynamic:
            fn.line(f"{out} = dict({start}) if {start} else None")
        if when is not None:
            fn.depth -= 1
        return out

    def _list(self, items: list[Any], path: DataPath, fn: _Function, ctx: str) -> _Const | str:
        parts: list[tuple[str, Any]] = []  # ("repeat", local list) | ("value", local) | ("const", value)
        for i, item in enumerate(items):
            if isinstance(item, dict) and "for" in item:
                parts.append(("repeat", self._repeated(item, (*path, i), fn, ctx)))
            else:
                result = self._node(item, (*path, i), fn, ctx)
                parts.append(("const", result.value) if isinstance(result, _Const) else ("value", result))
        if all(how == "const" for how, _ in parts):
            constant = [v for _, v in parts if not absent(v)]
            return _Const(list(constant) if constant else None)
        out = fn.local("l")
        fn.line(f"{out} = []")
        for how, value in parts:
            if how == "repeat":
                fn.line(f"{out}.extend({value})")
            elif how == "const":  # what its closure returns: a fresh copy, spliced when a list
                if value is None or value == "":
                    continue
                if isinstance(value, list):
                    fn.line(f"{out}.extend({fn.bind(value, 'c')})")
                else:
                    fn.line(f"{out}.append({self._fresh(value, fn)})")
            else:
                fn.line(f"if {value} is not None and {value} != '':")
                fn.line(f"    if isinstance({value}, list):")
                fn.line(f"        {out}.extend({value})")
                fn.line("    else:")
                fn.line(f"        {out}.append({value})")
        fn.line(f"{out} = {out} or None")
        return out

    def _repeated(self, node: dict[str, Any], path: DataPath, fn: _Function, ctx: str) -> str:
        each = iterator_of(self.iterator, node, path)
        out = fn.local("r")
        item = fn.local("c")
        fn.line(f"{out} = []")
        generated = self._v2_iterator(node["for"].strip())
        items = f"{generated}({ctx}, view)" if generated else f"{fn.bind(each, 'it')}({ctx})"
        fn.line(f"for {item} in {items}:")
        fn.depth += 1
        fn.line(_scope(item))
        body = self._dict({k: v for k, v in node.items() if k != "for"}, path, fn, item)
        if isinstance(body, _Const):
            if body.value is not None:
                fn.line(f"{out}.append({self._fresh(body.value, fn)})")
            else:
                fn.line("pass")
        else:
            fn.line(f"if {body} is not None:")
            fn.line(f"    {out}.append({body})")
        fn.depth -= 1
        return out

    def _condition(self, text: Any, path: DataPath, fn: _Function, ctx: str) -> str:
        if not isinstance(text, str) or not _EXPR.fullmatch(text.strip()):
            raise CompileError("expected one {{ expression }}", path)
        result = self._node(text.strip(), path, fn, ctx)
        assert isinstance(result, str)
        return result

    # -- expressions ------------------------------------------------------------------------------------------

    def _expression(self, text: str, field: str, fn: _Function, ctx: str) -> str:
        chains = self.expressions.parse(text, field)
        out = fn.local()
        self._chain(chains[0], fn, ctx, out)
        if len(chains) == 2:
            fn.line(f"if {out} is None or {out} == '' or {out} == []:")
            fn.depth += 1
            self._chain(chains[1], fn, ctx, out)
            fn.depth -= 1
        elif len(chains) > 2:
            opened = 0
            absent_ = f"{out} is None or {out} == '' or {out} == [] or {out} == {{}}"
            for chain in chains[1:]:
                fn.line(f"if {absent_}:")
                fn.depth += 1
                opened += 1
                self._chain(chain, fn, ctx, out)
            fn.line(f"if {absent_}:")
            fn.line(f"    {out} = None")
            fn.depth -= opened
        return out

    def _chain(self, chain: Chain, fn: _Function, ctx: str, out: str) -> None:
        fn.line(f"{out} = {self._term(chain, fn, ctx)}")
        if not chain.steps:
            return
        fn.line("try:")
        fn.depth += 1
        for step in chain.steps:
            self._step(step, fn, out)
        fn.depth -= 1
        fn.line("except BadValue as exc:")
        fn.line(f"    {ctx}.run.notes.append(exc)")
        fn.line(f"    {out} = None")

    def _step(self, step: Step, fn: _Function, out: str) -> None:
        """A filter applied to ``out``: written out when it is a line of filters.py, else its closure called."""
        name, args = step.name, step.args
        if name in ("code", "display"):
            fn.line(f"if {out} is not None:")
            fn.line(f"    {out} = {fn.bind(self.expressions.tables[str(args[0])], 't')}.lookup(str({out}))")
            fn.line(f"    if {out} is not None:")
            fn.line(f"        {out} = {out}.{name}")
        elif name == "default":
            fn.line(f"if {out} is None or {out} == '':")
            fn.line(f"    {out} = {self._fresh(args[0], fn)}")
        elif name == "nonempty":
            fn.line(f"{out} = {self._fresh(args[0], fn)} if {out} not in (None, '', []) else None")
        elif name in ("prefix", "suffix"):
            extra = str(args[0])
            joined = f"{extra!r} + format({out}, '')" if name == "prefix" else f"format({out}, '') + {extra!r}"
            fn.line(f"if {out} is not None:")
            fn.line(f"    {out} = {joined}")
        else:
            fn.line(f"{out} = {fn.bind(step.fn, 'f')}({out})")

    def _term(self, chain: Chain, fn: _Function, ctx: str) -> str:
        term = chain.term
        if term.kind == "literal":
            return repr(term.value)
        if term.kind == "var":
            return f"({ctx}.run.vars.get({term.text!r}) or None)"
        if term.kind == "index":
            return f"{ctx}.index"
        if term.kind == "path":
            return _read(self._v2_getter(term.text, fn), ctx)
        return f"{fn.bind(term.get, 'g')}({ctx})"

    def _v2_getter(self, path: str, fn: _Function) -> str:
        """A generated function reading one HL7 v2 path (paths.v2_getter and paths._value, unrolled)."""
        name = self.v2_paths.get(path)
        if name is not None:
            return name
        p = paths._parts(path)
        seg, occ, field, rep, comp, sub = p["seg"], p["occ"], p["field"], p["rep"] or 1, p["comp"], p["sub"]
        name = f"_p{len(self.v2_paths)}"
        self.v2_paths[path] = name
        w = self.getters
        w.depth = 0
        w.line(f"def {name}(ctx, view):  # {path}")
        w.depth = 1
        if seg is None and field is None:
            w.line("value = ctx.current_rep()")
            w.line("if value is None:")
            w.line("    return None")
        elif seg == "MSH" and field in (1, 2):
            w.line(f"return {w.bind(paths.v2_getter(path), 'g')}(ctx)")
            return name
        else:
            _field(w, seg, occ, field, "None")
            if rep > 1:
                w.line("reps = value.split(view.rep_sep)")
                w.line(f"value = reps[{rep - 1}] if {rep} <= len(reps) else ''")
            else:
                w.line("value = value.partition(view.rep_sep)[0]")
        w.line("seps = view.seps")
        if comp:
            if comp == 1:
                w.line("value = value.partition(seps[0])[0]")
            else:
                w.line("if seps[0] not in value:")
                w.line("    return None")
                w.line("parts = value.split(seps[0])")
                w.line(f"value = parts[{comp - 1}] if {comp} <= len(parts) else ''")
            if sub:
                w.line("sub = seps[3] if len(seps) > 3 else '&'")
                if sub == 1:
                    w.line("value = value.partition(sub)[0]")
                else:
                    w.line("if sub not in value:")
                    w.line("    return None")
                    w.line("parts = value.split(sub)")
                    w.line(f"value = parts[{sub - 1}] if {sub} <= len(parts) else ''")
        w.line("if not value or value == '\"\"':")
        w.line("    return None")
        w.line("return unescape(value, seps, view.field_sep) if seps[2] in value else value")
        return name


    def _v2_iterator(self, path: str) -> str | None:
        """A generated function for ``for:`` over segments or a field's repetitions (paths.v2_iterator, unrolled);
        None for ``X before Y``, which keeps its closure."""
        if paths._BEFORE.fullmatch(path):
            return None
        name = self.v2_paths.get(f"for {path}")
        if name is not None:
            return name
        p = paths._parts(path)
        seg, occ, field = p["seg"], p["occ"], p["field"]
        name = f"_p{len(self.v2_paths)}"
        self.v2_paths[f"for {path}"] = name
        w = self.getters
        w.depth = 0
        w.line(f"def {name}(ctx, view):  # for: {path}")
        w.depth = 1
        if field is None:  # segments, within the enclosing group
            w.line(f"found = view.by_id.get({seg!r}, ())")
            w.line("if not found:")
            w.line("    return ()")
            w.line("start = ctx.current_segment()")
            w.line(f"if start >= 0 and not view.texts[start].startswith({seg!r}):")
            w.line("    end = view.group_end(start)")
            w.line("    found = [i for i in found if start < i < end]")
            w.line("return [ctx.child(pos=i, index=n) for n, i in enumerate(found, 1)]")
            return name
        _field(w, seg, occ, field, "()")
        if seg == "MSH" and field <= 2:
            w.line("reps = [value] if pos == 0 else value.split(view.rep_sep)")
        else:
            w.line("reps = value.split(view.rep_sep)")
        w.line("return [ctx.child(pos=pos, rep=r, index=n) for n, r in enumerate(reps, 1) if r and r != '\"\"']")
        return name


# A path read twice in one context of a function is read once: reads are written as markers, and _reads makes
# each marker a call, or for a path read again a local set on the first read (the message does not change).
_UNREAD = object()
_READ = re.compile("\x00read (\\w+) (\\w+)\x00")
_SCOPE = re.compile("( *)\x00scope (\\w+)\x00")


def _read(getter: str, ctx: str) -> str:
    return f"\x00read {getter} {ctx}\x00"


def _scope(ctx: str) -> str:
    """Where the reads in ``ctx`` begin: the start of the function, or of a for: item's loop body."""
    return f"\x00scope {ctx}\x00"


def _reads(lines: list[str]) -> list[str]:
    counts = Counter(m.groups() for line in lines for m in _READ.finditer(line))
    again = {read: f"m{i}" for i, read in enumerate(sorted(r for r, n in counts.items() if n > 1))}

    def call(m: re.Match[str]) -> str:
        getter, ctx = m.groups()
        local = again.get((getter, ctx))
        if local is None:
            return f"{getter}({ctx}, view)"
        return f"({local} if {local} is not _UNREAD else ({local} := {getter}({ctx}, view)))"

    out = []
    for line in lines:
        scope = _SCOPE.fullmatch(line)
        if scope is None:
            out.append(_READ.sub(call, line))
            continue
        locals_ = [local for (_, ctx), local in again.items() if ctx == scope[2]]
        if locals_:
            out.append(f"{scope[1]}{' = '.join(locals_)} = _UNREAD")
    return out


def _field(w: _Function, seg: str | None, occ: int | None, field: int, nothing: str) -> None:
    """Statements leaving in ``pos`` the segment a path names here (paths._position) and in ``value`` the raw text
    of its field; ``return nothing`` when there is none."""
    if seg is None:
        w.line("pos = ctx.current_segment()")
    elif occ:
        w.line(f"found = view.by_id.get({seg!r}, ())")
        w.line(f"pos = found[{occ - 1}] if {occ} <= len(found) else -1")
    else:
        w.line(f"found = view.by_id.get({seg!r})")
        w.line(f"pos = found[0] if found is not None and len(found) == 1 else ctx.position_of({seg!r})")
    w.line("if pos < 0:")
    w.line(f"    return {nothing}")
    w.line("fields = view.split[pos] or view.fields(pos)")
    w.line(f"if {field} >= len(fields):")
    w.line(f"    return {nothing}")
    w.line(f"value = fields[{field}]")
    w.line("if not value:")
    w.line(f"    return {nothing}")
