"""HL7 v2 reference data (segments, fields, data types, tables, message structures) per version.

The facts come from hl7apy's per-version definition modules, which transcribe the HL7 standard. Only
those dictionaries are read, once per version, and compiled into small tuples that the strict validator
walks; hl7apy's parser and element classes are never used (they cost ~18 ms per message).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

# HL7 versions without an hl7apy module are read with the nearest earlier definition.
_MODULES = {
    "2.1": "v2_1",
    "2.2": "v2_2",
    "2.3": "v2_3",
    "2.3.1": "v2_3_1",
    "2.4": "v2_4",
    "2.5": "v2_5",
    "2.5.1": "v2_5_1",
    "2.6": "v2_6",
    "2.7": "v2_7",
    "2.7.1": "v2_7",
    "2.8": "v2_8",
    "2.8.1": "v2_8_1",
    "2.8.2": "v2_8_2",
    "2.9": "v2_8_2",
}
LATEST = "2.8.2"

# Events that share a message structure (HL7 table 0354), for messages whose MSH-9.3 is empty.
_SHARED_STRUCTURES = {
    "ADT_A04": "ADT_A01",
    "ADT_A08": "ADT_A01",
    "ADT_A13": "ADT_A01",
    "ADT_A14": "ADT_A05",
    "ADT_A28": "ADT_A05",
    "ADT_A31": "ADT_A05",
    "ADT_A07": "ADT_A06",
    "ADT_A10": "ADT_A09",
    "ADT_A11": "ADT_A09",
    "ADT_A22": "ADT_A21",
    "ADT_A23": "ADT_A21",
    "ADT_A25": "ADT_A21",
    "ADT_A26": "ADT_A21",
    "ADT_A27": "ADT_A21",
    "ADT_A29": "ADT_A21",
    "ADT_A32": "ADT_A21",
    "ADT_A33": "ADT_A21",
    "ADT_A40": "ADT_A39",
    "ADT_A41": "ADT_A39",
    "ADT_A42": "ADT_A39",
    "MDM_T03": "MDM_T01",
    "MDM_T05": "MDM_T01",
    "MDM_T07": "MDM_T01",
    "MDM_T09": "MDM_T01",
    "MDM_T11": "MDM_T01",
    "MDM_T04": "MDM_T02",
    "MDM_T06": "MDM_T02",
    "MDM_T08": "MDM_T02",
    "MDM_T10": "MDM_T02",
    "SIU_S13": "SIU_S12",
    "SIU_S14": "SIU_S12",
    "SIU_S15": "SIU_S12",
    "SIU_S16": "SIU_S12",
    "SIU_S17": "SIU_S12",
    "SIU_S18": "SIU_S12",
    "SIU_S19": "SIU_S12",
    "SIU_S20": "SIU_S12",
    "SIU_S21": "SIU_S12",
    "SIU_S22": "SIU_S12",
    "SIU_S23": "SIU_S12",
    "SIU_S24": "SIU_S12",
    "SIU_S26": "SIU_S12",
    "BAR_P05": "BAR_P01",
}

Component = tuple[str, str, str | None]  # (data type, readable name, table id)


# hl7apy's definitions for these versions mark conditional (C) fields as required (e.g. OBX-4 in 2.8,
# ORC-7 in 2.3); a field counts as required only if the curated version named here agrees.
_REQUIRED_CROSSCHECK = {
    "2.1": "2.4",
    "2.2": "2.4",
    "2.3": "2.4",
    "2.3.1": "2.4",
    "2.7": "2.8.2",
    "2.7.1": "2.8.2",
    "2.8": "2.8.2",
    "2.8.1": "2.8.2",
}


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of a segment as the standard defines it for a version."""

    number: int
    name: str  # readable, e.g. "date/time of birth"
    datatype: str
    table: str | None
    required: bool


@dataclass(frozen=True, slots=True)
class VersionRef:
    """Compiled reference data for one HL7 version."""

    version: str
    segments: dict[str, tuple[FieldDef, ...]]
    structures: dict[str, tuple[str, ...]]  # structure -> segment IDs it cannot do without
    datatypes: dict[str, tuple[Component | None, ...]]  # composite type -> its components by position
    tables: dict[str, frozenset[str]]

    def structure_for(self, message_type: str, structure: str) -> str:
        """The structure name to check a message against, or ``""`` when unknown."""
        if structure in self.structures:
            return structure
        key = message_type.replace("^", "_")
        if key in self.structures:
            return key
        shared = _SHARED_STRUCTURES.get(key, "")
        return shared if shared in self.structures else ""


def _readable(name: str) -> str:
    return name.lower().replace("_", " ")


def _required_segments(children: Any, groups: dict[str, Any], out: list[str]) -> None:
    """Segments the structure cannot do without: required segments inside required groups."""
    for name, ref, (minimum, _), kind in children:
        if minimum < 1:
            continue
        if kind == "SEG":
            if name not in out:
                out.append(name)
        elif kind == "GRP":
            definition = ref if ref is not None else groups.get(name)
            if definition and definition[0] == "sequence":
                _required_segments(definition[1], groups, out)
            # a "choice" group is satisfied by any one of its members: nothing is individually required


def _component(lib: Any, name: str) -> Component:
    entry = lib.DATATYPES[name]
    return (entry[2], _readable(entry[3]), entry[4])


@cache
def reference(version: str) -> VersionRef | None:
    """Reference data for an HL7 version (compiled once, then cached); ``None`` if unknown."""
    module_name = _MODULES.get(version)
    if module_name is None:
        return None
    lib = importlib.import_module(f"hl7apy.{module_name}")
    segments: dict[str, tuple[FieldDef, ...]] = {}
    for seg_id, entry in lib.SEGMENTS.items():
        if len(seg_id) != 3 or len(entry) != 2:
            continue  # hl7apy's ANYHL7SEGMENT placeholder and a few malformed entries in old versions
        children = entry[1]
        defs: list[FieldDef] = []
        for field_name, field, (minimum, maximum), _ in children:
            if maximum == 0:
                continue  # withdrawn field
            if field is None:
                field = lib.FIELDS[field_name]
            # Numbers come from the names: from v2.7 on, withdrawn fields are left out of the list.
            number = int(field_name.rpartition("_")[2])
            defs.append(FieldDef(number, _readable(field[3]), field[2], field[4], minimum >= 1))
        segments[seg_id] = tuple(defs)
    datatypes: dict[str, tuple[Component | None, ...]] = {}
    for dt, children in lib.DATATYPES_STRUCTS.items():
        by_number = {
            int(c[0].rpartition("_")[2]): (
                (c[1][2], _readable(c[1][3]), c[1][4]) if c[1] is not None else _component(lib, c[0])
            )
            for c in children
        }
        # Position i holds component i+1; withdrawn components (absent from v2.7+ lists) are None.
        datatypes[dt] = tuple(by_number.get(i) for i in range(1, max(by_number, default=0) + 1))
    structures: dict[str, tuple[str, ...]] = {}
    for name, definition in lib.MESSAGES.items():
        required: list[str] = []
        _required_segments(definition[1], lib.GROUPS, required)
        structures[name] = tuple(required)
    tables = {k: frozenset(v[1]) for k, v in getattr(lib, "TABLES", {}).items() if v[1]}
    other = _REQUIRED_CROSSCHECK.get(version)
    if other is not None:
        curated = reference(other)
        assert curated is not None
        for seg_id, compiled in segments.items():
            agreed = {f.number for f in curated.segments.get(seg_id, ()) if f.required}
            segments[seg_id] = tuple(
                f
                if not f.required or f.number in agreed
                else FieldDef(f.number, f.name, f.datatype, f.table, required=False)
                for f in compiled
            )
    return VersionRef(version, segments, structures, datatypes, tables)


@cache
def coding_systems() -> frozenset[str]:
    """HL7 table 0396 (coding systems) across all versions: names are added over time, never reused."""
    names: set[str] = set()
    for module_name in ("v2_4", "v2_5", "v2_5_1", "v2_6", "v2_7", "v2_8", "v2_8_1", "v2_8_2"):
        lib = importlib.import_module(f"hl7apy.{module_name}.tables")
        names.update(n.split(" (")[0] for n in lib.TABLES.get("HL70396", ("", ()))[1])
    # Patterns ("HL7nnnn", "99zzz", ...) are matched by validate.py, not looked up.
    return frozenset(n for n in names if "nnnn" not in n and "zzz" not in n)


@cache
def all_datatypes() -> frozenset[str]:
    """Every HL7 v2 data type name of any version: what OBX-2 may name."""
    names: set[str] = {"ST", "TX", "FT", "NM", "SI", "DT", "DTM", "TM", "TS", "ID", "IS", "GTS", "WD", "TN"}
    for module_name in set(_MODULES.values()):
        lib = importlib.import_module(f"hl7apy.{module_name}.datatypes")
        names.update(lib.DATATYPES_STRUCTS)
        names.update(v[2] for v in lib.DATATYPES.values())
    return frozenset(n for n in names if n and n.isalnum())
