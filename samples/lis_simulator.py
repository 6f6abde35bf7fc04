"""A laboratory system (LIS) stand-in: listens for HL7 v2 over MLLP, keeps what it gets, answers AA.

python samples/lis_simulator.py --listen 127.0.0.1:2576 --save var/lis-received
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.connectors.mllp import FrameDecoder, frame
from engine.domain.formats.hl7v2 import build_ack, charset_for, read_header


async def serve(host: str, port: int, save: Path) -> None:
    save.mkdir(parents=True, exist_ok=True)
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        decoder = FrameDecoder(16 << 20)
        while data := await reader.read(65536):
            for message in decoder.feed(data):
                assert isinstance(message, bytes)
                count += 1
                (save / f"{count:06d}.hl7").write_bytes(message)
                header = read_header(message)
                ack = build_ack(header, "AA", control_id=f"LIS{count}", timestamp="20260101000000") + "\r"
                # the ACK echoes MSH fields (often Chinese) and MSH-18, so it goes out in the message's charset
                writer.write(frame(ack.encode(charset_for(header.charset, "gb18030"), "replace")))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, port)
    print(f"LIS simulator listening on {host}:{port}, saving to {save}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:2576")
    parser.add_argument("--save", default="var/lis-received", type=Path)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port), args.save))


if __name__ == "__main__":
    main()
