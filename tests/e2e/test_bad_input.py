"""Bad input gets a clear answer and costs nothing else: the next good message on the connection gets AA."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.connectors.mllp.client import exchange
from engine.domain.formats.hl7v2 import read_ack
from tests.support.corpus import files
from tests.support.daemon import Daemon, free_port, write_config
from tests.support.messages import adt

MALFORMED = files("hl7v2-malformed")
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[int]:
    root = tmp_path_factory.mktemp("bad-input")
    port = free_port()
    config = write_config(
        root,
        f"sqlite:///{root / 'store.db'}",
        {
            "strict-in": {
                "source": {
                    "type": "mllp",
                    "listen": f"127.0.0.1:{port}",
                    "validation": "strict",
                    "profile": str(ROOT / "mappings" / "profiles" / "nbs-orders.yaml"),
                    "max_frame_bytes": 4096,
                    "idle_timeout": "1s",
                    "max_connections": 4,
                    "frame_timeout": "2s",
                },
            },
        },
        log_dir / "bad-input.jsonl",
    )
    with Daemon(config, ports=(port,)):
        yield port


def test_every_malformed_corpus_file_gets_AE_or_AR_with_a_reason_and_the_next_message_AA(port: int) -> None:
    payloads = []
    for i, item in enumerate(MALFORMED):
        payloads += [item.path.read_bytes(), adt(f"GOOD{i:04d}")]
    answers = [read_ack(a) for a in exchange("127.0.0.1", port, payloads)]
    for i, item in enumerate(MALFORMED):
        bad, good = answers[2 * i], answers[2 * i + 1]
        assert bad.code in ("AE", "AR"), f"{item.id}: {bad}"
        assert bad.text, f"{item.id}: no reason given"
        assert good.code == "AA", f"after {item.id}: {good}"


def test_a_frame_over_the_size_limit_is_refused_and_the_connection_keeps_working(port: int) -> None:
    big = adt("BIG0001") + b"\rNTE|1||" + b"x" * 10_000
    first, second = (read_ack(a) for a in exchange("127.0.0.1", port, [big, adt("AFTER01")]))
    assert first.code == "AR" and "max_frame_bytes" in first.text
    assert second.code == "AA"


def test_an_idle_connection_is_closed_after_the_idle_timeout(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert 0.5 < time.monotonic() - started < 4


def test_a_connection_past_max_connections_is_closed_at_once_and_a_good_sender_is_answered_after(port: int) -> None:
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            started = time.monotonic()
            assert extra.recv(1) == b""  # closed by the listener, not left hanging
            assert time.monotonic() - started < 0.9  # before the idle timeout could have done it
    finally:
        for sock in held:
            sock.close()
    [answer] = exchange("127.0.0.1", port, [adt("AFTERFLOOD")])
    assert read_ack(answer).code == "AA"


def test_a_frame_that_never_ends_is_closed_after_frame_timeout_though_bytes_keep_coming(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=6) as sock:
        started = time.monotonic()
        sock.sendall(b"\x0bMSH|^~\\&|")
        sock.settimeout(0.3)
        closed = False
        while not closed and time.monotonic() - started < 6:
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                sock.sendall(b"x")  # a byte now and then: the idle timeout never fires
        assert closed and 1.5 < time.monotonic() - started < 5
