"""Messages on the management API: search (channel, status, time, type, control ID, patient identifier, content)
with paging, one message with every stage, reprocess, dead letters per destination with bulk reprocess -- what
`huitong messages list|show|reprocess` does, through the same engine functions.

A viewer sees statuses, times and errors; the content (raw message, ACK, mapped FHIR, responses) and the searches
that look into it (patient identifier, text) are residents' data: clinical (or admin) only, and each such read is
audited with who read what. Reprocessing is an operator's action, audited by the pipeline (who, what, before).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.api.access import require
from engine.api.console import Part
from engine.domain.outcome import MessageStatus
from engine.domain.roles import Role, User
from engine.store import queries
from engine.views import messages
from engine.views.record_view import PersonNotFound

from . import openapi
from .common import (
    API,
    MAX_LIMIT,
    answer,
    bad,
    body_text,
    id_param,
    int_param,
    json_body,
    json_errors,
    read,
    text_param,
    time_param,
)
from .operations import Operations

_STR = {"type": "string"}
_OPT = {"type": ["string", "null"]}
_DELIVERY = {
    "type": "object",
    "required": ["name", "status", "attempts"],
    "properties": {
        "name": _STR,
        "status": _STR,
        "attempts": {"type": "integer"},
        "last_error": _OPT,
        "next_attempt_at": _OPT,
        "sent_at": _OPT,
        "response": _OPT,
    },
}
_MESSAGE_PROPS: dict[str, Any] = {
    "id": {"type": "integer"},
    "channel": _STR,
    "status": _STR,
    "control_id": _STR,
    "message_type": _STR,
    "received_at": _STR,
    "source": _STR,
    "error": _OPT,
    "duplicate_of": {"type": ["integer", "null"]},
    "destinations": {"type": "array", "items": _DELIVERY},
}
SCHEMAS: dict[str, Any] = {
    "Message": {"type": "object", "required": list(_MESSAGE_PROPS), "properties": _MESSAGE_PROPS},
    "MessageContent": {
        "type": "object",
        "required": [*_MESSAGE_PROPS, "raw", "content", "mapped"],
        "properties": {
            **_MESSAGE_PROPS,
            "raw": _STR,
            "content": {"type": "object", "additionalProperties": _STR, "description": "stored stages: ack"},
            "mapped": {
                "type": ["object", "null"],
                "description": "the FHIR Bundle the channel's mappings make of it now, or {error}",
            },
        },
    },
    "Page": {
        "type": "object",
        "required": ["messages", "limit", "offset", "next_offset"],
        "properties": {
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"]},
            "text_search": {
                "enum": ["index", "scan", None],
                "description": "how `text` was looked for: the text index (3 characters or more), or a scan of"
                " the rows the other filters leave (shorter terms; PostgreSQL without pg_trgm); null without text",
            },
        },
    },
    "DeadLetter": {
        "type": "object",
        "required": ["message_id", "channel", "destination", "attempts", "last_error", "created_at"],
        "properties": {
            "message_id": {"type": "integer"},
            "channel": _STR,
            "destination": _STR,
            "attempts": {"type": "integer"},
            "last_error": _OPT,
            "created_at": _STR,
        },
    },
    "Reprocessed": {
        "type": "object",
        "required": ["messages", "deliveries"],
        "properties": {"messages": {"type": "integer"}, "deliveries": {"type": "integer"}},
    },
    "DeadLetterReprocess": {
        "type": "object",
        "properties": {"channel": _OPT, "destination": _OPT, "reason": _OPT},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema or _STR, "description": description}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_PAGING = [
    _q("limit", "page size", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    _q("offset", "rows to skip", {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
]
_REPROCESSED = {**openapi.ok(_ref("Reprocessed"), "what was put back to be processed and delivered")}
PATHS: dict[str, dict[str, Any]] = {
    "/messages": {
        "get": {
            "summary": "Search messages, newest first (viewer; patient and text need the clinical role, audited)",
            "operationId": "searchMessages",
            "parameters": [
                _q("channel", "the channel"),
                _q("status", "RECEIVED, FILTERED, PROCESSED, ERROR or DUPLICATE", {"enum": list(MessageStatus)}),
                _q("since", "received at or after (ISO 8601)"),
                _q("until", "received before (ISO 8601)"),
                _q("type", "message type: ADT, or ADT^A01"),
                _q("control_id", "MSH-10 or the source's own id"),
                _q("patient", "an identifier the record knows: resident ID, system|value, enterprise person id"),
                _q("text", "text the message holds: 3 characters or more by the text index, shorter by a scan"),
                *_PAGING,
            ],
            "responses": {**openapi.ok(_ref("Page")), **openapi.refusals(400)},
        }
    },
    "/messages/{id}": {
        "get": {
            "summary": "One message: statuses, each destination's attempts and errors (viewer)",
            "operationId": "getMessage",
            "parameters": [_ID],
            "responses": {**openapi.ok(_ref("Message")), **openapi.refusals(400, 404)},
        }
    },
    "/messages/{id}/content": {
        "get": {
            "summary": "One message with every stage: raw, ACK, mapped FHIR, responses (clinical; audited)",
            "operationId": "getMessageContent",
            "parameters": [_ID],
            "responses": {**openapi.ok(_ref("MessageContent")), **openapi.refusals(400, 404)},
        }
    },
    "/messages/{id}/reprocess": {
        "post": {
            "summary": "Run the message through the pipeline again; failed and dead deliveries start over (operator)",
            "operationId": "reprocessMessage",
            "parameters": [_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("Reason")}}},
            "responses": {**_REPROCESSED, **openapi.refusals(400, 404)},
        }
    },
    "/dead-letters": {
        "get": {
            "summary": "Dead deliveries, newest first, per channel and destination (viewer)",
            "operationId": "deadLetters",
            "parameters": [_q("channel", "the channel"), _q("destination", "the destination"), *_PAGING],
            "responses": {
                **openapi.ok(
                    {"type": "object", "properties": {"dead_letters": {"type": "array", "items": _ref("DeadLetter")}}}
                ),
                **openapi.refusals(400),
            },
        }
    },
    "/dead-letters/reprocess": {
        "post": {
            "summary": (
                "Reprocess every message with a dead delivery (of a channel, of a destination: then only that "
                "destination's deliveries start over) (operator)"
            ),
            "operationId": "reprocessDeadLetters",
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("DeadLetterReprocess")}},
            },
            "responses": {**_REPROCESSED, **openapi.refusals(400)},
        }
    },
}


def search_of(request: web.Request) -> messages.Search:
    status = text_param(request, "status")
    if status is not None and status.upper() not in set(MessageStatus):
        raise bad("status", f"expected one of {', '.join(MessageStatus)}, got {status!r}")
    return messages.Search(
        channel=text_param(request, "channel"),
        status=status.upper() if status else None,
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        message_type=text_param(request, "type"),
        control_id=text_param(request, "control_id"),
        patient=text_param(request, "patient"),
        text=text_param(request, "text"),
    )


async def _audited(ops: Operations, user: User, action: str, target: str, detail: dict[str, Any]) -> None:
    await ops.audit([(action, target, detail, user.name)])


async def searched(
    request: web.Request, store: Engine, ops: Operations, *, limit: int, offset: int
) -> messages.Found:
    """The request's search (its query parameters), with the role it needs: a viewer's without patient or text,
    a clinical user's with them, audited (who looked for which resident or text, and what it found)."""
    user = require(request, Role.VIEWER)
    wanted = search_of(request)
    if wanted.reads_content:
        require(request, Role.CLINICAL)
    try:
        found = await read(store, lambda conn: messages.search(conn, wanted, limit=limit, offset=offset))
    except PersonNotFound as exc:
        raise bad("patient", str(exc)) from None
    if wanted.reads_content:
        detail = {"patient": wanted.patient, "text": wanted.text, "ids": [v.id for v in found.messages]}
        await _audited(ops, user, "search messages", "messages", detail)
    return found


async def one(store: Engine, message_id: int, *, with_content: bool) -> queries.MessageView:
    found = await read(store, lambda conn: queries.messages_by_id(conn, [message_id], with_content=with_content))
    if not found:
        raise web.HTTPNotFound(reason=f"no message with id {message_id}")
    return found[0]


async def content_of(request: web.Request, store: Engine, ops: Operations, message_id: int) -> dict[str, Any]:
    """One message with every stage and its mapped FHIR, for a clinical user; the reading is audited."""
    user = require(request, Role.CLINICAL)
    view = await one(store, message_id, with_content=True)
    await _audited(ops, user, "read message", f"message:{view.id}", {"channel": view.channel})
    return {**messages.detail(view), "mapped": await asyncio.to_thread(ops.mapped, view)}


def part(store: Engine, ops: Operations) -> Part:
    """The messages and dead-letter endpoints on the console listener."""

    @json_errors
    async def search(request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        found = await searched(request, store, ops, limit=limit, offset=offset)
        return answer(
            {
                "messages": [messages.summary(v) for v in found.messages],
                "limit": limit,
                "offset": offset,
                "next_offset": offset + limit if len(found.messages) == limit else None,
                "text_search": found.text_search,
            }
        )

    @json_errors
    async def show(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        return answer(messages.summary(await one(store, id_param(request), with_content=False)))

    @json_errors
    async def content(request: web.Request) -> web.Response:
        return answer(await content_of(request, store, ops, id_param(request)))

    @json_errors
    async def reprocess(request: web.Request) -> web.Response:
        user = require(request, Role.OPERATOR)
        view = await one(store, id_param(request), with_content=False)
        reason = body_text(await json_body(request), "reason") or ""
        done, deliveries = await ops.reprocess([view.id], reason, user.name, None)
        return answer({"messages": done, "deliveries": deliveries})

    @json_errors
    async def dead(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        channel, destination = text_param(request, "channel"), text_param(request, "destination")
        limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
        offset = int_param(request, "offset", 0, 0, 10_000_000)

        def job(conn: Connection) -> list[dict[str, Any]]:
            return messages.dead_letters(conn, channel=channel, destination=destination, limit=limit, offset=offset)

        return answer({"dead_letters": await read(store, job)})

    @json_errors
    async def reprocess_dead(request: web.Request) -> web.Response:
        user = require(request, Role.OPERATOR)
        body = await json_body(request)
        channel, destination = body_text(body, "channel"), body_text(body, "destination")
        ids = await read(store, lambda conn: queries.dead_message_ids(conn, channel, destination))
        reason = body_text(body, "reason") or ""
        done, deliveries = await ops.reprocess(ids, reason, user.name, destination) if ids else (0, 0)
        return answer({"messages": done, "deliveries": deliveries})

    def add(app: web.Application) -> None:
        app.router.add_get(f"{API}/messages", search)
        app.router.add_get(f"{API}/messages/{{id}}", show)
        app.router.add_get(f"{API}/messages/{{id}}/content", content)
        app.router.add_post(f"{API}/messages/{{id}}/reprocess", reprocess)
        app.router.add_get(f"{API}/dead-letters", dead)
        app.router.add_post(f"{API}/dead-letters/reprocess", reprocess_dead)
        openapi.contribute(app, PATHS, SCHEMAS)

    return add
