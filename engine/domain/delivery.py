"""Deliveries as values: a row to send, what one attempt reported, and what that does to the row (SENT, ERROR with
the next attempt time, DEAD or SKIPPED). Pure: the outbox stores these, destinations and stages take and return them."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Delivery:
    """A leased outbox row with what a destination needs to send it."""

    id: int
    message_id: int
    channel: str
    destination: str
    status: str
    attempts: int
    raw: bytes
    message_type: str
    control_id: str
    charset: str | None = None  # the codec the message was decoded with at intake
    order_key: str | None = None  # the person, for a destination ordered by person


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt came to: status SENT, ERROR (retry at next_attempt_at) or DEAD."""

    id: int
    status: str
    attempts: int
    next_attempt_at: float
    error: str | None = None
    response: bytes | None = None
    sent_at: float | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What a destination or stage reports for one send."""

    ok: bool
    error: str | None = None
    retry: bool = True  # False: the destination refused it for good (e.g. AR), retrying cannot help
    response: bytes | None = None
    destination_down: bool = False  # connection-level failure: the rest of the batch waits with this row
    skipped: bool = False  # the destination does not take this message (``error`` says why): SKIPPED, not sent


def postpone(delivery: Delivery, until: float) -> Result:
    """A row not attempted because the destination is down: no attempt counted, due again with the failed one."""
    return Result(delivery.id, delivery.status, delivery.attempts, until)


def settle(delivery: Delivery, attempt: Attempt, policy: RetryPolicy, now: float) -> Result:
    attempts = delivery.attempts + 1
    if attempt.skipped:
        return Result(delivery.id, DeliveryStatus.SKIPPED, attempts, now, attempt.error)
    if attempt.ok:
        return Result(delivery.id, DeliveryStatus.SENT, attempts, now, None, attempt.response, now)
    if not attempt.retry or policy.exhausted(attempts):
        return Result(delivery.id, DeliveryStatus.DEAD, attempts, now, attempt.error, attempt.response)
    return Result(
        delivery.id, DeliveryStatus.ERROR, attempts, now + policy.delay(attempts), attempt.error, attempt.response
    )


def settle_failure(result: Result, error: str, policy: RetryPolicy, now: float) -> Result:
    """A sent-and-recorded-as-SENT result whose own store write failed: an ERROR to retry, or DEAD at the last."""
    if result.status != DeliveryStatus.SENT:
        return result
    if policy.exhausted(result.attempts):
        return Result(result.id, DeliveryStatus.DEAD, result.attempts, now, error)
    return Result(result.id, DeliveryStatus.ERROR, result.attempts, now + policy.delay(result.attempts), error)
