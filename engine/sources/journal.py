"""The journal as a source sees it: entries in, durable before any answer, a source's position kept beside them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from engine.store.journal import JournalEntry

Durable = Callable[[Exception | None], None]


class Journal(Protocol):
    def append(self, entries: list[JournalEntry], done: Durable) -> None:
        """Journal entries in the next commit; ``done(error)`` runs once they are durable (None) or not."""

    async def append_and_wait(self, entries: list[JournalEntry]) -> Exception | None: ...

    async def append_with_state(self, entries: list[JournalEntry], channel: str, state: Mapping[str, str]) -> None:
        """Entries and the source's new position in one transaction (raises when it fails)."""

    async def read_state(self, channel: str) -> dict[str, str]:
        """The source's kept position (empty before its first commit)."""
