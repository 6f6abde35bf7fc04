"""MPI changes as messages: every channel whose source is ``mpi-events`` gets each change it subscribes to.

The change is journaled in the same transaction that makes it, status RECEIVED, so the daemon's sweep routes
it to the channel's destinations like any message: durable, retried, visible in ``huitong messages``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.store import journal
from engine.store.journal import JournalEntry

Subscribers = Mapping[str, frozenset[str]]  # channel -> the events it gets (merge, unmerge, link, unlink)
SOURCE = "mpi"


def publish(
    conn: Connection, subscribers: Subscribers, node: str, event: str, body: Mapping[str, Any], now: float
) -> None:
    """Journal ``body`` (as JSON, message type ``mpi.<event>``) for each channel that subscribes to ``event``."""
    channels = [channel for channel, events in subscribers.items() if event in events]
    if not channels:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    raw = orjson.dumps({"event": f"mpi.{event}", "at": stamp, **body})
    entries = [
        JournalEntry(channel, SOURCE, now, raw, message_type=f"mpi.{event}", charset="utf-8") for channel in channels
    ]
    journal.append(conn, entries, node)
