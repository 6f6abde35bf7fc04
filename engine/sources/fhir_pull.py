"""FHIR pull source: each resource type searched for what changed since its watermark (meta.lastUpdated); each page
journaled with the new watermark in one transaction, so a crash resumes at the last committed page."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson
import structlog

from engine.config import FhirPullSource
from engine.connectors.http.client import FetchError, search_pages, search_url
from engine.sources.component import Component, Context, Polling, register
from engine.sources.journal import Journal
from engine.store.journal import JournalEntry

log = structlog.get_logger("huitong.http")




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
        source = f"{spec.base_url.rstrip('/')}/{resource_type}"[:255]
        pages = search_pages(self._session, first, token=spec.token, timeout=spec.timeout, max_bytes=spec.max_bytes)
        async for page in pages:
            now = time.time()
            entries = [
                JournalEntry(
                    self.channel,
                    source,
                    now,
                    orjson.dumps(resource),
                    message_type=resource["resourceType"][:32],
                    control_id=resource["id"] if isinstance(resource.get("id"), str) else "",
                    charset="utf-8",
                )
                for resource in page.resources
            ]
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


register(Component(FhirPullSource, start, format=lambda _: "fhir"))
