"""What a bulk reader yields: journal entries with the position after each, unreadable origins, finished origins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.store.journal import JournalEntry

Position = dict[str, Any]  # a reader's own position, stored as JSON: where the next message is


@dataclass(slots=True)
class Item:
    entry: JournalEntry
    origin: str  # where it came from, for the report (a file's relative path)
    position: Position  # the position after this message


@dataclass(slots=True)
class Unreadable:
    origin: str
    reason: str


@dataclass(slots=True)
class OriginDone:
    """Every message of an origin (a file) has been read: one step of the progress bar."""

    origin: str


Read = Item | Unreadable | OriginDone
