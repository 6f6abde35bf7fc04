"""Database source: polls a view and journals new rows with the new watermark, in one
transaction (like the FHIR pull's pages), so a restart resumes at the last committed row.

The store keeps, per channel, ``watermark`` (JSON: the last row's value of the watermark column) and ``seen``
(JSON list: content hashes of the rows journaled at that value). A query written with ``>= :watermark`` re-reads
the rows at the kept value; those in ``seen`` are passed over, so rows that share the last value, whether cut
off by batch_size or committed later by the source, are journaled once and never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.config import ChannelSpec, EngineConfig
from engine.config.models import DatabaseSource
from engine.connectors.database import Page, count_rows, read_page, source_engine
from engine.sources.component import Bulk, Component, Context, Polling, range_recall, range_what, register
from engine.sources.journal import Journal
from engine.sources.reading import Item, OriginDone, Position, Read
from engine.store.journal import JournalEntry, content_hash

log = structlog.get_logger("huitong.database")

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

    def __init__(self, channel: str, spec: DatabaseSource, journal: Journal) -> None:
        self.channel = channel
        self.spec = spec
        self.journal = journal
        self._engine: Engine | None = None

    async def poll(self) -> None:
        spec = self.spec
        state = await self.journal.read_state(self.channel)
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
        kept = {"watermark": orjson.dumps(last).decode(), "seen": orjson.dumps(at_last).decode()}
        await self.journal.append_with_state(entries, self.channel, kept)
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


class DatabaseReader:
    """A database source's query over a watermark range: rows after ``since`` (else the channel's start), up to and
    including ``until`` (else all there is). Each row is its own origin; the position is the watermark reached and
    the content hashes of the rows journaled at that value, as the live poller keeps them."""

    unit = "row"

    def __init__(self, spec: ChannelSpec, since: str | None, until: str | None) -> None:
        source = spec.source
        assert isinstance(source, DatabaseSource)
        self.source, self.channel = source, spec.channel
        self.since, self.until = since, until
        self.what = range_what(since, until)
        self.engine = source_engine(source.url, source.timeout)

    def origin_of(self, source: str) -> str:
        return source

    def _start(self, after: Position) -> tuple[Any, frozenset[str]]:
        if "watermark" in after:
            return after["watermark"], frozenset(after.get("seen", ()))
        return (self.since if self.since is not None else first_mark(self.source)), frozenset()

    def remaining(self, after: Position) -> int:
        mark, seen = self._start(after)
        return max(0, count_rows(self.engine, self.source.query, mark) - len(seen))

    def _past(self, value: Any) -> bool:
        if self.until is None or value is None:
            return False
        if isinstance(value, int) and self.until.lstrip("-").isdigit():
            return value > int(self.until)
        return bool(_comparable(str(value)) > _comparable(self.until))

    def read(self, after: Position) -> Iterator[Read]:
        mark, seen = self._start(after)
        source = self.source
        while True:
            page = next_page(self.engine, source, mark, seen)
            if not page.rows:
                return
            for entry, (_, value) in zip(
                row_entries(self.channel, source, page.rows, time.time()), page.rows, strict=True
            ):
                if self._past(value):
                    return
                if value is not None and value != mark:
                    mark, seen = value, frozenset()
                seen = seen | {entry.content_hash}
                origin = f"{source.watermark}={value}"
                yield Item(entry, origin, {"watermark": mark, "seen": sorted(seen)})
                yield OriginDone(origin)


def _comparable(text: str) -> Any:
    """A watermark as text, as a time when it is one ('2026-11-20 10:03:00' and '2026-11-20T10:03:00' compare
    equal; a zone, if any, is dropped, as the databases' own values have none), else the text itself."""
    try:
        return (datetime.fromisoformat(text).replace(tzinfo=None),)
    except ValueError:
        return (text,)


async def start(context: Context) -> Polling:
    source = context.spec.source
    assert isinstance(source, DatabaseSource)
    log.info("channel started", channel=context.spec.channel, source=source.type)
    return Polling(context, DatabasePoll(context.spec.channel, source, context.journal), source.poll_interval)


def reader(spec: ChannelSpec, config: EngineConfig, bulk: Bulk) -> DatabaseReader:
    return DatabaseReader(spec, bulk.since, bulk.until)


register(Component(DatabaseSource, start, format=lambda _: "json", reader=reader, recall=range_recall))
