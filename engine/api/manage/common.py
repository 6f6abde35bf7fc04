"""What every management API handler shares: JSON answers and refusals (aiohttp's HTTP errors and the engine's
lookup errors alike), store reads off the event loop, and the query parameters it parses (each refusal names the
parameter). The console pages answer the same refusals as pages (engine/api/pages/render.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.api import stored
from engine.views.mpi_review import NoRecord
from engine.views.record_view import PersonNotFound

log = structlog.get_logger("huitong.console")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v1"
MAX_LIMIT = 500


class BadRequest(ValueError):
    """A parameter or body the operation cannot take; the message names it."""


def answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def refusal(status: int, text: str) -> web.Response:
    return answer({"error": text}, status)


def refused(exc: Exception) -> tuple[int, str] | None:
    """The status and text of a refusal: an HTTP error (``access.require``'s 401 and 403 among them), a bad
    parameter (400), no such person or record (404), or an MPI change that cannot be done as asked (409: the MPI's
    MpiError, a LookupError with ids only in its message); None for a failure of ours (a KeyError or IndexError
    is a bug, not a refusal)."""
    if isinstance(exc, web.HTTPException):
        return exc.status, exc.reason
    if isinstance(exc, BadRequest):
        return 400, str(exc)
    if isinstance(exc, PersonNotFound | NoRecord):
        return 404, str(exc)
    if isinstance(exc, LookupError) and not isinstance(exc, KeyError | IndexError):
        return 409, str(exc)
    return None


def json_errors(handler: Handler) -> Handler:
    """Refusals as ``{"error": ...}`` with their status; a failure of ours logged (path only: ids, never content)
    and answered 503, never a bare 500."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            known = refused(exc)
            if known is None:
                log.exception("management api request failed", path=request.path)
                return refusal(503, "the engine's store could not be read or written; try again")
            return refusal(*known)

    return wrapped


async def read(store: Engine, job: Callable[[Connection], T]) -> T:
    """``job(connection)`` in a read transaction, in a thread."""
    return await stored.in_thread(store, job)


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
