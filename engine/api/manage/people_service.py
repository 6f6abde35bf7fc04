"""What the daemon lends the management API's people areas (MPI, record, tasks, indicators, audit), and how their
handlers read the store and audit what a user saw of a resident (their JSON answers and refusals are common.py's).

A read of a resident's data is audited (``console.read``: the user, the person, what was shown), committed before
the answer leaves (in one transaction with the reads answered at the same time); changes are audited by the engine
functions that make them (the MPI's own ``mpi.*`` rows with before and after), with the user as the actor. No log
line names a resident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.api import stored
from engine.api.audit_batch import AuditBatch
from engine.config import EngineConfig
from engine.domain.roles import Role, User
from engine.views.mpi_review import Scorer

from ..access import require
from .common import BadRequest, body_text, read


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
    audits: AuditBatch

    async def read(self, job: Callable[[Connection], Any]) -> Any:
        return await read(self.store, job)

    async def write(self, job: Callable[[Connection], Any]) -> Any:
        return await stored.in_thread(self.store, job, write=True)

    async def seen(self, request: web.Request, user: User, persons: Iterable[str], what: str) -> None:
        """Audit that ``user`` was shown ``what`` of each person, committed before the answer leaves."""
        shown = sorted(set(persons))
        if not shown:
            return
        detail = {"view": what, "path": request.path}
        await self.audits.record([("console.read", person, detail, actor(user)) for person in shown])


def actor(user: User) -> str:
    """How the audit names a console user (as a FHIR grant names a user: engine/domain/access.py)."""
    return f"user:{user.name}"


def require_all(request: web.Request, roles: Sequence[Role]) -> User:
    user = require(request, roles[0])
    for role in roles[1:]:
        require(request, role)
    return user


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    """``common.body_text`` for a field an MPI change needs (its reason, the ids it is about)."""
    value = body_text(body, name)
    if value is None and required:
        raise BadRequest(f"field {name}: a non-empty string is required")
    return value or ""
