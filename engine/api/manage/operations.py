"""Channels, queues and nodes on the management API: each channel's state and counts, start/stop/pause/resume one
channel at run time, reload the configuration, throughput per minute, queue depths, the nodes at work.

The daemon lends the API what only it can do through an ``Operations`` (as the FHIR API's ``People``): the running
channels' states and the actions on them, each of which the daemon audits (who, what, before and after).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from engine.api.access import require
from engine.api.audit_batch import AuditRow
from engine.api.console import Part
from engine.api.shared_read import SharedRead
from engine.domain.roles import Role
from engine.store.queries import MessageView
from engine.views import messages

from . import openapi
from .common import API, answer, body_text, int_param, json_body, json_errors, read, text_param

ACTIONS = ("start", "stop", "pause", "resume")


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A configured channel as the daemon runs it: ``started``, ``paused`` (its source stopped, its deliveries
    going on), ``stopped`` (at run time, until started again), or ``disabled`` (enabled: false in its file)."""

    name: str
    source: str  # the source type: mllp, file, fhir-pull, ...
    state: str
    connections: int | None  # open connections of a listening source (MLLP), None for others
    destinations: tuple[str, ...]


class Refused(Exception):
    """The action does not apply to the channel as it is (409); the message says why."""


@dataclass(frozen=True, slots=True)
class Operations:
    """What the daemon lends the management API. ``act(channel, action, actor, reason)`` runs one of ``ACTIONS``
    and returns the state after (Refused: not in a state for it); ``reload(actor, reason)`` reloads engine.yaml and the
    channel files as SIGHUP does and says what changed; ``reprocess(ids, reason, actor, destination)`` runs messages
    through the pipeline again (huitong messages reprocess; only ``destination``'s deliveries start over when it is
    given) and returns (messages, deliveries re-queued); ``audit(rows)`` commits audit rows of what a user read,
    with those of the reads answered at the same time (engine/api/audit_batch.py); ``mapped(message)`` is the FHIR
    Bundle its channel's mappings make of a message read with its content (``{"error": ...}`` when they cannot;
    None when the channel is gone)."""

    channels: Callable[[], Sequence[ChannelState]]
    act: Callable[[str, str, str, str], Awaitable[ChannelState]]
    reload: Callable[[str, str], Awaitable[dict[str, Any]]]
    reprocess: Callable[[Sequence[int], str, str, str | None], Awaitable[tuple[int, int]]]
    audit: Callable[[list[AuditRow]], Awaitable[None]]
    mapped: Callable[[MessageView], dict[str, Any] | None]


def _state_json(state: ChannelState) -> dict[str, Any]:
    return {
        "name": state.name,
        "source": state.source,
        "state": state.state,
        "connections": state.connections,
        "destinations": list(state.destinations),
    }


_STRINGS = {"type": "string"}
_OPT_STRING = {"type": ["string", "null"]}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
SCHEMAS: dict[str, Any] = {
    "Channel": {
        "type": "object",
        "required": ["name", "source", "state", "connections", "destinations", "counts", "last_message"],
        "properties": {
            "name": _STRINGS,
            "source": _STRINGS,
            "state": {"enum": ["started", "paused", "stopped", "disabled"]},
            "connections": {"type": ["integer", "null"]},
            "destinations": {"type": "array", "items": _STRINGS},
            "counts": _COUNTS,
            "last_message": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "received_at": _STRINGS, "source": _STRINGS},
                    },
                ]
            },
        },
    },
    "Throughput": {
        "type": "object",
        "required": ["minutes", "received", "processed", "errored"],
        "properties": {
            k: {"type": "array", "items": _STRINGS if k == "minutes" else {"type": "integer"}}
            for k in ("minutes", "received", "processed", "errored")
        },
    },
    "Queue": {
        "type": "object",
        "required": ["channel", "destination", "waiting", "oldest_age_seconds", "dead"],
        "properties": {
            "channel": _STRINGS,
            "destination": _STRINGS,
            "waiting": {"type": "integer"},
            "oldest_age_seconds": {"type": ["number", "null"]},
            "dead": {"type": "integer"},
        },
    },
    "Reason": {"type": "object", "properties": {"reason": _OPT_STRING}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_NAME = {"name": "name", "in": "path", "required": True, "schema": _STRINGS}
_CHANNEL_Q = {"name": "channel", "in": "query", "schema": _STRINGS, "description": "one channel (default: all)"}
PATHS: dict[str, dict[str, Any]] = {
    "/channels": {
        "get": {
            "summary": "Every configured channel: state, counts, connections, last message (viewer)",
            "operationId": "listChannels",
            "responses": {
                **openapi.ok(
                    {"type": "object", "properties": {"channels": {"type": "array", "items": _ref("Channel")}}}
                ),
                **openapi.refusals(),
            },
        }
    },
    "/channels/{name}": {
        "get": {
            "summary": "One channel (viewer)",
            "operationId": "getChannel",
            "parameters": [_NAME],
            "responses": {**openapi.ok(_ref("Channel")), **openapi.refusals(404)},
        }
    },
    "/channels/{name}/{action}": {
        "post": {
            "summary": "Start, stop, pause (source only; deliveries go on) or resume one channel (operator; audited)",
            "operationId": "actOnChannel",
            "parameters": [
                _NAME,
                {"name": "action", "in": "path", "required": True, "schema": {"enum": list(ACTIONS)}},
            ],
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("Reason")}}},
            "responses": {**openapi.ok(_ref("Channel")), **openapi.refusals(400, 404, 409)},
        }
    },
    "/reload": {
        "post": {
            "summary": "Reload engine.yaml and the channel files, as SIGHUP does (operator; audited)",
            "operationId": "reload",
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("Reason")}}},
            "responses": {
                **openapi.ok({"type": "object", "additionalProperties": {"type": "array", "items": _STRINGS}}),
                **openapi.refusals(400, 409),
            },
        }
    },
    "/throughput": {
        "get": {
            "summary": "Messages received, processed and errored per minute (viewer)",
            "operationId": "throughput",
            "parameters": [
                _CHANNEL_Q,
                {"name": "minutes", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1440}},
            ],
            "responses": {**openapi.ok(_ref("Throughput")), **openapi.refusals(400)},
        }
    },
    "/queues": {
        "get": {
            "summary": "Per destination: deliveries waiting, the oldest one's age, dead letters (viewer)",
            "operationId": "queues",
            "responses": {
                **openapi.ok({"type": "object", "properties": {"queues": {"type": "array", "items": _ref("Queue")}}}),
                **openapi.refusals(),
            },
        }
    },
    "/nodes": {
        "get": {
            "summary": "The engine nodes that journaled messages in the last hour (viewer)",
            "operationId": "nodes",
            "responses": {**openapi.ok({"type": "object"}), **openapi.refusals()},
        }
    },
}


def part(store: Engine, ops: Operations) -> Part:
    """The channels, queues and nodes endpoints on the console listener."""

    shared = SharedRead()

    def states() -> dict[str, ChannelState]:
        return {s.name: s for s in ops.channels()}

    async def channel_json(found: Sequence[ChannelState]) -> list[dict[str, Any]]:
        names = tuple(s.name for s in found)
        totals = await shared.get(names, lambda: read(store, lambda conn: messages.channel_totals(conn, names)))
        return [{**_state_json(s), **totals[s.name]} for s in found]

    def named(request: web.Request) -> ChannelState:
        name = request.match_info["name"]
        found = states().get(name)
        if found is None:
            raise web.HTTPNotFound(reason=f"no channel named {name!r}")
        return found

    @json_errors
    async def list_channels(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        return answer({"channels": await channel_json(list(states().values()))})

    @json_errors
    async def get_channel(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        return answer((await channel_json([named(request)]))[0])

    @json_errors
    async def act(request: web.Request) -> web.Response:
        user = require(request, Role.OPERATOR)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise web.HTTPBadRequest(reason=f"parameter action: expected one of {', '.join(ACTIONS)}")
        channel = named(request)
        reason = body_text(await json_body(request), "reason") or ""
        try:
            after = await ops.act(channel.name, action, user.name, reason)
        except Refused as exc:
            raise web.HTTPConflict(reason=str(exc)) from None
        return answer((await channel_json([after]))[0])

    @json_errors
    async def reload(request: web.Request) -> web.Response:
        user = require(request, Role.OPERATOR)
        outcome = await ops.reload(user.name, body_text(await json_body(request), "reason") or "")
        if outcome.get("errors"):
            raise web.HTTPConflict(reason="the configuration has errors; nothing was changed (see the daemon's log)")
        return answer(outcome)

    @json_errors
    async def throughput(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        minutes = int_param(request, "minutes", 60, 1, 1440)
        channel = text_param(request, "channel")
        names = [channel] if channel else list(states())
        now = time.time()
        return answer(await read(store, lambda conn: messages.throughput(conn, names, minutes, now)))

    @json_errors
    async def queues(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        now = time.time()
        found = await shared.get("queues", lambda: read(store, lambda conn: messages.queue_depths(conn, now)))
        return answer({"queues": found})

    @json_errors
    async def nodes(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        names, now = list(states()), time.time()
        return answer({"nodes": await read(store, lambda conn: messages.nodes(conn, names, now))})

    def add(app: web.Application) -> None:
        app.router.add_get(f"{API}/channels", list_channels)
        app.router.add_get(f"{API}/channels/{{name}}", get_channel)
        app.router.add_post(f"{API}/channels/{{name}}/{{action}}", act)
        app.router.add_post(f"{API}/reload", reload)
        app.router.add_get(f"{API}/throughput", throughput)
        app.router.add_get(f"{API}/queues", queues)
        app.router.add_get(f"{API}/nodes", nodes)
        openapi.contribute(app, PATHS, SCHEMAS)

    return add
