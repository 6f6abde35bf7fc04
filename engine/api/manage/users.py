"""GET /api/v1/users: who may sign in to the console, with their roles and state (admin only; changes are made
with `huitong users`, audited there)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Engine

from engine.api import stored
from engine.api.access import require
from engine.api.console import Part
from engine.domain.roles import Role
from engine.store import users

from . import openapi
from .common import API, json_errors


def part(store: Engine) -> Part:
    async def listed(request: web.Request) -> web.Response:
        require(request, Role.ADMIN)

        found = await stored.in_thread(store, users.listed)
        return web.json_response(
            [
                {
                    "name": a.name,
                    "roles": sorted(r.value for r in a.roles),
                    "disabled": a.disabled_at is not None,
                    "failed_logins": a.failed_logins,
                    "created_at": a.created_at,
                    "changed_at": a.changed_at,
                }
                for a in found
            ]
        )

    def add(app: web.Application) -> None:
        app.router.add_get(f"{API}/users", json_errors(listed))
        openapi.register(app, "GET", "/users", "who may sign in, with their roles and state", (Role.ADMIN,))

    return add
