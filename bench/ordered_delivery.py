"""Ordered delivery benchmark: a backlog for one patient and for ten, ordered by person and not, through `huitong
backfill` to a healthy MLLP peer, and to the record.

Each case journals an archive of N ADT^A08 messages (one patient, or ten taking turns) with `huitong backfill` on a
fresh SQLite store, the channel's one destination being either an MLLP peer that answers AA at once (a thread of
this script, on 127.0.0.1) or the record; `order_by: person` on or off. Reported: wall time of the backfill (read,
journal, deliver) and messages per second. The unordered run of the same backlog is the baseline: ordered delivery
should come close to it, not crawl at one message per second per patient as it did before.

    .venv/bin/python bench/ordered_delivery.py [--messages 2000] [--out bench/results/ordered_delivery.json]

The issue's figure is --messages 10000 (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backfill import free_port, message  # noqa: E402
from bench.machine import cpu_model, versions  # noqa: E402
from engine.connectors.mllp import FrameDecoder, frame  # noqa: E402


class Peer(threading.Thread):
    """An MLLP listener that answers every message with AA at once and counts them."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.port = free_port()
        self.received = 0
        self.server = socket.create_server(("127.0.0.1", self.port))

    def run(self) -> None:
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder(1 << 22)
        with conn:
            while data := conn.recv(65536):
                for raw in decoder.feed(data):
                    control = raw.split(b"\r", 1)[0].split(b"|")[9]
                    self.received += 1
                    conn.sendall(frame(b"MSH|^~\\&|PEER||HUITONG||20260101||ACK|A|P|2.4\rMSA|AA|" + control + b"\r"))


def archive(root: Path, count: int, patients: int) -> None:
    """N ADT^A08 of `patients` residents taking turns, 500 per file."""
    rng = random.Random(3)
    root.mkdir(parents=True)
    for start in range(0, count, 500):
        texts = [
            message(n, 1000 + n % patients, "utf-8", rng).replace("ORU^R01^ORU_R01", "ADT^A08^ADT_A01")
            for n in range(start, min(count, start + 500))
        ]
        (root / f"his-{start:08d}.hl7").write_bytes("".join(texts).encode("utf-8"))


def run_case(work: Path, count: int, patients: int, destination: str, ordered: bool, peer: Peer) -> dict[str, object]:
    archive(work / "archive", count, patients)
    (work / "channels").mkdir()
    dest: dict[str, object] = (
        {"name": "peer", "type": "mllp", "target": f"127.0.0.1:{peer.port}"}
        if destination == "mllp"
        else {"name": "record", "type": "record"}
    )
    if ordered:
        dest["order_by"] = "person"
    channel = {
        "channel": "archive",
        "source_system": "his.county-people-hospital",
        "source": {"type": "file", "path": str(work / "inbox"), "poll_interval": "1h"},
        "map": ["hl7v2/adt"],
        "destinations": [dest],
    }
    (work / "channels" / "archive.yaml").write_text(yaml.safe_dump(channel, allow_unicode=True))
    config = work / "engine.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{work / 'store.db'}",
                "channels": "channels",
                "mappings": str(ROOT / "mappings"),
                "logging": {"level": "warning", "format": "json", "file": str(work / "huitong.log")},
            }
        )
    )
    before = peer.received
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli"),
            "backfill",
            "archive",
            "--path",
            str(work / "archive"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SENT {count}," in done.stdout, done.stdout
    return {
        "destination": destination,
        "patients": patients,
        "ordered": ordered,
        "messages": count,
        "seconds": round(seconds, 2),
        "messages_per_s": round(count / seconds, 1),
        "peer_received": peer.received - before if destination == "mllp" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ordered_delivery.json"))
    args = parser.parse_args()
    peer = Peer()
    peer.start()
    cases = [
        ("mllp", 1, True),
        ("mllp", 1, False),
        ("mllp", 10, True),
        ("mllp", 10, False),
        ("record", 10, True),
        ("record", 10, False),
    ]
    rows = []
    for destination, patients, ordered in cases:
        with tempfile.TemporaryDirectory() as tmp:
            row = run_case(Path(tmp), args.messages, patients, destination, ordered, peer)
        rows.append(row)
        print(
            f"{destination:<7} {patients:>3} patient(s) {'ordered  ' if ordered else 'unordered'}"
            f" {row['messages']:>7} msgs {row['seconds']:>8.2f} s {row['messages_per_s']:>9.1f} msg/s",
            flush=True,
        )
    result = {"cpu": cpu_model(), "versions": versions(["sqlalchemy"]), "cases": rows}
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
