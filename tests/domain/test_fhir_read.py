"""What the FHIR intake accepts, what it names, and the transaction Bundle a message becomes. Pure."""

from __future__ import annotations

import re

import pytest

from engine.domain.formats.fhir import FhirError, read_fhir
from engine.domain.formats.fhir.transaction import transaction_bundle
from engine.domain.mapping.result import Resource


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[1, 2]", "expected a JSON object (a FHIR resource), got an array"),
        (b'{"resourceType": "Bundle", "type": "document"}', "type: expected one of batch, collection, searchset"),
        (
            b'{"resourceType": "Bundle", "type": "batch", "entry": [{}, {}, {}, {"resource": {}}]}',
            "entry[0]: missing resource",
        ),
        (
            b'{"resourceType": "Bundle", "type": "batch", "entry": '
            b'[{"resource": {"resourceType": "Patient"}}, {"resource": {}}]}',
            "entry[1].resource: missing resourceType",
        ),
    ],
)
def test_a_refused_payload_names_the_field(payload: bytes, reason: str) -> None:
    with pytest.raises(FhirError, match=re.escape(reason)):
        read_fhir(payload)


def test_a_bundle_is_typed_with_its_kind_and_keyed_by_its_identifier() -> None:
    found = read_fhir(b'{"resourceType": "Bundle", "type": "transaction", "identifier": {"value": "T-9"}, "entry": []}')
    assert (found.message_type, found.control_id) == ("Bundle^transaction", "T-9")


def test_the_same_message_always_yields_the_same_bundle_and_keys_resources_without_identifiers() -> None:
    resources = (
        Resource("pid", "", {"resourceType": "Patient", "id": "p", "identifier": [{"system": "s|x", "value": "1"}]}),
        Resource("obx", "", {"resourceType": "Observation", "id": "o", "subject": {"reference": "Patient/p"}}),
    )
    first = transaction_bundle(resources, source_system="his", message_id=3)
    assert first == transaction_bundle(resources, source_system="his", message_id=3)
    patient, observation = first["entry"]
    assert patient["request"] == {"method": "PUT", "url": r"Patient?identifier=s%5C%7Cx|1"}
    assert observation["resource"]["subject"]["reference"] == patient["fullUrl"]
    assert observation["resource"]["identifier"][0]["system"] == "urn:huitong:key:his"
    assert "id" not in observation["resource"]
