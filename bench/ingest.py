"""Ingest benchmark: ADT messages over MLLP to the daemon (durable SQLite journal), 1 and 8 connections.

The messages are bench/messages.adt_a01: ~1.3 KB ADT^A01 in GB 18030 with MSH-18 empty, as Chinese HIS send them.

In the same run, for comparison on the same machine:
  ceiling  a bare asyncio MLLP server that returns a fixed ACK and stores nothing;
  peer     python-hl7's hl7.mllp server, parsing each message (hl7.parse) and answering create_ack().
The client runs pinned to CPU 0 and each server pinned to CPU 1 (as in the shared perf baselines).

    .venv/bin/python bench/ingest.py [--messages 20000] [--out bench/results/ingest.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402
from bench.messages import adt_a01  # noqa: E402
from engine.connectors.mllp import FrameDecoder, frame  # noqa: E402
from tests.support.daemon import free_port, wait_port  # noqa: E402

CEILING = textwrap.dedent("""
    import asyncio, os, sys
    os.sched_setaffinity(0, {1})
    ACK = b"\\x0bMSH|^~\\\\&|ENG|ENG|||20260101||ACK|1|P|2.5\\rMSA|AA|1\\r\\x1c\\r"
    class P(asyncio.Protocol):
        def connection_made(self, t): self.t = t; self.buf = b""
        def data_received(self, d):
            self.buf += d
            while True:
                end = self.buf.find(b"\\x1c\\r")
                if end < 0: return
                self.buf = self.buf[end + 2:]
                self.t.write(ACK)
    async def main():
        server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
        await server.serve_forever()
    asyncio.run(main())
""")

PYTHON_HL7 = textwrap.dedent("""
    import asyncio, os, sys, hl7
    from hl7.mllp import start_hl7_server
    os.sched_setaffinity(0, {1})
    async def handle(reader, writer):
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()
    async def main():
        async with await start_hl7_server(
            handle, port=int(sys.argv[1]), host="127.0.0.1", encoding="gb18030"
        ) as server:
            await server.serve_forever()
    asyncio.run(main())
""")


async def client(port: int, payloads: list[bytes], connections: int) -> tuple[float, list[float]]:
    """Each connection sends its share one at a time, waiting for each ACK; returns (seconds, latencies)."""
    latencies: list[float] = []
    shares = [payloads[i::connections] for i in range(connections)]

    async def one(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = FrameDecoder(1 << 20)
        for payload in share:
            started = time.perf_counter()
            writer.write(frame(payload))
            got: list = []
            while not got:
                got = decoder.feed(await reader.read(65536))
            latencies.append(time.perf_counter() - started)
            if b"MSA|AA" not in got[0]:
                raise RuntimeError(f"not AA: {got[0][:200]!r}")
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in shares))
    return time.perf_counter() - started, latencies


def measure(port: int, payloads: list[bytes], connections: int) -> dict[str, float]:
    os.sched_setaffinity(0, {0})
    asyncio.run(client(port, payloads[:500], connections))  # warm-up
    seconds, lat = asyncio.run(client(port, payloads, connections))
    lat.sort()
    return {
        "connections": connections,
        "messages": len(payloads),
        "msg_per_s": round(len(payloads) / seconds),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 3),
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3),
        "max_ms": round(lat[-1] * 1000, 3),
    }


def start_script(script: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", script, str(port)])
    wait_port(port)
    return proc


PIN = ["taskset", "-c", "1"]  # the server side gets CPU 1, as the ceiling and the peer do


def start_daemon(workdir: Path, port: int, destinations: list[dict]) -> subprocess.Popen[bytes]:
    import yaml

    (workdir / "channels").mkdir(parents=True, exist_ok=True)
    (workdir / "channels" / "bench.yaml").write_text(
        yaml.safe_dump(
            {
                "channel": "bench",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "destinations": destinations,
            }
        )
    )
    (workdir / "engine.yaml").write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{workdir / 'store.db'}",
                "channels": "channels",
                "logging": {"level": "warning", "format": "json", "file": str(workdir / "daemon.log")},
            }
        )
    )
    huitong = str(Path(sys.executable).with_name("huitong"))
    proc = subprocess.Popen(
        [*PIN, huitong, "daemon", "--config", str(workdir / "engine.yaml")], stderr=subprocess.DEVNULL
    )
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--peer-messages", type=int, default=5_000, help="python-hl7 is slow; fewer messages")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ingest.json"))
    args = parser.parse_args()
    payloads = [adt_a01(i) for i in range(args.messages + 500)]
    rows = []

    def run(name: str, start, count: int) -> None:  # type: ignore[no-untyped-def]
        for connections in (1, 8):
            port = free_port()
            workdir = Path(tempfile.mkdtemp(prefix="huitong-bench-"))
            proc = start(workdir, port)
            try:
                os.sync()
                result = {"server": name, **measure(port, payloads[:count], connections)}
            finally:
                stop(proc)
                shutil.rmtree(workdir, ignore_errors=True)
            rows.append(result)
            print(
                f"{name:<34} {connections} conn  {result['msg_per_s']:>8} msg/s  p50 {result['p50_ms']:.3f} ms  "
                f"p99 {result['p99_ms']:.3f} ms  max {result['max_ms']:.1f} ms",
                flush=True,
            )

    run("huitong (SQLite FULL, journal only)", lambda w, p: start_daemon(w, p, []), args.messages)
    run(
        "huitong (+ file destination)",
        lambda w, p: start_daemon(w, p, [{"name": "archive", "type": "file", "path": str(w / "out")}]),
        args.messages,
    )
    run("ceiling: bare asyncio, fixed ACK", lambda w, p: start_script(CEILING, p), args.messages)
    run("peer: python-hl7 hl7.mllp + parse", lambda w, p: start_script(PYTHON_HL7, p), args.peer_messages)

    result = {
        "benchmark": "ingest",
        "command": f".venv/bin/python bench/ingest.py --messages {args.messages}",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": cpu_model(),
        },
        "message_bytes": len(payloads[0]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
