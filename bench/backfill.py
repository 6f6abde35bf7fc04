"""Backfill benchmark: an HL7 v2 archive through `huitong backfill` on SQLite (or PostgreSQL), beside a running daemon.

Generates an archive of ADT^A04 and ORU^R01 messages (invented residents with Chinese names and valid resident IDs;
half the files GB 18030, half UTF-8; every tenth file a batch with FHS/BHS), then:

1. starts `huitong daemon` on the store with a live MLLP channel, and measures its ACK round trip for one message
   every 20 ms while idle;
2. runs `huitong backfill archive --path <archive>` (journal, routing, mapping, MPI, record, care loop, in its own
   process) while the live sender goes on, and measures the ACK round trip during the backfill;
3. reports wall time, messages/s, the backfill's peak RSS (from wait4) and its RSS every 10 s (flat memory or not),
   and the live ACK p50/p99 idle and during.

    .venv/bin/python bench/backfill.py [--messages 50000] [--postgres URL] [--record-processes K]
                                       [--live-seconds S] [--out bench/results/backfill.json]

--postgres: the store is that PostgreSQL database, dropped and made afresh before the run and dropped after.
--record-processes: the daemon's `record.processes` (its record workers claim the archive's record deliveries
beside the backfill's own worker, as other nodes of a shared PostgreSQL would).
--live-seconds: the live sender stops that long after the backfill starts (default: it sends throughout), so one long
run gives the live ACK beside the backfill and the backfill's rate once it has the store to itself.
--max-minutes: the backfill is interrupted (SIGINT: it stops at its next checkpoint, as an operator's Ctrl-C) after
that long; the figures are then those of the messages it journaled.

The issue's target is 1,000,000 messages in 10 minutes with flat memory and live ACK p99 within 2x of idle; run with
--messages 1000000 for that (add --max-minutes to bound it: about 1.6 hours on this machine today, see
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fhir_api import fresh_postgres  # noqa: E402
from bench.machine import cpu_model, versions  # noqa: E402
from engine.connectors.mllp import FrameDecoder, frame  # noqa: E402

PER_FILE = 500
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽华", "海燕", "国平", "春梅", "文杰", "玉珍", "子涵", "德明"]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    body = f"360426{1940 + n % 70}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def message(n: int, person: int, charset: str, rng: random.Random) -> str:
    name = SURNAMES[person % len(SURNAMES)] + GIVEN[person // len(SURNAMES) % len(GIVEN)]
    msh18 = "GB 18030-2000" if charset == "gb18030" else "UNICODE UTF-8"
    born = f"{1940 + person % 70}{1 + person % 12:02d}{1 + person % 28:02d}"
    day = f"2024{1 + n % 12:02d}{1 + n % 28:02d}"
    pid = (
        f"PID|1||H{person:08d}^^^HIS^MR~{resident_id(person)}^^^CHN^NNCHN||{name}^^^^^^L||{born}|{'MF'[person % 2]}"
        f"|||兰江街道{person % 300}号^^兰溪市^浙江省^321100^CHN^H||138{person:08d}^PRN^CP"
    )
    if rng.random() < 0.6:
        kind, body = "ADT^A04^ADT_A01", [
            f"EVN|A04|{day}090000",
            pid,
            f"PV1|1|O|内科门诊^^^县人民医院||||D{person % 50:03d}^医生|||MED|||||||||V{n:09d}^^^HIS^VN",
            f"DG1|1||I10^原发性高血压^I10||{day}|F",
        ]
    else:
        kind, body = "ORU^R01^ORU_R01", [
            pid,
            f"OBR|1|O{n}|F{n}|14771-0^空腹血糖^LN|||{day}080000",
            f"OBX|1|NM|14771-0^空腹血糖^LN||{5 + rng.random() * 4:.1f}|mmol/L|3.9-6.1||||F|||{day}080000",
        ]
    msh = f"MSH|^~\\&|HIS|县人民医院|HUITONG|医共体|{day}090000||{kind}|BF{n:09d}|P|2.4|||||CHN|{msh18}"
    return "\r".join([msh, *body]) + "\r"


def generate(root: Path, count: int, seed: int = 7) -> int:
    """The archive: files of PER_FILE messages in a tree of monthly folders; returns the number of files."""
    rng = random.Random(seed)
    people = max(1, count // 4)  # residents come back about four times over the years
    files = 0
    for start in range(0, count, PER_FILE):
        charset = "gb18030" if files % 2 == 0 else "utf-8"
        texts = [message(n, rng.randrange(people), charset, rng) for n in range(start, min(count, start + PER_FILE))]
        body = "".join(texts)
        if files % 10 == 9:  # a batch file
            body = (
                "FHS|^~\\&|HIS\rBHS|^~\\&|HIS\r" + body + f"BTS|{len(texts)}\rFTS|1\r"
            )
        folder = root / f"2024-{1 + files % 12:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"his-{files:05d}.hl7").write_bytes(body.encode(charset))
        files += 1
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configure(work: Path, port: int, store: str, record_processes: int) -> Path:
    (work / "channels").mkdir(parents=True)
    record = [{"name": "record", "type": "record", "order_by": "person"}]
    channels = {
        "live-adt": {
            "source_system": "his.live",
            "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
            "map": ["hl7v2/adt"],
            "destinations": record,
        },
        "archive": {
            "source_system": "his.county-people-hospital",
            "source": {"type": "file", "path": str(work / "inbox"), "glob": "*.hl7", "poll_interval": "1h"},
            "map": ["hl7v2/adt", "hl7v2/oru"],
            "destinations": record,
        },
    }
    for name, body in channels.items():
        (work / "channels" / f"{name}.yaml").write_text(yaml.safe_dump({"channel": name, **body}, allow_unicode=True))
    config = work / "engine.yaml"
    settings = {
        "store": store,
        "record": {"processes": record_processes},
        "channels": "channels",
        "mappings": str(ROOT / "mappings"),
        "logging": {"level": "warning", "format": "json", "file": str(work / "huitong.log")},
    }
    config.write_text(yaml.safe_dump(settings))
    return config


class LiveSender(threading.Thread):
    """One ADT^A04 every 20 ms over one MLLP connection; the ACK round trip of each, labelled by phase."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.phase = "idle"
        self.samples: dict[str, list[float]] = {"idle": [], "backfill": []}
        self.stopping = threading.Event()

    def run(self) -> None:
        rng = random.Random(11)
        with socket.create_connection(("127.0.0.1", self.port)) as conn:
            decoder = FrameDecoder(1 << 20)
            n = 0
            while not self.stopping.is_set():
                n += 1
                raw = message(900_000_000 + n, 5_000_000 + n % 500, "gb18030", rng).replace("ORU^R01", "ADT^A04")
                start = time.perf_counter()
                conn.sendall(frame(raw.encode("gb18030")))
                acks: list[Any] = []
                while not acks:
                    acks = list(decoder.feed(conn.recv(65536)))
                self.samples[self.phase].append((time.perf_counter() - start) * 1000)
                time.sleep(0.02)


class Sampler(threading.Thread):
    """Every EVERY seconds: the seconds since the start, the backfill's RSS in MB (flat memory or not), and the
    archive's messages journaled so far (the rate as the record grows)."""

    EVERY = 10.0

    def __init__(self, pid: int, store: str) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.store = create_engine(store)
        self.started = time.perf_counter()
        self.samples: list[tuple[float, float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.EVERY):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            self.samples.append((round(time.perf_counter() - self.started, 1), round(rss / 1024, 1), self.journaled()))

    def journaled(self) -> int:
        with self.store.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM messages WHERE channel = 'archive'")).scalar_one())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2) if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--postgres", help="a PostgreSQL database URL to drop, make afresh, use and drop")
    parser.add_argument("--record-processes", type=int, default=1, help="the daemon's record.processes")
    parser.add_argument("--live-seconds", type=float, help="stop the live sender this long after the backfill starts")
    parser.add_argument("--max-minutes", type=float, help="interrupt the backfill after this long")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "backfill.json"))
    args = parser.parse_args()
    try:
        out = measure(args.messages, args.postgres, args.record_processes, args.live_seconds, args.max_minutes)
    finally:
        if args.postgres:
            drop_postgres(args.postgres)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))


def drop_postgres(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def measure(
    messages: int, postgres: str | None, record_processes: int, live_seconds: float | None, max_minutes: float | None
) -> dict[str, Any]:
    huitong = [sys.executable, str(ROOT / "cli")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        archive = work / "archive"
        files = generate(archive, messages)
        archive_bytes = sum(p.stat().st_size for p in archive.rglob("*.hl7"))
        port = free_port()
        store = fresh_postgres(postgres) if postgres else f"sqlite:///{work / 'store.db'}"
        config = configure(work, port, store, record_processes)
        daemon = subprocess.Popen([*huitong, "daemon", "--config", str(config)], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the daemon did not start") from None
                    time.sleep(0.2)
            sender = LiveSender(port)
            sender.start()
            time.sleep(10)
            sender.phase = "backfill"
            started = time.perf_counter()
            backfill = subprocess.Popen(
                [*huitong, "backfill", "archive", "--path", str(archive), "--config", str(config)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            sampler = Sampler(backfill.pid, store)
            sampler.start()
            if live_seconds is not None:
                threading.Timer(live_seconds, sender.stopping.set).start()
            if max_minutes is not None:
                threading.Timer(max_minutes * 60, backfill.send_signal, [signal.SIGINT]).start()
            _, status, usage = os.wait4(backfill.pid, 0)
            wall = time.perf_counter() - started
            sampler.stopping.set()
            journaled = sampler.journaled()
            summary = backfill.stdout.read().decode() if backfill.stdout else ""
            sender.stopping.set()
            sender.join(5)
        finally:
            daemon.terminate()
            daemon.wait(60)
    idle, during = sender.samples["idle"], sender.samples["backfill"]
    return {
        "cpu": cpu_model(),
        "versions": versions(["sqlalchemy"]),
        "store": "postgresql" if postgres else "sqlite",
        "record_processes": record_processes,
        "live_seconds": live_seconds,
        "max_minutes": max_minutes,
        "messages": messages,
        "files": files,
        "archive_mb": round(archive_bytes / 1e6, 1),
        "exit_status": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 1),
        "journaled": journaled,
        "messages_per_s": round(journaled / wall),
        "backfill_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "backfill_rss_mb_by_s": sampler.samples,
        "live_ack_ms": {
            "idle": {"n": len(idle), "p50": percentile(idle, 0.5), "p99": percentile(idle, 0.99)},
            "during_backfill": {"n": len(during), "p50": percentile(during, 0.5), "p99": percentile(during, 0.99)},
            "mean_during": round(statistics.fmean(during), 2) if during else 0.0,
        },
        "summary": summary.strip().splitlines(),
    }


if __name__ == "__main__":
    main()
