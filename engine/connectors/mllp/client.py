"""A blocking MLLP client (the CLI's `send`, tests, tools): one frame out, wait for the answer, in order."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Iterator

from engine.connectors.mllp.framing import FrameDecoder, Oversized, frame


class Connection:
    """One persistent MLLP connection; `ask` sends a payload and returns the frame that answers it."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.address = f"{host}:{port}"
        raw = socket.create_connection((host, port), timeout=timeout)
        self._sock = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context else raw
        self._decoder = FrameDecoder(16 << 20)
        self._ready: list[bytes | Oversized] = []

    def ask(self, payload: bytes) -> bytes:
        self._sock.sendall(frame(payload))
        while not self._ready:
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionError(f"{self.address} closed the connection before answering")
            self._ready.extend(self._decoder.feed(data))
        answer = self._ready.pop(0)
        return answer.head if isinstance(answer, Oversized) else answer

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exchange(
    host: str,
    port: int,
    payloads: Iterable[bytes],
    *,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[bytes]:
    """Yield the answer to each payload, in order, over one connection."""
    with Connection(host, port, timeout=timeout, ssl_context=ssl_context) as conn:
        for payload in payloads:
            yield conn.ask(payload)
