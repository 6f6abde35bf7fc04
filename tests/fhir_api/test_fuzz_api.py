"""schemathesis against a daemon's FHIR API, from the OpenAPI description the daemon derives from its
CapabilityStatement (/fhir/openapi.json): on generated requests, valid and invalid, no answer is a server error,
every answer is the status and FHIR JSON the description promises (a resource, a Bundle or an OperationOutcome,
each valid R4), and a request without a token is refused 401."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fhir_api.server import Server, make_token, valid_r4

EXAMPLES = 300  # about 20 s against a SQLite store on a busy machine
OPEN = {"/metadata"}  # what answers without a token


@pytest.fixture(scope="module")
def described(fhir: Server) -> Any:
    return schemathesis.openapi.from_url(f"{fhir}/openapi.json")


def fuzz(**kwargs: Any) -> Any:
    return settings(
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


def test_the_description_lists_every_interaction_of_the_capability_statement(described: Any) -> None:
    paths = {op.ok().path for op in described.get_all_operations()}
    assert {"/metadata", "/Patient", "/Patient/{id}", "/Patient/{id}/_history", "/Patient/{id}/_history/{vid}"} <= paths
    assert {"/Observation", "/AuditEvent", "/AuditEvent/{id}"} <= paths


def test_no_generated_request_gets_a_server_error_or_a_non_fhir_answer(fhir: Server, described: Any) -> None:
    token = make_token(fhir.config, "--scope", "system/*.read", "--scope", "system/AuditEvent.read")
    headers = {"Authorization": f"Bearer {token}"}
    cases = st.one_of(described.as_strategy(), described.as_strategy(GenerationMode.NEGATIVE))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    @fuzz(max_examples=EXAMPLES)
    @given(case=cases)
    def request(case: Any) -> None:
        answer = case.call(base_url=fhir.base, headers=headers)
        body = valid_r4(answer.json())
        if answer.status_code >= 400:
            assert body["resourceType"] == "OperationOutcome"
        else:
            case.validate_response(answer, checks=checks)

    request()


def test_a_generated_request_without_a_token_is_refused_401(fhir: Server, described: Any) -> None:
    @fuzz(max_examples=EXAMPLES // 5)
    @given(case=described.as_strategy())
    def request(case: Any) -> None:
        answer = case.call(base_url=fhir.base)
        if case.operation.path not in OPEN:
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == ["Bearer"]
            assert valid_r4(answer.json())["resourceType"] == "OperationOutcome"

    request()
