"""A real MLLP server for tests: records every frame it receives and answers with a chosen ACK code.

It runs in its own thread with its own event loop, so a test can start it, stop it (the destination goes
down) and start it again on the same port while the daemon under test keeps running in another process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from engine.connectors.mllp import FrameDecoder, frame

START, END = b"\x0b", b"\x1c\r"


def ack_for(message: bytes, code: str = "AA") -> bytes:
    fields = message.split(b"\r", 1)[0].split(b"|")
    control_id = fields[9] if len(fields) > 9 else b""
    return (
        b"MSH|^~\\&|PEER|PEER|||20260101000000||ACK|P"
        + control_id
        + b"|P|2.5\rMSA|"
        + code.encode()
        + b"|"
        + control_id
        + b"\r"
    )


class MllpPeer:
    def __init__(
        self, port: int = 0, answer: Callable[[bytes], str] = lambda _m: "AA", ssl: object | None = None
    ) -> None:
        self.port = port
        self.answer = answer
        self.ssl = ssl
        self.received: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> MllpPeer:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("MLLP peer did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            "127.0.0.1",
            self.port,
            reuse_address=True,
            ssl=self.ssl,  # type: ignore[arg-type]
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(16 << 20)
        try:
            while data := await reader.read(65536):
                for message in decoder.feed(data):
                    assert isinstance(message, bytes)
                    self.received.append(message)
                    writer.write(frame(ack_for(message, self.answer(message))))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            # close open connections too: the destination must notice the peer is gone
            server.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop = self._server = None

    def __enter__(self) -> MllpPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
