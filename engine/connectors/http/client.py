"""HTTP client calls for the polling sources: GET with a bearer token, a timeout and a size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp

from engine.domain.formats.fhir import FhirError, bundle_resources, read_fhir


class FetchError(Exception):
    """A request that gave nothing usable (connection, timeout, HTTP status, size, not FHIR); says why."""


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
                raise FetchError(f"GET {url}: HTTP {response.status} {response.reason or ''}".rstrip())
            if len(body) > max_bytes:
                raise FetchError(f"GET {url}: response exceeds the limit of {max_bytes} bytes")
            return body
    except TimeoutError:
        raise FetchError(f"GET {url}: no answer within {timeout:g}s") from None
    except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
        raise FetchError(f"GET {url}: {exc or type(exc).__name__}") from None


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    resources: list[dict[str, Any]]


def search_url(base_url: str, resource_type: str, since: str | None, page_size: int) -> str:
    """The first page of `resource_type` updated after `since`, oldest first."""
    params = {"_count": str(page_size), "_sort": "_lastUpdated"}
    if since:
        params["_lastUpdated"] = f"gt{since}"
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
        body = await fetch(
            session, url, token=token, timeout=timeout, max_bytes=max_bytes, accept="application/fhir+json"
        )
        try:
            payload = read_fhir(body, max_bytes=max_bytes)
        except FhirError as exc:
            raise FetchError(f"GET {url}: {exc}") from None
        if payload.message_type != "Bundle^searchset":
            raise FetchError(f"GET {url}: expected a searchset Bundle, got {payload.message_type}")
        yield Page(url, bundle_resources(payload.resource))
        url = _next_link(payload.resource, url)
