"""HTTP client calls for the polling sources: GET with a bearer token, a timeout and a size limit.

``fetch`` for the daemon's pollers; ``fetch_blocking``, the same request with the same errors, for a backfill's
reader, which is read synchronously."""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp

from engine.domain.formats.fhir import FhirError, bundle_resources, read_fhir


class FetchError(Exception):
    """A request that gave nothing usable (connection, timeout, HTTP status, size, not FHIR); says why.

    ``transient``: asking again may help (no connection, no answer in time, HTTP 429 or 5xx)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def _status_error(url: str, status: int, reason: str | None) -> FetchError:
    return FetchError(f"GET {url}: HTTP {status} {reason or ''}".rstrip(), transient=status == 429 or status >= 500)


FHIR_JSON = "application/fhir+json"


def headers(token: str | None, accept: str) -> dict[str, str]:
    out = {"Accept": accept}
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    return out


async def fetch(
    session: aiohttp.ClientSession, url: str, *, token: str | None, timeout: float, max_bytes: int, accept: str
) -> bytes:
    """The body of a 200 answer to GET `url`; raises FetchError otherwise."""
    try:
        async with session.get(
            url, headers=headers(token, accept), timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as response:
            body = await response.content.read(max_bytes + 1)
            if response.status != 200:
                raise _status_error(url, response.status, response.reason)
            if len(body) > max_bytes:
                raise FetchError(f"GET {url}: response exceeds the limit of {max_bytes} bytes")
            return body
    except TimeoutError:
        raise FetchError(f"GET {url}: no answer within {timeout:g}s", transient=True) from None
    except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
        raise FetchError(f"GET {url}: {exc or type(exc).__name__}", transient=True) from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect is an answer like any non-200
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch_blocking(url: str, *, token: str | None, timeout: float, max_bytes: int, accept: str) -> bytes:
    """`fetch` for a caller that cannot await (a backfill's reader): the same request, the same errors."""
    request = urllib.request.Request(url, headers=headers(token, accept))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body: bytes = response.read(max_bytes + 1)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise _status_error(url, exc.code, exc.reason) from None
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise FetchError(f"GET {url}: no answer within {timeout:g}s", transient=True) from None
        raise FetchError(f"GET {url}: {reason or type(reason).__name__}", transient=True) from None
    if status != 200:
        raise _status_error(url, status, None)
    if len(body) > max_bytes:
        raise FetchError(f"GET {url}: response exceeds the limit of {max_bytes} bytes")
    return body


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    resources: list[dict[str, Any]]
    next_url: str | None  # Bundle.link[relation=next], resolved against url
    total: int | None  # Bundle.total, when the server counts


def search_url(
    base_url: str,
    resource_type: str,
    since: str | None,
    page_size: int,
    *,
    after: str = "gt",
    before: str | None = None,
) -> str:
    """The first page of `resource_type` updated after `since` (``ge`` too: at it) and, with `before`, earlier than
    that; oldest first."""
    params: list[tuple[str, str]] = [("_count", str(page_size)), ("_sort", "_lastUpdated")]
    if since:
        params.append(("_lastUpdated", f"{after}{since}"))
    if before:
        params.append(("_lastUpdated", f"lt{before}"))
    return f"{base_url.rstrip('/')}/{resource_type}?{urlencode(params)}"


def _next_link(bundle: dict[str, Any], current: str) -> str | None:
    for link in bundle.get("link", []) if isinstance(bundle.get("link"), list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return urljoin(current, link["url"])
    return None


async def search_pages(
    session: aiohttp.ClientSession,
    first_url: str,
    *,
    token: str | None,
    timeout: float,
    max_bytes: int,
) -> AsyncIterator[Page]:
    """Every page of a FHIR search, following Bundle.link[relation=next]; raises FetchError on a bad page."""
    url: str | None = first_url
    seen: set[str] = set()
    while url is not None and url not in seen:
        seen.add(url)
        body = await fetch(session, url, token=token, timeout=timeout, max_bytes=max_bytes, accept=FHIR_JSON)
        page = searchset(url, body, max_bytes)
        yield page
        url = page.next_url


def searchset(url: str, body: bytes, max_bytes: int) -> Page:
    """A search answer read as a page; FetchError naming the URL when it is no searchset Bundle."""
    try:
        payload = read_fhir(body, max_bytes=max_bytes)
    except FhirError as exc:
        raise FetchError(f"GET {url}: {exc}") from None
    if payload.message_type != "Bundle^searchset":
        raise FetchError(f"GET {url}: expected a searchset Bundle, got {payload.message_type}")
    bundle = payload.resource
    total = bundle.get("total")
    return Page(url, bundle_resources(bundle), _next_link(bundle, url), total if isinstance(total, int) else None)
