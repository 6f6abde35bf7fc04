"""A mapping file (and the fragments it includes) compiled into a `Mapping`: rules of closures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.domain.formats.hl7v2 import Message
from engine.domain.routing import type_matches

from . import paths
from .codegen import CodeCache, SourceCompiler
from .context import Ctx, Run, Scope, V2View
from .errors import CompileError, MappingError
from .expressions import Compiler, absent
from .result import Event, Mapped, Resource
from .template import Build, DataPath, TemplateCompiler

INPUTS = ("hl7v2", "xml", "json")
_FILE_KEYS = {"mapping", "version", "input", "description", "messages", "include", "timezone", "namespaces",
              "resources", "events"}
_RULE_KEYS = {"rule", "resource", "for", "when", "key", "body", "python", "resources"}
_EVENT_KEYS = {"kind", "when", "data"}

Hook = Callable[[dict[str, Any], "Reader"], "dict[str, Any] | None"]


class Reader:
    """What a `python:` rule function may read: values by path, as expressions would."""

    def __init__(self, ctx: Ctx, getter: Callable[[str], paths.Getter]) -> None:
        self._ctx = ctx
        self._getter = getter

    def get(self, path: str) -> Any:
        return self._getter(path)(self._ctx)

    @property
    def source_system(self) -> str:
        return str(self._ctx.run.vars.get("source_system") or "")


@dataclass
class Rule:
    name: str
    resource_type: str
    file: str
    body: Build | None
    each: paths.Iterator | None = None
    when: Build | None = None
    key: Build | None = None
    hook: Hook | None = None
    children: list[Rule] = field(default_factory=list)


@dataclass
class EventRule:
    kind: str
    file: str
    data: Build
    when: Build | None = None


@dataclass
class Mapping:
    name: str
    version: str
    input: str
    file: Path
    messages: tuple[str, ...] | None
    rules: list[Rule]
    events: list[EventRule]
    getter: Callable[[str], paths.Getter]
    description: str = ""

    def accepts(self, message_type: str) -> bool:
        if self.input != "hl7v2":  # XML root element names and JSON tables are matched whole
            return self.messages is None or message_type in self.messages
        return type_matches(self.messages, message_type)

    def map(self, document: Message | Any, *, source_system: str = "", message_type: str = "",
            control_id: str = "") -> Mapped:
        """Resources and events for one message (a decoded HL7 v2 Message, an XML root element, or parsed JSON)."""
        run = Run({"source_system": source_system, "message_type": message_type, "control_id": control_id})
        if self.input == "hl7v2":
            root = Ctx(run, None, None, view=V2View(document))
        else:
            root = Ctx(run, None, None, node=document)
        out: list[Resource | None] = []
        _run_rules(self.rules, root, out, self.getter)
        events = []
        for ev in self.events:
            try:
                if ev.when is not None and absent(ev.when(root)):
                    continue
                events.append(Event(ev.kind, ev.data(root) or {}))
            except MappingError as exc:
                raise exc.located(file=ev.file, rule=f"event {ev.kind}") from None
        resources = tuple(r for r in out if r is not None)
        return Mapped(self.name, self.version, resources, tuple(events), tuple(dict.fromkeys(map(str, run.notes))))


def _run_rules(rules: list[Rule], ctx: Ctx, out: list[Resource | None], getter: Callable[[str], paths.Getter]) -> None:
    for rule in rules:
        try:
            contexts = rule.each(ctx) if rule.each is not None else [ctx]
            for item in contexts:
                if rule.when is not None and absent(rule.when(item)):
                    continue
                segment = item.current_segment() if item.view is not None and rule.each is not None else -1
                local_id, ref = item.run.new_ref(rule.name, rule.resource_type, segment)
                parent = item.scope
                if parent is not None:
                    parent.children.setdefault(rule.name, []).append(ref)
                inner = item.with_scope(Scope(rule.name, ref, parent))
                slot = len(out)
                out.append(None)
                if rule.children:
                    _run_rules(rule.children, inner, out, getter)
                noted = len(item.run.notes)
                body = rule.body(inner) if rule.body is not None else None
                notes = item.run.notes
                notes[noted:] = [n.located(file=rule.file, rule=rule.name) for n in notes[noted:]]
                resource: dict[str, Any] | None = {"resourceType": rule.resource_type, "id": local_id, **(body or {})}
                if rule.hook is not None and resource is not None:
                    resource = rule.hook(resource, Reader(inner, getter))
                if resource is None:
                    continue
                key = rule.key(inner) if rule.key is not None else None
                out[slot] = Resource(rule.name, "" if absent(key) else str(key), resource)
        except MappingError as exc:
            raise exc.located(file=rule.file, rule=rule.name) from None
        except Exception as exc:  # a python: function failed; say where
            raise MappingError(f"{type(exc).__name__}: {exc}", file=rule.file, rule=rule.name) from None


@dataclass
class Source:
    """One mapping or fragment file as read: its data, and a way to place a data path in it."""

    name: str
    file: Path
    data: dict[str, Any]
    locate: Callable[[DataPath], tuple[int, int]]
    text: bytes


class Located(Exception):
    """A compile error with its file and position."""

    def __init__(self, file: Path, line: int, column: int, field: str, message: str) -> None:
        self.file, self.line, self.column, self.field, self.message = file, line, column, field, message
        super().__init__(f"{file}:{line}:{column}: {field}: {message}")


def _check_keys(data: dict[str, Any], allowed: set[str], path: DataPath, what: str) -> None:
    unknown = sorted(str(k) for k in set(data) - allowed)
    if unknown:
        raise CompileError(f"unknown key {unknown[0]!r} in {what}; expected one of {', '.join(sorted(allowed))}",
                           (*path, unknown[0]))


def compile_mapping(
    source: Source,
    *,
    load: Callable[[str], Source],
    tables: dict[str, Any],
    functions: Callable[[str], Callable[..., Any]],
    generated: CodeCache | None = None,
) -> Mapping:
    """Compile one runnable mapping; raises Located for the first error, with its file position. With
    ``generated``, the templates of an HL7 v2 mapping become generated Python functions (codegen.py), their
    compiled code cached there; else, and for XML and JSON mappings, closures (template.py): reading XPath and
    JSON is most of their time, and generated code saved them only 5-14% (docs/benchmarks.md)."""
    current = source

    def fail(exc: CompileError) -> Located:
        line, col = current.locate(exc.path)
        field = ".".join(str(p) for p in exc.path) or "(file)"
        return Located(current.file, line, col, field, str(exc))

    try:
        data = source.data
        _check_keys(data, _FILE_KEYS, (), "a mapping file")
        if data.get("mapping") != source.name:
            raise CompileError(f"mapping: must be {source.name!r}, the file's path under mappings/", ("mapping",))
        kind = data.get("input")
        if kind not in INPUTS:
            raise CompileError(f"input: must be one of {', '.join(INPUTS)}", ("input",))
        namespaces = data.get("namespaces") or {}
        if not isinstance(namespaces, dict):
            raise CompileError("namespaces: maps prefixes to namespace URIs", ("namespaces",))
        timezone = data.get("timezone")
        messages = data.get("messages")
        if messages is not None and (not isinstance(messages, list) or not messages):
            raise CompileError("messages: is a list of message types, e.g. [ADT^A01, ADT^A04]", ("messages",))

        sources = []
        for i, name in enumerate(data.get("include") or []):
            try:
                included = load(str(name))
            except FileNotFoundError:
                raise CompileError(f"include: no fragment {name!r} (expected mappings/{name}.yaml)",
                                   ("include", i)) from None
            sources.append(included)
        sources.append(source)
        digest = hashlib.blake2b(b"".join(s.text for s in sources), digest_size=4).hexdigest()
        version = f"{data.get('version', '0')}+{digest}"
    except CompileError as exc:
        raise fail(exc) from None

    getters: dict[str, paths.Getter] = {}

    def getter(path: str) -> paths.Getter:
        found = getters.get(path)
        if found is None:
            if kind == "hl7v2":
                found = paths.v2_getter(path)
            elif kind == "json":
                found = paths.json_getter(path)
            else:
                found = paths.xml_getter(path, namespaces)
            getters[path] = found
        return found

    def all_getter(path: str) -> paths.Getter:
        if kind == "json":
            return paths.json_all_getter(path)
        return paths.v2_all_getter(path) if kind == "hl7v2" else paths.xml_all_getter(path, namespaces)

    def iterator(path: str) -> paths.Iterator:
        if kind == "hl7v2":
            return paths.v2_iterator(path)
        if kind == "json":
            return paths.json_iterator(path)
        return paths.xml_iterator(path, namespaces)

    names: set[str] = set()
    for s in sources:
        _collect_names(s.data.get("resources") or [], names)
    expressions = Compiler(
        path_getter=getter, all_getter=all_getter, tables=tables, functions=functions, timezone=timezone, rules=names
    )
    templates: TemplateCompiler | SourceCompiler = (
        SourceCompiler(expressions, iterator, version, generated) if generated is not None and kind == "hl7v2"
        else TemplateCompiler(expressions, iterator)
    )

    rules: list[Rule] = []
    events: list[EventRule] = []
    seen: set[str] = set()
    for s in sources:
        current = s
        if isinstance(templates, SourceCompiler):
            templates.origin = s.name
        try:
            if s is not source:
                _check_keys(s.data, _FILE_KEYS, (), "a fragment file")
                if s.data.get("input", kind) != kind:
                    raise CompileError(f"this fragment is for input {s.data.get('input')}, not {kind}", ("input",))
            items = s.data.get("resources") or []
            if not isinstance(items, list):
                raise CompileError("resources: is a list of rules", ("resources",))
            rules.extend(_rules(items, ("resources",), s, templates, iterator, functions, seen))
            for i, ev in enumerate(s.data.get("events") or []):
                events.append(_event(ev, ("events", i), s, templates))
        except CompileError as exc:
            raise fail(exc) from None
    return Mapping(source.name, version, kind, source.file, tuple(messages) if messages else None, rules, events,
                   getter, str(data.get("description") or ""))


def _collect_names(items: Any, names: set[str]) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("rule"), str):
            names.add(item["rule"])
            _collect_names(item.get("resources") or [], names)


def _rules(items: list[Any], path: DataPath, source: Source, templates: TemplateCompiler | SourceCompiler,
           iterator: Callable[[str], paths.Iterator], functions: Callable[[str], Callable[..., Any]],
           seen: set[str]) -> list[Rule]:
    out = []
    for i, item in enumerate(items):
        where = (*path, i)
        if not isinstance(item, dict):
            raise CompileError("a rule is a mapping with rule:, resource: and body:", where)
        _check_keys(item, _RULE_KEYS, where, "a rule")
        name = item.get("rule")
        if not isinstance(name, str) or not name:
            raise CompileError("rule: names the rule (letters, digits, -, _)", (*where, "rule"))
        if name in seen:
            raise CompileError(f"rule {name!r} is defined twice (includes count)", (*where, "rule"))
        seen.add(name)
        resource_type = item.get("resource")
        if not isinstance(resource_type, str) or not resource_type[:1].isupper():
            raise CompileError("resource: is a FHIR resource type, e.g. Patient", (*where, "resource"))
        body = item.get("body")
        if body is not None and not isinstance(body, dict):
            raise CompileError("body: is the resource as a mapping of FHIR elements", (*where, "body"))
        each = None
        if "for" in item:
            try:
                each = iterator(str(item["for"]).strip())
            except CompileError as exc:
                raise CompileError(str(exc), (*where, "for")) from None
        hook = None
        if item.get("python"):
            try:
                hook = functions(str(item["python"]))
            except CompileError as exc:
                raise CompileError(str(exc), (*where, "python")) from None
        rule = Rule(
            name,
            resource_type,
            str(source.file),
            templates.value(body, (*where, "body")) if body else None,
            each,
            templates.condition(item["when"], (*where, "when")) if "when" in item else None,
            templates.value(item["key"], (*where, "key")) if "key" in item else None,
            hook,
        )
        children = item.get("resources") or []
        if not isinstance(children, list):
            raise CompileError("resources: is a list of child rules", (*where, "resources"))
        rule.children = _rules(children, (*where, "resources"), source, templates, iterator, functions, seen)
        out.append(rule)
    return out


def _event(item: Any, where: DataPath, source: Source, templates: TemplateCompiler | SourceCompiler) -> EventRule:
    if not isinstance(item, dict):
        raise CompileError("an event is a mapping with kind: and data:", where)
    _check_keys(item, _EVENT_KEYS, where, "an event")
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind:
        raise CompileError("kind: names the event, e.g. patient.merge", (*where, "kind"))
    return EventRule(
        kind,
        str(source.file),
        templates.value(item.get("data") or {}, (*where, "data")),
        templates.condition(item["when"], (*where, "when")) if "when" in item else None,
    )
