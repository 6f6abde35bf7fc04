"""FHIR Bulk Data export (HL7 Bulk Data Access IG v2): what a kick-off may ask, and the names of what it makes.

The kick-off takes ``_outputFormat`` (NDJSON only), ``_since`` (a FHIR instant) and ``_type``. Every other
parameter is refused, ``_typeFilter`` and ``_elements`` included: an export that quietly ignored a filter would
hand out more residents' data than was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
NDJSON = "application/fhir+ndjson"
LEVELS = ("system", "patient", "group")
FILE_LINES = 50_000  # resources per output file; a type with more is split into further files
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_JOB = re.compile(r"^[0-9a-f]{32}$")
_FILE = re.compile(r"^(?P<type>[A-Z][A-Za-z]{1,63})-(?P<part>[1-9][0-9]{0,5})\.ndjson$")


class BadParameter(ValueError):
    """A kick-off we refuse (400); the message names the parameter."""


@dataclass(frozen=True, slots=True)
class Asked:
    """A kick-off's parameters: the types asked for (None: all) and ``_since`` in epoch seconds."""

    types: tuple[str, ...] | None
    since: float | None


def kick_off(query: Sequence[tuple[str, str]]) -> Asked:
    types: list[str] | None = None
    since: float | None = None
    for name, value in query:
        if name == "_outputFormat":
            if value not in OUTPUT_FORMATS:
                raise BadParameter(f"_outputFormat: {value!r} is not served; use {', '.join(OUTPUT_FORMATS)}")
        elif name == "_since":
            if since is not None:
                raise BadParameter("_since: give it once")
            since = instant(value)
        elif name == "_type":
            asked = [v.strip() for v in value.split(",") if v.strip()]
            wrong = [v for v in asked if not _TYPE.match(v)]
            if wrong or not asked:
                raise BadParameter(f"_type: {value!r} is no comma-separated list of FHIR resource types")
            types = [*(types or []), *asked]
        else:
            raise BadParameter(f"{name} is not supported by this $export; it takes _outputFormat, _since and _type")
    return Asked(tuple(dict.fromkeys(types)) if types is not None else None, since)


def instant(value: str) -> float:
    """A FHIR instant (seconds and a time zone required) as epoch seconds."""
    if not _INSTANT.match(value):
        raise BadParameter(f"_since: {value!r} is no FHIR instant, e.g. 2026-07-01T00:00:00Z or …T08:00:00+08:00")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadParameter(f"_since: {value!r} is no date and time that exists") from None


def file_name(kind: str, part: int) -> str:
    return f"{kind}-{part}.ndjson"


def file_type(name: str) -> str | None:
    """The resource type an output file holds, or None when the name is none of ours."""
    m = _FILE.match(name)
    return m.group("type") if m else None


def is_job_id(value: str) -> bool:
    return bool(_JOB.match(value))
