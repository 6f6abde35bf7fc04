"""/metrics and /readyz on the operators' listener (docs/console.md, "Metrics and health").

/metrics answers in Prometheus' text format to a login or token with the viewer role; what it holds is the
runtime's to say (engine/runtime/metrics.py), given here as ``scrape``, which reads the store and so runs on a
thread. /readyz is for a load balancer or systemd and, like /healthz, needs no login: 200 when ``ready()`` finds
nothing wrong, 503 with the reason otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from engine.api.access import require
from engine.api.console import Part
from engine.domain.roles import Role

Ready = Callable[[], Awaitable[str | None]]  # None when ready, else why not


def part(scrape: Callable[[], bytes], ready: Ready) -> Part:
    async def metrics(request: web.Request) -> web.Response:
        require(request, Role.VIEWER)
        body = await asyncio.to_thread(scrape)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_request: web.Request) -> web.Response:
        reason = await ready()
        if reason is not None:
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    def add(app: web.Application) -> None:
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/readyz", readyz)

    return add
