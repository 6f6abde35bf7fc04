"""Statuses a message and each of its deliveries can have. Every step leaves one; nothing is dropped silently."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    RECEIVED = "RECEIVED"  # journaled and ACKed, not yet processed
    FILTERED = "FILTERED"  # the channel's filter did not accept its type; kept, not delivered
    PROCESSED = "PROCESSED"  # routed: one outbox row per destination that wants it
    ERROR = "ERROR"  # rejected at intake (AE/AR) or failed in processing; the reason is kept
    DUPLICATE = "DUPLICATE"  # same channel, control ID and content as an earlier message; not delivered again


class DeliveryStatus(StrEnum):
    QUEUED = "QUEUED"  # waiting for its first attempt
    SENT = "SENT"  # the destination accepted it
    ERROR = "ERROR"  # an attempt failed; another is scheduled
    DEAD = "DEAD"  # no attempts left (or the destination rejected it); reprocessable
    SKIPPED = "SKIPPED"  # the destination does not take it (no mapping for its type); the reason is kept


PENDING_DELIVERY = (DeliveryStatus.QUEUED, DeliveryStatus.ERROR)
