"""FHIR pull source: each resource type searched for what changed since its watermark (meta.lastUpdated); each page
journaled with the new watermark in one transaction, so a crash resumes at the last committed page. Read in bulk by
a backfill over a ``_lastUpdated`` range."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import aiohttp
import orjson
import structlog

from engine.config import ChannelSpec, EngineConfig, FhirPullSource
from engine.connectors.http.client import (
    FHIR_JSON,
    FetchError,
    Page,
    fetch_blocking,
    search_pages,
    search_url,
    searchset,
)
from engine.domain.retry import RetryPolicy
from engine.sources.component import (
    Bulk,
    Component,
    Context,
    Polling,
    Refused,
    Unavailable,
    range_recall,
    range_what,
    register,
)
from engine.sources.journal import Journal
from engine.sources.reading import Item, OriginDone, Position, Read
from engine.store.journal import JournalEntry

log = structlog.get_logger("huitong.http")

# A FHIR date or dateTime, as _lastUpdated takes it: 2026, 2026-01, 2026-01-01, 2026-01-01T08:00:00+08:00
_FHIR_TIME = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")


def resource_entry(channel: str, source: str, resource: dict[str, Any], now: float) -> JournalEntry:
    """One resource, one journal entry, the same from the poller and a backfill: a resource both took is the same
    message (control id its id), which the journal's duplicate detection recognises."""
    return JournalEntry(
        channel,
        source,
        now,
        orjson.dumps(resource),
        message_type=resource["resourceType"][:32],
        control_id=resource["id"] if isinstance(resource.get("id"), str) else "",
        charset="utf-8",
    )


def _source_of(spec: FhirPullSource, resource_type: str) -> str:
    return f"{spec.base_url.rstrip('/')}/{resource_type}"[:255]


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def newest(since: str | None, resources: list[dict[str, Any]]) -> str | None:
    """The latest meta.lastUpdated among `since` and the resources (kept as the server wrote it)."""
    best, best_at = since, _instant(since)
    for resource in resources:
        meta = resource.get("meta")
        stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
        at = _instant(stamp)
        if at is not None and (best_at is None or at > best_at):
            best, best_at = stamp, at
    return best


class FhirPull:
    """Searches each resource type for what changed since its watermark; one journal entry per resource."""

    def __init__(self, channel: str, spec: FhirPullSource, journal: Journal) -> None:
        self.channel = channel
        self.spec = spec
        self.journal = journal
        self._session: aiohttp.ClientSession | None = None
        self.stopping = False

    async def poll(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        state = await self.journal.read_state(self.channel)
        for resource_type in self.spec.resource_types:
            if self.stopping:
                return
            key = f"lastUpdated:{resource_type}"
            try:
                await self._pull(resource_type, key, state.get(key))
            except FetchError as exc:
                log.warning("fhir pull failed; retrying at the next poll", channel=self.channel, error=str(exc))

    async def _pull(self, resource_type: str, key: str, since: str | None) -> None:
        assert self._session is not None
        spec = self.spec
        first = search_url(spec.base_url, resource_type, since, spec.page_size)
        source = _source_of(spec, resource_type)
        pages = search_pages(self._session, first, token=spec.token, timeout=spec.timeout, max_bytes=spec.max_bytes)
        async for page in pages:
            now = time.time()
            entries = [resource_entry(self.channel, source, resource, now) for resource in page.resources]
            mark = newest(since, page.resources)
            kept = {key: mark} if mark is not None and mark != since else {}
            await self.journal.append_with_state(entries, self.channel, kept)
            since = mark
            log.info("fhir page journaled", channel=self.channel, resource_type=resource_type, messages=len(entries))
            if self.stopping:
                return

    async def close(self) -> None:
        self.stopping = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def start(context: Context) -> Polling:
    source = context.spec.source
    assert isinstance(source, FhirPullSource)
    log.info("channel started", channel=context.spec.channel, source=source.type)
    return Polling(context, FhirPull(context.spec.channel, source, context.journal), source.poll_interval)


def _stamp(resource: dict[str, Any]) -> str | None:
    meta = resource.get("meta")
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return stamp if isinstance(stamp, str) else None


def _order(a: str, b: str) -> int:
    """-1, 0 or 1 as instant `a` is before, at or after `b` (as text when either is no instant)."""
    x, y = _instant(a), _instant(b)
    if x is None or y is None or (x.tzinfo is None) != (y.tzinfo is None):
        return (a > b) - (a < b)
    return (x > y) - (x < y)


class FhirReader:
    """The channel's resource types, one after the other, searched over ``_lastUpdated`` from `since` (inclusive)
    to `until` (exclusive), oldest first, following next links. Each resource is its own origin. The position is
    the resource type being read, the latest ``meta.lastUpdated`` journaled and the ids journaled at that instant:
    a resumed search asks ``ge`` that instant and passes over those ids, so resources sharing an instant across a
    page boundary or a crash are neither lost nor doubled. A page request that fails is retried by the source's
    ``retry`` policy (no answer, HTTP 429 or 5xx); after the last try, or on any other failure, it raises
    Unavailable naming the URL and the status."""

    unit = "resource"

    def __init__(self, spec: ChannelSpec, since: str | None, until: str | None) -> None:
        source = spec.source
        assert isinstance(source, FhirPullSource)
        self.source, self.channel = source, spec.channel
        self.since, self.until = since, until
        self.what = range_what(since, until)
        r = source.retry
        self.policy = RetryPolicy(r.max_attempts, r.backoff, r.initial_interval, r.max_interval, r.multiplier)

    def origin_of(self, source: str) -> str:
        return source

    def _types(self, after: Position) -> list[str]:
        """The resource types still to read: from the position's on (all when it names none the channel pulls)."""
        types = list(self.source.resource_types)
        current = after.get("type")
        return types[types.index(current) :] if current in types else types

    def _first(self, resource_type: str, at: str | None) -> str:
        spec = self.source
        return search_url(
            spec.base_url, resource_type, at or self.since, spec.page_size, after="ge", before=self.until
        )

    def _page(self, url: str) -> Page:
        spec = self.source
        attempts = 0
        while True:
            attempts += 1
            try:
                body = fetch_blocking(
                    url, token=spec.token, timeout=spec.timeout, max_bytes=spec.max_bytes, accept=FHIR_JSON
                )
                return searchset(url, body, spec.max_bytes)
            except FetchError as exc:
                if not exc.transient:
                    raise Unavailable(str(exc)) from None
                if self.policy.exhausted(attempts):
                    raise Unavailable(f"{exc} (tried {attempts} times)") from None
                delay = self.policy.delay(attempts)
                log.warning("fhir page failed; retrying", channel=self.channel, error=str(exc), retry_in_s=delay)
                time.sleep(delay)

    def remaining(self, after: Position) -> int:
        """The servers' Bundle.total of each search still to run (0 for a server that does not count)."""
        total = 0
        for resource_type in self._types(after):
            mine = after.get("type") == resource_type
            page = self._page(self._first(resource_type, after.get("at") if mine else None) + "&_summary=count")
            total += max(0, (page.total or 0) - (len(after.get("seen", ())) if mine else 0))
        return total

    def read(self, after: Position) -> Iterator[Read]:
        for resource_type in self._types(after):
            mine = after.get("type") == resource_type
            at: str | None = after.get("at") if mine else None
            seen: set[str] = set(after.get("seen", ())) if mine else set()
            source = _source_of(self.source, resource_type)
            url: str | None = self._first(resource_type, at)
            visited: set[str] = set()
            while url is not None and url not in visited:
                visited.add(url)
                page = self._page(url)
                for resource in page.resources:
                    stamp, rid = _stamp(resource), resource.get("id")
                    if stamp is not None and at is not None:
                        order = _order(stamp, at)
                        if order < 0:
                            raise Unavailable(
                                f"GET {url}: {resource_type}/{rid} was last updated at {stamp}, before {at} read "
                                "already: the server does not sort by _lastUpdated, which a backfill needs"
                            )
                        if order == 0 and rid in seen:
                            continue  # journaled before the crash or on an earlier page
                    if stamp is not None and (at is None or _order(stamp, at) > 0):
                        at, seen = stamp, set()
                    if isinstance(rid, str):
                        seen.add(rid)
                    origin = f"{resource_type}/{rid}"
                    entry = resource_entry(self.channel, source, resource, time.time())
                    yield Item(entry, origin, {"type": resource_type, "at": at, "seen": sorted(seen)})
                    yield OriginDone(origin)
                url = page.next_url


def reader(spec: ChannelSpec, config: EngineConfig, bulk: Bulk) -> FhirReader:
    for option, value in (("--since", bulk.since), ("--until", bulk.until)):
        if value is not None and not _FHIR_TIME.fullmatch(value):
            raise Refused(
                f"{option} {value!r} is not a FHIR date or time; e.g. 2026-01-01 or 2026-01-01T08:00:00+08:00"
            )
    return FhirReader(spec, bulk.since, bulk.until)


register(Component(FhirPullSource, start, format=lambda _: "fhir", reader=reader, recall=range_recall))
