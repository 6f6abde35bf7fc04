"""The HTTP destination against a real server: the journaled bytes in one request, the answer decides the outcome."""

from __future__ import annotations

import asyncio
from typing import Literal

from engine.connectors.destinations.http import HttpDestination
from engine.domain.delivery import Attempt, Delivery
from tests.support.daemon import free_port
from tests.support.recorder import Recorder, with_recorder

# An invented service record; the resident ID is a valid GB 11643 number of county 360426.
RECORD = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    "<ServiceRecord><Resident><Name>林晓梅</Name><IdNumber>360426198503120025</IdNumber></Resident>"
    '<Service code="HBP-FOLLOWUP" date="2026-11-20"/></ServiceRecord>\n'
).encode()


def delivery(raw: bytes = RECORD) -> Delivery:
    return Delivery(1, 7, "phis-records", "phis", "QUEUED", 0, raw, "ServiceRecord", "SR0001")


async def send(
    url: str,
    raw: bytes = RECORD,
    *,
    method: Literal["POST", "PUT"] = "POST",
    content_type: str = "application/xml; charset=utf-8",
    token: str | None = None,
    timeout: float = 5,
) -> Attempt:
    dest = HttpDestination(url, method=method, content_type=content_type, token=token, timeout=timeout)
    try:
        return await dest.send(delivery(raw))
    finally:
        await dest.close()


def test_the_message_is_sent_byte_for_byte_with_its_content_type_and_token() -> None:
    async def test(server: Recorder) -> None:
        attempt = await send(server.url("/phis/records"), token="s3cret")
        assert attempt.ok
        (request,) = server.received
        assert (request.method, request.path, request.body) == ("POST", "/phis/records", RECORD)
        assert request.headers["Content-Type"] == "application/xml; charset=utf-8"
        assert request.headers["Authorization"] == "Bearer s3cret"

    with_recorder(test)


def test_put_with_a_json_content_type_and_no_token() -> None:
    async def test(server: Recorder) -> None:
        message = b'{"to":"13800000000","template":"HBP_FOLLOWUP"}'
        attempt = await send(server.url("/sms"), message, method="PUT", content_type="application/json")
        assert attempt.ok
        (request,) = server.received
        assert (request.method, request.body, request.headers["Content-Type"]) == ("PUT", message, "application/json")
        assert "Authorization" not in request.headers

    with_recorder(test)


def test_a_2xx_answer_is_sent_with_the_answer_kept() -> None:
    async def test(server: Recorder) -> None:
        server.status, server.body = 201, b"<Ack><Code>0</Code></Ack>"
        attempt = await send(server.url())
        assert attempt == Attempt(True, response=b"<Ack><Code>0</Code></Ack>")

    with_recorder(test)


def test_a_503_is_retried() -> None:
    async def test(server: Recorder) -> None:
        server.status, server.body = 503, b"maintenance"
        attempt = await send(server.url())
        assert not attempt.ok and attempt.retry and not attempt.destination_down
        assert attempt.error == "HTTP 503: maintenance"

    with_recorder(test)


def test_408_and_429_are_retried() -> None:
    async def test(server: Recorder) -> None:
        for status in (408, 429):
            server.status = status
            attempt = await send(server.url())
            assert not attempt.ok and attempt.retry, status

    with_recorder(test)


def test_a_400_is_dead_with_the_start_of_the_answer_masked() -> None:
    async def test(server: Recorder) -> None:
        server.status = 400
        server.body = ("<Error>IdNumber 360426198503120025 (林晓梅) is not registered\n" + "x" * 300).encode()
        attempt = await send(server.url())
        assert not attempt.ok and not attempt.retry and not attempt.destination_down
        assert attempt.error is not None
        assert attempt.error.startswith("HTTP 400: <Error>IdNumber *** (***) is not registered x")
        assert "360426198503120025" not in attempt.error and len(attempt.error) < 220
        assert attempt.response == server.body

    with_recorder(test)


def test_a_redirect_is_not_followed_and_is_dead() -> None:
    async def test(server: Recorder) -> None:
        server.status = 302
        attempt = await send(server.url())
        assert not attempt.ok and not attempt.retry and attempt.error == "HTTP 302"
        assert [r.method for r in server.received] == ["POST"]

    with_recorder(test)


def test_a_refused_connection_is_retried_and_holds_the_batch() -> None:
    url = f"http://127.0.0.1:{free_port()}/phis"
    attempt = asyncio.run(send(url))
    assert not attempt.ok and attempt.retry and attempt.destination_down
    assert attempt.error is not None and attempt.error.startswith(f"{url}: ")


def test_no_answer_within_the_timeout_is_retried_and_holds_the_batch() -> None:
    async def test(server: Recorder) -> None:
        server.delay = 1.0
        attempt = await send(server.url("/slow"), timeout=0.2)
        assert not attempt.ok and attempt.retry and attempt.destination_down
        assert attempt.error == f"{server.url('/slow')}: no answer within 0.2s"

    with_recorder(test)
