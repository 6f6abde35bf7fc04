"""What a FHIR sender is told once its payload is journaled (or could not be). Pure: entry in, HTTP answer out.

FHIR servers explain themselves with an OperationOutcome; a transaction or batch gets a response Bundle with one
entry per request. The answer names the journal message, so a sender's support ticket can point at it.
"""

from __future__ import annotations

from typing import Any

import orjson

from engine.domain.formats.fhir import operation_outcome
from engine.domain.outcome import MessageStatus
from engine.store.journal import JournalEntry

STORE_FAILED = "the payload could not be stored; send it again later"


def fhir_answer(entry: JournalEntry, *, refused_status: int = 400) -> tuple[int, dict[str, Any]]:
    """HTTP status and FHIR body for a journaled entry; `refused_status` is used when it was refused (ERROR)."""
    if entry.status == MessageStatus.ERROR:
        return refused_status, operation_outcome("error", _issue_code(refused_status), entry.error or "refused")
    note = f"accepted: journaled as message {entry.id} ({entry.status})"
    if entry.message_type in ("Bundle^transaction", "Bundle^batch"):
        kind = entry.message_type.partition("^")[2]
        requests = _entry_count(entry)
        response = {"status": "200 OK", "outcome": operation_outcome("information", "informational", note)}
        return 200, {
            "resourceType": "Bundle",
            "type": f"{kind}-response",
            "entry": [{"response": response} for _ in range(requests)],
        }
    return 201, operation_outcome("information", "informational", note)


def store_failed() -> tuple[int, dict[str, Any]]:
    return 503, operation_outcome("error", "transient", STORE_FAILED)


def _issue_code(status: int) -> str:
    return {401: "login", 413: "too-costly", 415: "not-supported"}.get(status, "invalid")


def _entry_count(entry: JournalEntry) -> int:
    entries = orjson.loads(entry.raw).get("entry", [])
    return len(entries) if isinstance(entries, list) else 0
