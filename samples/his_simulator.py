"""A county hospital HIS stand-in: receives the engine's contract pushes (ADT^A31 over MLLP) and sends its own
traffic (registrations, updates, visits, lab results) to the engine.

    python samples/his_simulator.py --listen 127.0.0.1:2600 [--send-to 127.0.0.1:2575 --messages DIR]

The listener answers AA to every message it can read (AE otherwise) in the message's own charset (MSH-18, or
GB 18030 when it is empty, as a Chinese HIS assumes), and keeps each push. A push whose contract id and version
(ZFD-1, ZFD-2, docs/contract-his.md) it already holds is counted as a duplicate: the engine promises each change
once, so the demo reports duplicates apart from the rest. `down()` closes the port and every open connection,
`up()` listens on the same port again, so a test can watch the outbox deliver what piled up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.connectors.mllp import FrameDecoder, Oversized, frame
from engine.connectors.mllp.client import exchange
from engine.domain.formats.hl7v2 import build_ack, inspect, read_ack, split_messages
from engine.domain.formats.hl7v2.errors import HL7Error

DEFAULT_CHARSET = "gb18030"  # what a Chinese HIS assumes when MSH-18 is empty


@dataclass(frozen=True, slots=True)
class Push:
    """One message the HIS received, as its patient master would read it."""

    control_id: str  # MSH-10
    message_type: str  # MSH-9, e.g. "ADT^A31"
    patient_ids: tuple[str, ...]  # PID-3.1 of every repetition: the resident ID and the HIS's own MRN
    contract_id: str  # ZFD-1 (id^system); "" when the message has no ZFD
    version: int | None  # ZFD-2
    status: str  # ZFD-3, canonical (ACTIVE, TERMINATED, ...)
    contracted: bool  # ZFD-4 = Y
    duplicate: bool  # the same contract id and version was received before


class HisSimulator:
    """The MLLP listener; `await up()` binds (port 0 picks a free one, kept for the next `up()`)."""

    def __init__(self, listen_host: str = "127.0.0.1", listen_port: int = 0) -> None:
        self.host = listen_host
        self.port = listen_port
        self.messages: list[bytes] = []  # every frame received, as sent
        self.received = 0
        self.acknowledged = 0  # answered AA
        self.duplicates = 0
        self._pushes: list[Push] = []
        self._seen: set[tuple[str, str]] = set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._acks = itertools.count(1)

    def pushes(self) -> list[Push]:
        return list(self._pushes)

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "acknowledged": self.acknowledged, "duplicates": self.duplicates}

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def down(self) -> None:
        """Stop listening and drop every connection, as a HIS that is switched off would."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        decoder = FrameDecoder(16 << 20)
        try:
            while data := await reader.read(65536):
                for raw in decoder.feed(data):
                    writer.write(frame(self.receive(raw.head if isinstance(raw, Oversized) else raw)))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def receive(self, raw: bytes) -> bytes:
        """Keep one message and return its encoded ACK: AA when readable, AE with the reason otherwise."""
        self.received += 1
        self.messages.append(raw)
        seen = inspect(raw, default_charset=DEFAULT_CHARSET)
        ack_code = "AA" if seen.ack_code == "AA" else "AE"
        if seen.message is not None and ack_code == "AA":
            self.acknowledged += 1
            msg = seen.message
            contract_id, version = msg.get("ZFD-1"), msg.get("ZFD-2")
            duplicate = bool(contract_id) and (contract_id, version) in self._seen
            if contract_id:
                self._seen.add((contract_id, version))
            self.duplicates += duplicate
            pid = msg.segment("PID")
            repetitions = pid.field(3).count(msg.header.encoding_chars[1]) + 1 if pid is not None else 0
            self._pushes.append(
                Push(
                    control_id=msg.header.control_id,
                    message_type=msg.header.message_type,
                    patient_ids=tuple(
                        value for n in range(1, repetitions + 1) if pid is not None and (value := pid.get(3, n, 1))
                    ),
                    contract_id=contract_id,
                    version=int(version) if version.isdigit() else None,
                    status=msg.get("ZFD-3"),
                    contracted=msg.get("ZFD-4") == "Y",
                    duplicate=duplicate,
                )
            )
        now = datetime.now().astimezone().strftime("%Y%m%d%H%M%S%z")
        ack = build_ack(seen.header, ack_code, control_id=f"HISACK{next(self._acks)}", timestamp=now, text=seen.reason)
        # the ACK echoes MSH fields (often Chinese) and MSH-18, so it goes out in the message's charset
        return (ack + "\r").encode(seen.charset or DEFAULT_CHARSET, "replace")


def load_messages(directory: Path) -> list[bytes]:
    """Every message in the directory's *.hl7 files, files in name order (the scenario's order)."""
    return [raw for path in sorted(directory.glob("*.hl7")) for raw in split_messages(path.read_bytes())]


def send(host: str, port: int, messages: Iterable[bytes], *, timeout: float = 30.0) -> list[str]:
    """Send the HIS's own messages one by one over one connection, each after the last one's ACK; MSA-1 codes."""
    return [read_ack(answer).code for answer in exchange(host, port, messages, timeout=timeout)]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def _run(args: argparse.Namespace) -> None:
    his = HisSimulator(*_address(args.listen))
    await his.up()
    print(f"HIS simulator listening on {his.host}:{his.port}", flush=True)
    if args.send_to:
        messages = load_messages(args.messages)
        codes = await asyncio.to_thread(send, *_address(args.send_to), messages)
        print(f"sent {len(codes)} messages to {args.send_to}: " + ", ".join(codes), flush=True)
    reported = 0
    try:
        while True:
            await asyncio.sleep(0.5)
            for push in his.pushes()[reported:]:
                # contract ids and statuses only: PID-3 holds the resident ID, which is not printed
                contract = (
                    f": contract {push.contract_id} v{push.version} {push.status} "
                    f"contracted={'Y' if push.contracted else 'N'}"
                    if push.contract_id
                    else ""
                )
                duplicate = " (duplicate)" if push.duplicate else ""
                print(f"received {push.message_type} {push.control_id}{contract}{duplicate}", flush=True)
            reported = len(his.pushes())
    finally:
        await his.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:2600", help="host:port for the engine's pushes")
    parser.add_argument("--send-to", help="host:port of the engine's HIS channel")
    parser.add_argument("--messages", type=Path, default=Path("samples/county/his"), help="directory of *.hl7")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(_run(args))
        except (OSError, HL7Error) as exc:
            sys.exit(f"his_simulator: {exc}")


if __name__ == "__main__":
    main()
