"""A blocking MLLP client for the CLI: send frames one at a time, wait for each answer."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Iterator

from engine.connectors.mllp.framing import FrameDecoder, Oversized, frame


def exchange(
    host: str, port: int, payloads: Iterable[bytes], *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None
) -> Iterator[bytes]:
    """Yield the answer to each payload, in order, over one connection."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context else raw
        decoder = FrameDecoder(16 << 20)
        ready: list[bytes | Oversized] = []
        for payload in payloads:
            sock.sendall(frame(payload))
            while not ready:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError(f"{host}:{port} closed the connection before answering")
                ready.extend(decoder.feed(data))
            answer = ready.pop(0)
            yield answer.head if isinstance(answer, Oversized) else answer
