"""XML over HTTP source: a listener taking documents (POST, 200 after the journal commit) or a poll of a URL whose
answer, when it differs from the last one, is journaled with its hash in one transaction."""

from __future__ import annotations

import time

import aiohttp
import structlog
from aiohttp import web

from engine.config import XmlHttpSource
from engine.connectors.http import HttpListener, Oversized, bearer_ok, peer_of, read_body
from engine.connectors.http.client import FetchError, fetch
from engine.connectors.tls import server_context
from engine.domain.outcome import MessageStatus
from engine.pipeline.payloads import receive_xml, too_large
from engine.sources.component import Component, Context, Polling, register
from engine.sources.journal import Journal
from engine.sources.listening import Listening, serve
from engine.store.journal import content_hash

log = structlog.get_logger("huitong.http")


def listener(channel: str, spec: XmlHttpSource, journal: Journal) -> HttpListener:
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
        if await journal.append_and_wait(entries) is not None:
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
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(app, spec.listen.host, spec.listen.port, ssl_context=context)


class XmlPoll:
    """GETs a URL; a response different from the last one is journaled (one entry per document or record)."""

    KEY = "response_hash"

    def __init__(self, channel: str, spec: XmlHttpSource, journal: Journal) -> None:
        assert spec.url is not None
        self.channel = channel
        self.spec = spec
        self.url = spec.url
        self.journal = journal
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
        state = await self.journal.read_state(self.channel)
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
        await self.journal.append_with_state(entries, self.channel, {self.KEY: digest})
        refused = sum(e.status == MessageStatus.ERROR for e in entries)
        log.info("xml response journaled", channel=self.channel, messages=len(entries), refused=refused)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def start(context: Context) -> Listening | Polling:
    source = context.spec.source
    assert isinstance(source, XmlHttpSource)
    if source.mode == "listen":
        assert source.listen is not None
        return await serve(context, listener(context.spec.channel, source, context.journal), source.listen)
    log.info("channel started", channel=context.spec.channel, source=source.type)
    return Polling(context, XmlPoll(context.spec.channel, source, context.journal), source.poll_interval)


register(Component(XmlHttpSource, start, format=lambda _: "xml"))
