"""What every management API handler shares: JSON answers and refusals, store reads off the event loop, and the
query parameters it parses (each refusal names the parameter)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Connection, Engine

log = structlog.get_logger("huitong.console")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v1"
MAX_LIMIT = 500


def answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def refusal(status: int, text: str) -> web.Response:
    return answer({"error": text}, status)


def json_errors(handler: Handler) -> Handler:
    """Refusals as ``{"error": ...}`` with their status; a failure of ours logged (path only: ids, never content)
    and answered 503, never a bare 500."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return refusal(exc.status, exc.reason)
        except Exception:
            log.exception("management api request failed", path=request.path)
            return refusal(503, "the engine's store could not be read or written; try again")

    return wrapped


async def read(store: Engine, job: Callable[[Connection], T]) -> T:
    """``job(connection)`` in a read transaction, in a thread."""

    def in_thread() -> T:
        with store.connect() as conn:
            return job(conn)

    return await asyncio.to_thread(in_thread)


def bad(name: str, why: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(reason=f"parameter {name}: {why}")


def text_param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise bad(name, f"expected {low} to {high}, got {value}")
    return value


def time_param(request: web.Request, name: str) -> float | None:
    """An ISO 8601 date or date-time (local time unless it has an offset)."""
    raw = text_param(request, name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except (ValueError, OverflowError, OSError):
        raise bad(name, f"expected an ISO time such as 2026-11-22T08:00, got {raw!r}") from None


def id_param(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, f"expected a message id (a whole number), got {raw!r}") from None
    if not 0 < value < 2**63:
        raise web.HTTPNotFound(reason=f"no message with id {raw}")
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


def body_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise web.HTTPBadRequest(reason=f"field {name}: expected a string")
    return value.strip() or None
