"""HTTP plumbing shared by the HTTP sources: a listener on host:port, bounded body reads, bearer tokens.

Bytes in, bytes out: what a body means (FHIR, XML) is decided by the runtime and the pipeline.
"""

from __future__ import annotations

import hmac
import ssl
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Oversized:
    """A body over the limit: its head and the limit it broke."""

    head: bytes
    limit: int


async def read_body(request: web.Request, limit: int) -> bytes | Oversized:
    """The request body, or its head when it is longer than `limit` (the rest is not read)."""
    if request.content_length is not None and request.content_length > limit:
        return Oversized(await request.content.read(4096), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return Oversized(b"".join(chunks)[:4096], limit)
    return b"".join(chunks)


def bearer_ok(request: web.Request, token: str | None) -> bool:
    """True when no token is configured, or the request carries exactly `Authorization: Bearer <token>`."""
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def peer_of(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(request.remote or "?")


class HttpListener:
    """An aiohttp application served on host:port until stopped."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        grace: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.grace = grace  # seconds requests in hand get to finish when stopping
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=self.grace)
        await self._runner.setup()
        self._site = web.TCPSite(
            self._runner, self.host, self.port, reuse_address=True, backlog=512, ssl_context=self.ssl_context
        )
        try:
            await self._site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise

    @property
    def bound_port(self) -> int:
        assert self._runner is not None
        server = self._runner.addresses[0]
        return int(server[1])

    async def stop(self) -> None:
        """Stop accepting; requests in hand get their answer (up to `grace` seconds)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
