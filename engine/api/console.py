"""The operators' listener: one aiohttp application for the web console, the management API (/api/v1), /metrics
and the health probes (docs/console.md).

Each part of it is a ``Part``, a function that adds its routes (and what it needs on ``app``) to the application;
the daemon chooses the parts and wires them (engine/runtime/daemon.py), so the listener itself knows none of them.
``/healthz`` is the listener's own: the process answers, so it is alive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from engine.config import ConsoleSpec
from engine.connectors.http import HttpListener
from engine.connectors.tls import server_context

Part = Callable[[web.Application], None]


async def _alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def application(parts: Sequence[Part], middlewares: Sequence[Middleware] = ()) -> web.Application:
    app = web.Application(middlewares=list(middlewares))
    app.router.add_get("/healthz", _alive)
    for part in parts:
        part(app)
    return app


def listener(spec: ConsoleSpec, parts: Sequence[Part], middlewares: Sequence[Middleware] = ()) -> HttpListener:
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(application(parts, middlewares), spec.listen.host, spec.listen.port, ssl_context=context)
