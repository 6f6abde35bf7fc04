"""The journal as `huitong messages list --json` shows it, read from the store in the test's own process.

Tests wait for a daemon by polling the journal; a CLI call costs about a second of imports, this a few
milliseconds. Times stay as stored (epoch seconds): the CLI's formatting is tested through the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.store import queries
from engine.store.database import open_engine


def store_url(config: Path) -> str:
    return str(yaml.safe_load(config.read_text(encoding="utf-8"))["store"])


def messages(config: Path, *, channel: str | None = None) -> list[dict[str, Any]]:
    """Every journaled message of the configuration's store (or of one channel), newest first."""
    engine = open_engine(store_url(config))
    try:
        with engine.connect() as conn:
            views = queries.messages_by_id(conn, queries.find_ids(conn, channel=channel))
    finally:
        engine.dispose()
    return [
        {
            "id": v.id,
            "channel": v.channel,
            "status": v.status,
            "control_id": v.control_id,
            "message_type": v.message_type,
            "received_at": v.received_at,
            "source": v.source,
            "error": v.error,
            "duplicate_of": v.duplicate_of,
            "destinations": [
                {
                    "name": d.name,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "next_attempt_at": d.next_attempt_at,
                    "sent_at": d.sent_at,
                }
                for d in v.destinations
            ],
        }
        for v in views
    ]


def journal(config: Path, *, channel: str | None = None) -> list[dict[str, Any]]:
    """Every journaled message (or one channel's), oldest first."""
    return sorted(messages(config, channel=channel), key=lambda r: r["id"])


def destination_statuses(config: Path, *, channel: str | None = None) -> list[str]:
    """The status of every delivery, newest message first."""
    return [d["status"] for row in messages(config, channel=channel) for d in row["destinations"]]
