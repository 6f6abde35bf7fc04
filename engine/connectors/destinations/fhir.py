"""FHIR destination: each message's resources POSTed to the server's base as one transaction Bundle.

The Bundle is made of conditional updates (see domain/formats/fhir/transaction), so sending a message twice
(a retry after a lost answer, a replay) updates what the first send created. 2xx is SENT; 4xx is the server
refusing this content, which a retry cannot change (DEAD, with the OperationOutcome's diagnostics); 5xx and
connection failures are retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from sqlalchemy import Connection

from engine.connectors.http.client import headers
from engine.domain.formats.fhir.transaction import transaction_bundle
from engine.domain.mapping.result import Mapped
from engine.domain.masking import mask_text
from engine.pipeline.delivery import Attempt
from engine.store.outbox import Delivery, Result

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


class FhirDestination:
    def __init__(self, url: str, *, token: str | None, timeout: float, source_system: str, to_mapped: ToMapped) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.source_system = source_system
        self.to_mapped = to_mapped
        self._session: aiohttp.ClientSession | None = None

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            mapped = self.to_mapped(delivery)
        except Exception as exc:  # the message has no FHIR form: no retry can give it one
            return Attempt(False, error=mask_text(f"no FHIR resources for this message: {exc}"), retry=False)
        if not mapped.resources:
            return Attempt(True, error="no FHIR resources to send")
        bundle = transaction_bundle(mapped.resources, source_system=self.source_system, message_id=delivery.message_id)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self.url,
                data=orjson.dumps(bundle),
                headers={**headers(self.token, "application/fhir+json"), "Content-Type": "application/fhir+json"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return Attempt(False, error=f"{self.url}: no answer within {self.timeout:g}s", destination_down=True)
        except (aiohttp.ClientError, OSError) as exc:
            return Attempt(False, error=f"{self.url}: {exc or type(exc).__name__}", destination_down=True)
        if 200 <= status < 300:
            return Attempt(True, response=body)
        reason = mask_text(f"HTTP {status}: {diagnostics(body) or 'no OperationOutcome in the answer'}")
        return Attempt(False, error=reason, retry=status >= 500 or status in (408, 429), response=body)

    async def commit(self) -> None:
        """Nothing to do: a 2xx answer to a transaction means the server committed it."""

    def write(self, conn: Connection, results: list[Result]) -> list[Result]:
        return results  # nothing of its own to store

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)  # let the connector close its sockets
