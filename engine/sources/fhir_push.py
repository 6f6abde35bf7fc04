"""FHIR push source: a listener taking resources and Bundles (POST), answered only after the journal commit."""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog
from aiohttp import web

from engine.config import FhirPushSource
from engine.connectors.http import HttpListener, Oversized, bearer_ok, peer_of, read_body
from engine.connectors.tls import server_context
from engine.domain.formats.fhir import operation_outcome
from engine.domain.outcome import MessageStatus
from engine.pipeline.fhir_answer import fhir_answer, store_failed
from engine.pipeline.payloads import receive_fhir, too_large
from engine.sources.component import Component, Context, register
from engine.sources.journal import Journal
from engine.sources.listening import Listening, serve
from engine.store.journal import JournalEntry

log = structlog.get_logger("huitong.http")
FHIR_JSON = "application/fhir+json"


def _is_json(content_type: str) -> bool:
    return content_type.endswith("/json") or content_type.endswith("+json")


def listener(channel: str, spec: FhirPushSource, journal: Journal) -> HttpListener:
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
        if await journal.append_and_wait([entry]) is not None:
            return reply(*store_failed())
        if entry.status == MessageStatus.ERROR:
            log.warning("fhir payload refused", channel=channel, message_id=entry.id, error=entry.error)
        return reply(*fhir_answer(entry, refused_status=refused_status))

    app = web.Application(client_max_size=spec.max_bytes + 1)
    prefix = spec.path.rstrip("/")
    app.router.add_post(prefix or "/", handle)
    app.router.add_post(prefix + "/{type:[A-Z][A-Za-z]+}", handle)
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(app, spec.listen.host, spec.listen.port, ssl_context=context)


async def start(context: Context) -> Listening:
    source = context.spec.source
    assert isinstance(source, FhirPushSource)
    return await serve(context, listener(context.spec.channel, source, context.journal), source.listen)


register(Component(FhirPushSource, start, format=lambda _: "fhir"))
