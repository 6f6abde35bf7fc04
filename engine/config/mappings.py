"""Read the mappings directory: code tables, Python functions, mapping files, each compiled once.

Errors come back as ConfigError (``file:line:column: field: message``), every one of them, like the
rest of the configuration; a mapping that does not compile never runs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from engine.domain.mapping import (
    CodeCache,
    CodeTable,
    CompileError,
    Located,
    MappingSet,
    Source,
    compile_mapping,
    table_from_csv,
    table_from_data,
)

from ._yaml import read_document
from .errors import WHOLE_FILE, ConfigError


def _functions(directory: Path) -> Callable[[str], Callable[..., Any]]:
    """Resolve ``functions/cn.py:fix_name`` to the function, importing each file once."""
    modules: dict[Path, Any] = {}

    def resolve(spec: str) -> Callable[..., Any]:
        file_part, _, name = spec.partition(":")
        if not file_part.endswith(".py") or not name:
            raise CompileError(f"expected FILE.py:FUNCTION relative to the mappings directory, got {spec!r}")
        file = (directory / file_part).resolve()
        if not file.is_file():
            raise CompileError(f"no file {file_part} in {directory}")
        module = modules.get(file)
        if module is None:
            module_name = f"huitong_mapping_functions.{file.stem}_{abs(hash(file)):x}"
            loader_spec = importlib.util.spec_from_file_location(module_name, file)
            if loader_spec is None or loader_spec.loader is None:
                raise CompileError(f"cannot load {file_part}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except Exception as exc:
                raise CompileError(f"{file_part} failed to import: {type(exc).__name__}: {exc}") from None
            modules[file] = module
        fn = getattr(module, name, None)
        if not callable(fn):
            raise CompileError(f"{file_part} has no function {name!r}")
        return fn  # type: ignore[no-any-return]

    return resolve


def load_table(file: Path) -> CodeTable:
    """One file of mappings/tables/ (YAML, or CSV with ``# key: value`` lines); CompileError names the key."""
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".csv":
        return table_from_csv(file.stem, text)
    return table_from_data(file.stem, yaml.safe_load(text))


def _source(directory: Path, name: str) -> Source:
    file = directory / f"{name}.yaml"
    if not file.is_file():
        raise FileNotFoundError(file)
    doc = read_document(file, {})
    if not doc.parsed or doc.errors:
        err = doc.errors[0] if doc.errors else None
        raise Located(file, err.line if err else 1, err.column if err else 1, WHOLE_FILE,
                      err.message if err else "cannot read the file")
    data = doc.data if isinstance(doc.data, dict) else {}

    def locate(path: tuple[str | int, ...]) -> tuple[int, int]:
        pos = doc.value_pos(path)
        return pos.line, pos.column

    return Source(name, file, data, locate, file.read_bytes())


#: Folders of mappings/ that hold other data than message mappings: code tables, test cases, observation
#: profiles, Python functions, care rules (labels, tasks), indicator definitions and contract data (XSDs,
#: service items).
NOT_MAPPINGS = ("tables", "tests", "profiles", "functions", "care", "indicators", "contract")


#: Generated code of every mapping compiled in this process, by version: a reload compiles only what changed.
_GENERATED: CodeCache = {}


def load_mappings(directory: Path, *, generate: bool = True) -> tuple[MappingSet, list[ConfigError]]:
    """Every table in tables/ and every mapping file (not fragments ``_*.yaml``, not tests/) compiled: HL7 v2
    mappings to generated functions, or with ``generate=False`` to the closures they are checked against (tests,
    bench/mapping.py)."""
    errors: list[ConfigError] = []
    found = MappingSet()
    if not directory.is_dir():  # fine until a channel names a mapping; that channel's error says so
        return found, errors
    tables: dict[str, CodeTable] = {}
    table_dir = directory / "tables"
    if table_dir.is_dir():
        for file in sorted([*table_dir.glob("*.yaml"), *table_dir.glob("*.csv")]):
            try:
                tables[file.stem] = load_table(file)
            except CompileError as exc:
                errors.append(ConfigError(file, 1, 1, ".".join(map(str, exc.path)) or WHOLE_FILE, str(exc)))
            except Exception as exc:  # YAML or CSV syntax
                errors.append(ConfigError(file, 1, 1, WHOLE_FILE, f"cannot read the table: {exc}"))
    found.tables = tables
    functions = _functions(directory)
    cache: dict[str, Source] = {}

    def load(name: str) -> Source:
        if name not in cache:
            cache[name] = _source(directory, name)
        return cache[name]

    for file in sorted(directory.rglob("*.yaml")):
        rel = file.relative_to(directory)
        if rel.parts[0] in NOT_MAPPINGS or file.name.startswith("_"):
            continue
        name = rel.with_suffix("").as_posix()
        try:
            found.mappings[name] = compile_mapping(
                load(name), load=load, tables=tables, functions=functions,
                generated=_GENERATED if generate else None,
            )
        except Located as exc:
            errors.append(ConfigError(exc.file, exc.line, exc.column, exc.field, exc.message))
    return found, errors
