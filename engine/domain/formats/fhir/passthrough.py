"""FHIR that arrived as FHIR needs no mapping: the journaled resource (or the Bundle's resources) as a Mapped."""

from __future__ import annotations

from engine.domain.formats.fhir import bundle_resources, read_fhir
from engine.domain.mapping.result import Mapped, Resource

MAPPING = "fhir/passthrough"


def passthrough(raw: bytes) -> Mapped:
    """The resources of a journaled FHIR payload; raises FhirError when ``raw`` is not FHIR JSON."""
    payload = read_fhir(raw)
    resources = tuple(Resource("passthrough", "", body) for body in bundle_resources(payload.resource))
    return Mapped(MAPPING, "1", resources)
