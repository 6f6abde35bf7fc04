"""HTTP destination: each journaled message's bytes, unchanged, in one request (XML records to the public-health
system, JSON to an SMS or app gateway).

2xx is SENT with the answer kept. 408, 429 and 5xx say "not now" and are retried, as are connection failures and
timeouts (which also hold the rest of the batch). Any other answer is the server refusing this content, which a
retry cannot change: DEAD, with the start of the answer as the reason.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import aiohttp

from engine.config import HttpDestination as HttpSpec
from engine.connectors import destinations
from engine.domain.delivery import Attempt, Delivery
from engine.domain.masking import mask_text

REASON_CHARS = 200


async def exchange(
    session: aiohttp.ClientSession, method: str, url: str, body: bytes, *, headers: dict[str, str], timeout: float
) -> tuple[int, bytes] | Attempt:
    """The status and body of the answer, or the failed Attempt (destination down) when no answer came.

    Redirects are not followed: aiohttp would turn a redirected POST into a GET and drop the message."""
    try:
        async with session.request(
            method,
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            return response.status, await response.read()
    except TimeoutError:
        return Attempt(False, error=f"{url}: no answer within {timeout:g}s", destination_down=True)
    except (aiohttp.ClientError, OSError) as exc:
        return Attempt(False, error=f"{url}: {exc or type(exc).__name__}", destination_down=True)


def retryable(status: int) -> bool:
    """A status that means "not now" (timeout, too many requests, server error) rather than "not this"."""
    return status >= 500 or status in (408, 429)


def reason(status: int, body: bytes) -> str:
    """`HTTP 400: <the answer's first characters>` on one line, with personal data masked."""
    text = " ".join(body[: REASON_CHARS * 4].decode("utf-8", "replace")[:REASON_CHARS].split())
    return mask_text(f"HTTP {status}: {text}" if text else f"HTTP {status}")


class HttpPeer:
    """What every HTTP destination shares: one client session, opened on first use, and nothing of its own to
    commit or store (a 2xx answer means the server took the message)."""

    _session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def commit(self) -> None:
        return None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)  # let the connector close its sockets


class HttpDestination(HttpPeer):
    def __init__(
        self,
        url: str,
        *,
        method: Literal["POST", "PUT"],
        content_type: str,
        token: str | None,
        timeout: float,
    ) -> None:
        self.url = url
        self.method = method
        self.headers = {"Content-Type": content_type}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    async def send(self, delivery: Delivery) -> Attempt:
        answer = await exchange(
            self.session(), self.method, self.url, delivery.raw, headers=self.headers, timeout=self.timeout
        )
        if isinstance(answer, Attempt):
            return answer
        status, body = answer
        if 200 <= status < 300:
            return Attempt(True, response=body)
        return Attempt(False, error=reason(status, body), retry=retryable(status), response=body)


def build(spec: HttpSpec, context: destinations.Context) -> HttpDestination:
    return HttpDestination(
        spec.url, method=spec.method, content_type=spec.content_type, token=spec.token, timeout=spec.timeout
    )


destinations.register(HttpSpec, build)
