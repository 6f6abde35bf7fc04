"""Read one YAML file into plain data while remembering where every key and value came from.

PyYAML's ``safe_load`` throws positions away, so we ``compose`` the node tree and build the data
ourselves: each value's and each key's line/column is kept in side tables indexed by the path of
keys and list indexes that leads to it, e.g. ``("destinations", 1, "target")``. Environment
substitution happens here too, per scalar, so its errors point at that scalar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .envsubst import SubstitutionError, substitute
from .errors import WHOLE_FILE, ConfigError

DataPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int


def _pos(mark: yaml.Mark | None) -> Pos:
    if mark is None:
        return Pos(1, 1)
    return Pos(mark.line + 1, mark.column + 1)


def dotted(path: DataPath) -> str:
    """Render a data path as engineers write it: ``destinations[1].target``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """One configuration file: its data, the positions of its parts, and errors found so far."""

    file: Path
    data: Any = None
    values: dict[DataPath, Pos] = field(default_factory=dict)
    keys: dict[DataPath, Pos] = field(default_factory=dict)
    #: Values that could not be read (bad substitution, bad tag); schema errors there are noise.
    poisoned: set[DataPath] = field(default_factory=set)
    errors: list[ConfigError] = field(default_factory=list)
    #: False when the file could not be read or parsed at all.
    parsed: bool = False

    def value_pos(self, path: DataPath) -> Pos:
        """Position of the value at ``path``, or of its nearest ancestor that exists."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Pos(1, 1))

    def key_pos(self, path: DataPath) -> Pos:
        """Position of the key that names ``path``; the value's position when there is no key."""
        return self.keys.get(path) or self.value_pos(path)

    def error(self, pos: Pos, field_name: str, message: str) -> ConfigError:
        err = ConfigError(self.file, pos.line, pos.column, field_name, message)
        self.errors.append(err)
        return err

    def is_poisoned(self, path: DataPath) -> bool:
        return any(path[: len(p)] == p for p in self.poisoned)


def _line_col(text: str, index: int) -> Pos:
    line = text.count("\n", 0, index) + 1
    return Pos(line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _syntax_message(exc: yaml.MarkedYAMLError, line_text: str = "") -> str:
    problem = exc.problem or str(exc)
    context = exc.context or ""
    if context and problem.startswith("but "):
        msg = f"{context}, {problem}"
    elif context and exc.context_mark is not None:
        mark = exc.context_mark
        msg = f"{problem} ({context} at line {mark.line + 1}, column {mark.column + 1})"
    elif context:
        msg = f"{problem} ({context})"
    else:
        msg = problem
    if "'\\t'" in problem:
        msg += "; YAML does not allow tabs for indentation, use spaces"
    elif "${" in line_text and ("flow" in context or "'{'" in problem):
        msg += "; inside [ ] or { }, quote a value that contains ${...}, e.g. listen: '${LISTEN}'"
    return f"YAML syntax error: {msg}"


def _value_message(exc: yaml.MarkedYAMLError) -> str:
    """A tag PyYAML cannot build (``!!python/object``...): not a syntax error, a value we refuse."""
    return f"cannot read this value: {exc.problem or exc}; remove the '!' tag"


class _Builder:
    """Turns a composed node tree into dicts, lists and scalars, recording positions."""

    def __init__(self, doc: Document, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.environ = environ
        self.loader = yaml.SafeLoader("")
        self._active: set[int] = set()

    def build(self, node: Node, path: DataPath) -> Any:
        self.doc.values[path] = _pos(node.start_mark)
        if id(node) in self._active:
            self.doc.error(_pos(node.start_mark), dotted(path) or WHOLE_FILE, "recursive YAML alias")
            self.doc.poisoned.add(path)
            return None
        if isinstance(node, MappingNode):
            self._active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self._active.discard(id(node))
        if isinstance(node, SequenceNode):
            self._active.add(id(node))
            try:
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._active.discard(id(node))
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[str, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
        except yaml.MarkedYAMLError as exc:
            self.doc.error(_pos(exc.problem_mark), dotted(path) or WHOLE_FILE, _syntax_message(exc))
            self.doc.poisoned.add(path)
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_pos = _pos(key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                message = "a key must be a plain name, not a list or mapping"
                self.doc.error(key_pos, dotted(path) or WHOLE_FILE, message)
                continue
            # The key's source text, not its YAML 1.1 type: "on:" stays "on", not True.
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                first = self.doc.keys[child]
                message = f"duplicate key '{key}' (first given at line {first.line}, column {first.column})"
                self.doc.error(key_pos, dotted(child), message)
                continue
            self.doc.keys[child] = key_pos
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node: ScalarNode, path: DataPath) -> Any:
        if node.tag == _STR_TAG and "$" in node.value:
            try:
                text = substitute(node.value, self.environ)
            except SubstitutionError as exc:
                self.doc.error(_pos(node.start_mark), dotted(path) or WHOLE_FILE, str(exc))
                self.doc.poisoned.add(path)
                return node.value
            if node.style is not None or text == node.value:
                return text
            # A plain scalar: give the substituted text the type YAML would have given it, so
            # "port: ${PORT:-2575}" is the integer 2575, just as "port: 2575" would be.
            tag = self.loader.resolve(ScalarNode, text, (True, False))
            node = ScalarNode(tag, text, node.start_mark, node.end_mark, style=None)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            pos = _pos(exc.problem_mark or node.start_mark)
            self.doc.error(pos, dotted(path) or WHOLE_FILE, _value_message(exc))
            self.doc.poisoned.add(path)
            return node.value


def read_document(file: Path, environ: Mapping[str, str]) -> Document:
    """Read, parse and substitute one file. Never raises for bad content; see ``Document.errors``."""
    doc = Document(file=file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        doc.error(Pos(1, 1), WHOLE_FILE, f"cannot read file: {exc.strerror or exc}")
        return doc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        pos = _line_col(before + "\0", len(before))
        doc.error(
            pos,
            WHOLE_FILE,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8 "
            "(comments in Chinese saved as GBK cause this)",
        )
        return doc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line_text = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
        doc.error(_pos(mark), WHOLE_FILE, _syntax_message(exc, line_text))
        return doc
    except yaml.reader.ReaderError as exc:
        message = f"YAML syntax error: {exc.reason} (character {exc.character!r})"
        doc.error(_line_col(text, exc.position), WHOLE_FILE, message)
        return doc
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above is marked or a reader error
        doc.error(Pos(1, 1), WHOLE_FILE, f"YAML error: {exc}")
        return doc
    doc.parsed = True
    if node is not None:
        doc.data = _Builder(doc, environ).build(node, ())
    return doc
