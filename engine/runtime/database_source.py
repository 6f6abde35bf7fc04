"""A database source in a running channel: polls a view and journals new rows with the new watermark, in one
transaction (like the FHIR pull's pages), so a restart resumes at the last committed row.

The store keeps, per channel, ``watermark`` (JSON: the last row's value of the watermark column) and ``seen``
(JSON list: content hashes of the rows journaled at that value). A query written with ``>= :watermark`` re-reads
the rows at the kept value; those in ``seen`` are passed over, so rows that share the last value, whether cut
off by batch_size or committed later by the source, are journaled once and never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.config.models import DatabaseSource
from engine.connectors.sources.database import Page, read_page, source_engine
from engine.runtime.logging import get_logger
from engine.runtime.writer import StoreWriter
from engine.store import source_state
from engine.store.journal import JournalEntry, content_hash

log = get_logger("huitong.database")

#: The watermark before the first row when the channel sets no ``start``: below every id (and, on SQLite and
#: MySQL/MariaDB, below every date and time too).
MINIMUM = 0


def _reason(exc: BaseException) -> str:
    """The database's own words (first line; never the URL, which may hold a password)."""
    orig = getattr(exc, "orig", None)
    words = str(orig if orig is not None else exc).strip().splitlines()
    return (words[0] if words else type(exc).__name__)[:300]


class DatabasePoll:
    """Reads the rows after the kept watermark, at most batch_size per poll; one journal entry per row."""

    def __init__(self, channel: str, spec: DatabaseSource, writer: StoreWriter) -> None:
        self.channel = channel
        self.spec = spec
        self.writer = writer
        self._engine: Engine | None = None

    async def poll(self) -> None:
        spec = self.spec
        state = await self.writer.submit(lambda conn: source_state.read(conn, self.channel))
        stored = "watermark" in state
        mark = orjson.loads(state["watermark"]) if stored else first_mark(spec)
        seen = frozenset(orjson.loads(state.get("seen", "[]")))
        if self._engine is None:
            self._engine = source_engine(spec.url, spec.timeout)
        try:
            page = await asyncio.to_thread(next_page, self._engine, spec, mark, seen)
        except (SQLAlchemyError, LookupError, OSError) as exc:
            reason = _reason(exc)
            if not stored and spec.start is None and "operator does not exist" in reason:
                reason += " (PostgreSQL: a time watermark needs start:, e.g. '2000-01-01 00:00:00')"
            log.warning("database poll failed; retrying at the next poll", channel=self.channel, error=reason)
            return
        if not page.rows:
            return
        entries = row_entries(self.channel, spec, page.rows, time.time())
        marks = [value for _, value in page.rows if value is not None]
        last = marks[-1] if marks else mark  # a NULL watermark never moves it (nor could it be compared)
        at_last = [e.content_hash for e, (_, value) in zip(entries, page.rows, strict=True) if value == last]
        if last == mark:
            at_last = sorted(seen | set(at_last))

        def keep(conn: Connection) -> None:
            source_state.write(
                conn, self.channel, {"watermark": orjson.dumps(last).decode(), "seen": orjson.dumps(at_last).decode()}
            )

        await self.writer.append_with(entries, keep)
        log.info("database rows journaled", channel=self.channel, messages=len(entries), skipped=page.skipped)

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()


def next_page(engine: Engine, spec: DatabaseSource, mark: Any, seen: frozenset[str]) -> Page:
    """The source's next ``batch_size`` rows after ``mark`` (those at ``mark`` already in ``seen`` passed over)."""
    return read_page(
        engine,
        spec.query,
        table=spec.message_type,
        watermark_column=spec.watermark,
        mark=mark,
        seen=seen,
        limit=spec.batch_size,
        digest=content_hash,
    )


def row_entries(
    channel: str, spec: DatabaseSource, rows: Sequence[tuple[bytes, Any]], now: float
) -> list[JournalEntry]:
    """One journal entry per row; the control id is the row's watermark value (what a resend is recognised by)."""
    source = f"database:{spec.message_type}"
    return [
        JournalEntry(
            channel, source, now, raw, message_type=spec.message_type, control_id=_text(value)[:64], charset="utf-8"
        )
        for raw, value in rows
    ]


def first_mark(spec: DatabaseSource) -> Any:
    """The watermark before the first row: the channel's ``start``, else MINIMUM."""
    return MINIMUM if spec.start is None else spec.start


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()
