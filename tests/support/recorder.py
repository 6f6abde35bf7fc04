"""A real HTTP server on 127.0.0.1 that keeps every request as it arrived and gives the answer it is told to."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from multidict import CIMultiDictProxy

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes


class Recorder:
    def __init__(self) -> None:
        self.received: list[Request] = []
        self.status = 200
        self.body = b""
        self.delay = 0.0  # seconds before answering (a slow server)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Request(request.method, request.path_qs, request.headers, await request.read()))
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, body=self.body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def with_recorder(test: Callable[[Recorder], Awaitable[T]]) -> T:
    """Run `test` against a started Recorder, stopping it afterwards."""

    async def run() -> T:
        server = Recorder()
        await server.start()
        try:
            return await test(server)
        finally:
            await server.stop()

    return asyncio.run(run())
