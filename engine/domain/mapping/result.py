"""What a mapping produces for one message: FHIR R4 resources (as dicts) and events. Pure values.

The contract between the mapping engine (which builds them) and the unified health record, the FHIR
destination and ``huitong convert`` (which consume them):

- ``Resource.body`` is FHIR R4 JSON. Its ``id`` is local to the message (``"<rule>-<n>"``) and
  references between resources of the same result are ``"<Type>/<local id>"``; consumers rewrite them
  (the record to its own ids, ``convert`` to ``urn:uuid:`` full URLs).
- ``Resource.key`` is the source's own identity for the fact (a visit number, an order number + test
  code); a later message from the same source with the same key replaces it. ``""`` means the source
  gives none, and the record keys the fact by its content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# GB 11643 resident identity card number (居民身份证号): the OID WS/T 500 documents use as <id root>.
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
# v2 table 0203 identifier type of a source's own patient number (medical record number).
MRN_TYPE = "MR"


@dataclass(frozen=True, slots=True)
class Resource:
    rule: str
    key: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["resourceType"])


@dataclass(frozen=True, slots=True)
class Event:
    """Something a message says beyond its facts, e.g. ``patient.merge`` (ADT^A40).

    ``patient.merge`` data: ``{"surviving": [identifier, ...], "retired": [identifier, ...]}`` with FHIR
    Identifier dicts (PID-3 and MRG-1).
    """

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Mapped:
    mapping: str  # e.g. "hl7v2/adt"
    version: str  # the mapping file's version and content digest, e.g. "1+3fa2c1d0"; kept in provenance
    resources: tuple[Resource, ...] = ()
    events: tuple[Event, ...] = field(default=())
    notes: tuple[str, ...] = ()  # values of the message left out, and why (errors.BadValue); no values themselves

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources if r.type == resource_type]
