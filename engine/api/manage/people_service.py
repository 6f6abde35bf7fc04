"""What the daemon lends the management API's people areas (MPI, record, tasks, indicators, audit), and how their
handlers read the store, audit what a user saw of a resident, and answer errors as JSON.

A read of a resident's data is audited (``console.read``: the user, the person, what was shown) in a transaction
committed before the answer leaves; changes are audited by the engine functions that make them (the MPI's own
``mpi.*`` rows with before and after), with the user as the actor. No log line names a resident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.config import EngineConfig
from engine.domain.roles import Role, User
from engine.store import audit
from engine.views.mpi_review import NoRecord, Scorer
from engine.views.record_view import PersonNotFound

from ..access import require

log = structlog.get_logger("huitong.console")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Identities(Scorer, Protocol):
    """The MPI's operator changes (engine/pipeline/mpi.py MpiResolver), as `huitong mpi` makes them; each raises
    a LookupError saying why when it cannot be done."""

    def accept(self, conn: Connection, review_id: int, *, actor: str, reason: str, now: float) -> str: ...

    def reject(self, conn: Connection, review_id: int, *, actor: str, reason: str, now: float) -> None: ...

    def merge_persons(
        self, conn: Connection, surviving: str, retired: str, *, actor: str, reason: str, now: float
    ) -> int: ...

    def unmerge(self, conn: Connection, merge_id: int, *, actor: str, reason: str, now: float) -> tuple[str, str]: ...

    def link(self, conn: Connection, record_id: str, person: str, *, actor: str, reason: str, now: float) -> None: ...

    def unlink(self, conn: Connection, record_id: str, *, actor: str, reason: str, now: float) -> str: ...


@dataclass(frozen=True, slots=True)
class People:
    """The store, and the configuration and MPI of the moment (asked at each request, so a reload counts)."""

    store: Engine
    config: Callable[[], EngineConfig]
    identities: Callable[[], Identities]

    async def read(self, job: Callable[[Connection], Any]) -> Any:
        def in_thread() -> Any:
            with self.store.connect() as conn:
                return job(conn)

        return await asyncio.to_thread(in_thread)

    async def write(self, job: Callable[[Connection], Any]) -> Any:
        def in_thread() -> Any:
            with self.store.begin() as conn:
                return job(conn)

        return await asyncio.to_thread(in_thread)

    async def seen(self, request: web.Request, user: User, persons: Iterable[str], what: str) -> None:
        """Audit that ``user`` was shown ``what`` of each person, committed before the answer leaves."""
        shown = sorted(set(persons))
        if not shown:
            return
        detail = {"view": what, "path": request.path}

        def job(conn: Connection) -> None:
            for person in shown:
                audit.record(conn, "console.read", person, detail, actor=actor(user))

        await self.write(job)


def actor(user: User) -> str:
    """How the audit names a console user (as a FHIR grant names a user: engine/domain/access.py)."""
    return f"user:{user.name}"


def require_all(request: web.Request, roles: Sequence[Role]) -> User:
    user = require(request, roles[0])
    for role in roles[1:]:
        require(request, role)
    return user


class BadRequest(ValueError):
    """A parameter or body the operation cannot take; the message names it."""


def problem(status: int, text: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": text}), content_type="application/json")


def answer(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def json_errors(handler: Handler) -> Handler:
    """Every refusal as a JSON body with its status; a failure of ours logged (path only) and answered 503."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return problem(exc.status, exc.reason)
        except BadRequest as exc:
            return problem(400, str(exc))
        except (PersonNotFound, NoRecord) as exc:
            return problem(404, str(exc))
        except LookupError as exc:  # the MPI cannot do it as asked (MpiError): ids only in the message
            return problem(409, str(exc))
        except Exception:
            log.exception("console api request failed", path=request.path)
            return problem(503, "the store could not be read or written; try again")

    return wrapped


def integer(query: Mapping[str, str], name: str, default: int, *, least: int = 0, most: int | None = None) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}: not a whole number: {text!r}") from None
    if value < least or (most is not None and value > most):
        bound = f"from {least} to {most}" if most is not None else f"at least {least}"
        raise BadRequest(f"{name}: {value} is out of range ({bound})")
    return value


async def body_of(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty object)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("the body is a JSON object")
    return value


def text_field(body: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"{name}: a non-empty string is required")
    return value.strip()
