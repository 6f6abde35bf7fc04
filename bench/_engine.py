"""Our engine as the benchmarks and the conformance comparison call it: bytes in, FHIR resource dicts out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config.mappings import load_mappings
from engine.domain.mapping import MappingError, MappingSet
from engine.pipeline.mapping import map_file


def load(directory: Path) -> MappingSet:
    mappings, errors = load_mappings(directory)
    if errors:
        raise SystemExit("\n".join(str(e) for e in errors))
    return mappings


def load_converter(directory: Path) -> Callable[[bytes, str | None], list[dict[str, Any]] | None]:
    """``convert(data, mapping)``: the resources, or None when no mapping takes the message."""
    mappings = load(directory)

    def convert(data: bytes, mapping: str | None) -> list[dict[str, Any]] | None:
        try:
            results = map_file(mappings, [mapping] if mapping else None, data)
        except MappingError as exc:
            if str(exc).startswith("no mapping takes"):
                return None
            raise
        return [r.body for _, mapped in results for r in mapped.resources]

    return convert
