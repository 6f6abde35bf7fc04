"""The mapping engine: declarative YAML mappings compiled into functions that turn one message into FHIR R4
(generated Python source for HL7 v2 mappings, codegen.py; closures for XML and JSON, template.py).

    mappings = load_mappings(Path("mappings"))          # engine.config.mappings: read + compile, with errors
    mapping = mappings.choose(["hl7v2/adt"], "ADT^A01")   # the first named mapping that takes this type
    mapped = mapping.map(message, source_system="his")    # Mapped: resources (dicts) + events

Pure: a mapping reads only the message, its code tables and the variables it is given. The file format
is documented in docs/mappings.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .codegen import CodeCache
from .compiler import INPUTS, Located, Mapping, Reader, Source, compile_mapping
from .errors import BadValue, CompileError, MappingError, NoMapping
from .result import MRN_TYPE, RESIDENT_ID_SYSTEM, Event, Mapped, Resource
from .tables import Code, CodeTable, table_from_csv, table_from_data

__all__ = [
    "INPUTS",
    "MRN_TYPE",
    "RESIDENT_ID_SYSTEM",
    "BadValue",
    "Code",
    "CodeCache",
    "CodeTable",
    "CompileError",
    "Event",
    "Located",
    "Mapped",
    "Mapping",
    "MappingError",
    "MappingSet",
    "NoMapping",
    "Reader",
    "Resource",
    "Source",
    "compile_mapping",
    "table_from_csv",
    "table_from_data",
]


@dataclass
class MappingSet:
    """Every compiled mapping and code table of a mappings directory, by name."""

    mappings: dict[str, Mapping] = field(default_factory=dict)
    tables: dict[str, CodeTable] = field(default_factory=dict)

    def get(self, name: str) -> Mapping:
        try:
            return self.mappings[name]
        except KeyError:
            known = ", ".join(sorted(self.mappings)) or "none"
            raise MappingError(f"no mapping {name!r} (known: {known})") from None

    def choose(self, names: Iterable[str] | None, message_type: str, *, input: str = "hl7v2") -> Mapping | None:
        """The first of ``names`` (all mappings of ``input`` when None) that takes ``message_type``."""
        candidates = [self.get(n) for n in names] if names is not None else [
            m for m in self.mappings.values() if m.input == input
        ]
        return next((m for m in candidates if m.accepts(message_type)), None)
