"""FHIR destination: each message's resources POSTed to the server's base as one transaction Bundle.

The Bundle is made of conditional updates (see domain/formats/fhir/transaction), so sending a message twice
(a retry after a lost answer, a replay) updates what the first send created. 2xx is SENT; 4xx is the server
refusing this content, which a retry cannot change (DEAD, with the OperationOutcome's diagnostics); 5xx and
connection failures are retried. A message that already is a transaction Bundle with a request in every entry
is POSTed as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from engine.config import FhirDestination as FhirSpec
from engine.connectors import destinations
from engine.connectors.destinations.http import HttpPeer, exchange, retryable
from engine.connectors.http.client import headers
from engine.domain.delivery import Attempt, Delivery
from engine.domain.formats.fhir.transaction import transaction_bundle
from engine.domain.mapping.result import Mapped
from engine.domain.masking import mask_text

ToMapped = Callable[[Delivery], Mapped]


def diagnostics(body: bytes) -> str:
    """What an OperationOutcome says (its issues' diagnostics or details), or "" when the body is not one."""
    try:
        outcome: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return ""
    texts = []
    for issue in outcome.get("issue", []):
        if isinstance(issue, dict):
            details = issue.get("details")
            text = issue.get("diagnostics") or (details.get("text") if isinstance(details, dict) else None)
            if text:
                texts.append(str(text))
    return "; ".join(texts)


def ready_transaction(raw: bytes) -> bool:
    """Whether the message already is a transaction Bundle whose every entry says its request (e.g. conditional
    PATCHes): such a Bundle is sent as it is, since mapping it would lose those requests."""
    if raw.lstrip()[:1] != b"{":
        return False
    try:
        bundle: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        return False
    entries = bundle.get("entry")
    return (
        isinstance(entries, list)
        and bool(entries)
        and all(isinstance(e, dict) and isinstance(e.get("request"), dict) for e in entries)
    )


class FhirDestination(HttpPeer):
    def __init__(self, url: str, *, token: str | None, timeout: float, source_system: str, to_mapped: ToMapped) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.source_system = source_system
        self.to_mapped = to_mapped

    async def send(self, delivery: Delivery) -> Attempt:
        if ready_transaction(delivery.raw):
            body = delivery.raw
        else:
            try:
                mapped = self.to_mapped(delivery)
            except Exception as exc:  # the message has no FHIR form: no retry can give it one
                return Attempt(False, error=mask_text(f"no FHIR resources for this message: {exc}"), retry=False)
            if not mapped.resources:
                return Attempt(True, error="no FHIR resources to send")
            body = orjson.dumps(
                transaction_bundle(mapped.resources, source_system=self.source_system, message_id=delivery.message_id)
            )
        answer = await exchange(
            self.session(),
            "POST",
            self.url,
            body,
            headers={**headers(self.token, "application/fhir+json"), "Content-Type": "application/fhir+json"},
            timeout=self.timeout,
        )
        if isinstance(answer, Attempt):
            return answer
        status, response = answer
        if 200 <= status < 300:
            return Attempt(True, response=response)
        reason = mask_text(f"HTTP {status}: {diagnostics(response) or 'no OperationOutcome in the answer'}")
        return Attempt(False, error=reason, retry=retryable(status), response=response)


def build(spec: FhirSpec, context: destinations.Context) -> FhirDestination:
    return FhirDestination(
        spec.url,
        token=spec.token,
        timeout=spec.timeout,
        source_system=context.channel.source_system,
        to_mapped=context.to_mapped,
    )


destinations.register(FhirSpec, build)
