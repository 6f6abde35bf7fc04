"""The HTTP sources of a running channel: FHIR push (a listener), FHIR pull and XML over HTTP (poll or listen).

Listeners answer only after the journal commit, like the MLLP ACK. Pollers journal what they read and their new
position (source_state) in one transaction, page by page, so a crash resumes at the last committed page.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import orjson
from aiohttp import web
from sqlalchemy import Connection

from engine.config import FhirPullSource, FhirPushSource, XmlHttpSource
from engine.connectors.http import HttpListener, Oversized, bearer_ok, peer_of, read_body
from engine.connectors.http.client import FetchError, fetch, search_pages, search_url
from engine.domain.formats.fhir import operation_outcome
from engine.domain.outcome import MessageStatus
from engine.pipeline.fhir_answer import fhir_answer, store_failed
from engine.pipeline.payloads import receive_fhir, receive_xml, too_large
from engine.runtime.logging import get_logger
from engine.runtime.writer import StoreWriter
from engine.store import source_state
from engine.store.journal import JournalEntry, content_hash

log = get_logger("huitong.http")

FHIR_JSON = "application/fhir+json"


class Poller(Protocol):
    async def poll(self) -> None: ...

    async def close(self) -> None: ...


def _is_json(content_type: str) -> bool:
    return content_type.endswith("/json") or content_type.endswith("+json")


# -- FHIR push ---------------------------------------------------------------------------------------------------


def fhir_push_listener(channel: str, spec: FhirPushSource, writer: StoreWriter) -> HttpListener:
    """POST {path}/{Type} takes a resource, POST {path} a transaction or batch Bundle."""

    def reply(status: int, body: dict[str, Any]) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), content_type=FHIR_JSON)

    async def handle(request: web.Request) -> web.Response:
        if not bearer_ok(request, spec.auth_token):
            log.warning("fhir push refused: wrong or missing bearer token", channel=channel, peer=peer_of(request))
            return reply(401, operation_outcome("error", "login", "a valid bearer token is required"))
        expect = request.match_info.get("type") or "Bundle"
        body = await read_body(request, spec.max_bytes)
        source, now = peer_of(request), time.time()
        refused_status = 400
        if isinstance(body, Oversized):
            entry = too_large(body.head, body.limit, channel=channel, source=source, received_at=now)
            refused_status = 413
        elif not _is_json(request.content_type):
            reason = f"Content-Type {request.content_type} is not accepted; send {FHIR_JSON}"
            entry = JournalEntry(channel, source, now, body, status=MessageStatus.ERROR, error=reason)
            refused_status = 415
        else:
            entry = receive_fhir(
                body, channel=channel, source=source, received_at=now, max_bytes=spec.max_bytes, expect=expect
            )
        if await writer.append_and_wait([entry]) is not None:
            return reply(*store_failed())
        if entry.status == MessageStatus.ERROR:
            log.warning("fhir payload refused", channel=channel, message_id=entry.id, error=entry.error)
        return reply(*fhir_answer(entry, refused_status=refused_status))

    app = web.Application(client_max_size=spec.max_bytes + 1)
    prefix = spec.path.rstrip("/")
    app.router.add_post(prefix or "/", handle)
    app.router.add_post(prefix + "/{type:[A-Z][A-Za-z]+}", handle)
    return HttpListener(app, spec.listen.host, spec.listen.port)


# -- FHIR pull ---------------------------------------------------------------------------------------------------


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

    def __init__(self, channel: str, spec: FhirPullSource, writer: StoreWriter) -> None:
        self.channel = channel
        self.spec = spec
        self.writer = writer
        self._session: aiohttp.ClientSession | None = None
        self.stopping = False

    async def poll(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        state = await self.writer.submit(lambda conn: source_state.read(conn, self.channel))
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

            def keep(conn: Connection, mark: str | None = mark, changed: bool = mark != since) -> None:
                if mark is not None and changed:
                    source_state.write(conn, self.channel, {key: mark})

            await self.writer.append_with(entries, keep)
            since = mark
            log.info("fhir page journaled", channel=self.channel, resource_type=resource_type, messages=len(entries))
            if self.stopping:
                return

    async def close(self) -> None:
        self.stopping = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


# -- XML over HTTP -----------------------------------------------------------------------------------------------


def xml_listener(channel: str, spec: XmlHttpSource, writer: StoreWriter) -> HttpListener:
    """POST {path} takes one XML document (or a list of `split` records); 200 after commit, 400 with the reason."""
    assert spec.listen is not None

    async def handle(request: web.Request) -> web.Response:
        if not bearer_ok(request, spec.token):
            log.warning("xml post refused: wrong or missing bearer token", channel=channel, peer=peer_of(request))
            return web.Response(status=401, text="a valid bearer token is required\n")
        body = await read_body(request, spec.max_bytes)
        source, now = peer_of(request), time.time()
        if isinstance(body, Oversized):
            entries = [too_large(body.head, body.limit, channel=channel, source=source, received_at=now)]
        else:
            entries = receive_xml(
                body, channel=channel, source=source, received_at=now, max_bytes=spec.max_bytes, split=spec.split
            )
        if await writer.append_and_wait(entries) is not None:
            return web.Response(status=503, text="the document could not be stored; send it again later\n")
        refused = [e for e in entries if e.status == MessageStatus.ERROR]
        if refused:
            log.warning("xml document refused", channel=channel, message_id=refused[0].id, error=refused[0].error)
            status = 413 if isinstance(body, Oversized) else 400
            return web.Response(status=status, text=f"{refused[0].error}\n")
        ids = ", ".join(str(e.id) for e in entries)
        return web.Response(status=200, text=f"accepted: journaled as message {ids}\n")

    app = web.Application(client_max_size=spec.max_bytes + 1)
    app.router.add_post(spec.path, handle)
    return HttpListener(app, spec.listen.host, spec.listen.port)


class XmlPoll:
    """GETs a URL; a response different from the last one is journaled (one entry per document or record)."""

    KEY = "response_hash"

    def __init__(self, channel: str, spec: XmlHttpSource, writer: StoreWriter) -> None:
        assert spec.url is not None
        self.channel = channel
        self.spec = spec
        self.url = spec.url
        self.writer = writer
        self._session: aiohttp.ClientSession | None = None

    async def poll(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        spec = self.spec
        try:
            body = await fetch(
                self._session,
                self.url,
                token=spec.token,
                timeout=spec.timeout,
                max_bytes=spec.max_bytes,
                accept="application/xml",
            )
        except FetchError as exc:
            log.warning("xml poll failed; retrying at the next poll", channel=self.channel, error=str(exc))
            return
        digest = content_hash(body)
        state = await self.writer.submit(lambda conn: source_state.read(conn, self.channel))
        if state.get(self.KEY) == digest:
            return  # the same answer as last time: nothing new
        entries = receive_xml(
            body,
            channel=self.channel,
            source=self.url[:255],
            received_at=time.time(),
            max_bytes=spec.max_bytes,
            split=spec.split,
        )
        await self.writer.append_with(entries, lambda conn: source_state.write(conn, self.channel, {self.KEY: digest}))
        refused = sum(e.status == MessageStatus.ERROR for e in entries)
        log.info("xml response journaled", channel=self.channel, messages=len(entries), refused=refused)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
