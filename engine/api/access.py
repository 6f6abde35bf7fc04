"""The operators' listener's access check, used by every handler: the request's user (set by the listener's
authentication middleware) must hold the role the action needs; 401 without a user, 403 without the role."""

from __future__ import annotations

from aiohttp import web

from engine.domain.roles import Role, User


def require(request: web.Request, role: Role) -> User:
    user = request.get("user")
    if not isinstance(user, User):
        raise web.HTTPUnauthorized(reason="log in, or send an API token")
    if not user.may(role):
        raise web.HTTPForbidden(reason=f"this needs the {role.value} role")
    return user
