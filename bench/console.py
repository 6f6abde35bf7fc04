"""Console benchmark: the dashboard and the message search over N journaled messages, on SQLite and PostgreSQL,
while the daemon ingests over MLLP; and the live ACK round trip with the console in use against without it.

1. The store: N ADT^A01 (~1.3 KB, GB 18030) journaled as the intake journals them (journal.append, PROCESSED,
   each with its SENT outbox row to the record destination), over four channels and the last 30 days; residents
   come back about ten times (a population of N/10). The first ``--residents`` of them are in the record: each of
   their messages goes through the shipped mapping and pipeline.record.apply (MPI and record, batches of 50) with
   its journal id, which is what makes it findable by patient identifier. PostgreSQL's tables are then vacuumed
   and analysed, as autovacuum keeps them in a store that has run for a while.
2. `huitong daemon` on that store with the console (auth: users; an API token with console/clinical) and a live
   MLLP channel to the record; a sender process (a child of this one, so the aiohttp clients' work does not delay
   its reads) sends one new resident's ADT^A01 every 1/--rate s and times each ACK.
3. The ACK baseline: --seconds of the sender alone, before and after the console load (pooled): "without console".
4. The console, aiohttp clients (1 and 16 at once) asking in a loop for --seconds each, the sender still going:
   dashboard  GET /ui/ (channels' totals, queues, dead letters, nodes), /api/v1/channels, /api/v1/throughput
              (per-minute counts, the chart), /api/v1/queues;
   search     /api/v1/messages?patient=<resident ID> (a different recorded resident each request; every one of
              its ~10 messages must come back), ?text=<MRN> (a resident's MRN over the whole journal: ~10 rows
              match), ?text=<MRN>&channel=..&since=<24 h ago> (the same bounded as an operator would: the
              (channel, received_at) index leaves a day of one channel), and ?text=<a diagnosis every message
              holds> (the newest page of 50).
   p50/p99 per row, and the ACKs sent meanwhile: "with console".

    .venv/bin/python bench/console.py [--messages 100000] [--residents 1000] [--seconds 4] [--rate 20]
                                      [--postgres URL | --postgres ''] [--no-sqlite] [--rows ROW,...]
                                      [--out bench/results/console.json]

The issue's scale is 1,000,000 messages (`--messages 1000000`); see docs/benchmarks.md for what was run.
Targets: search p99 <= 200 ms; live ACK p99 with the console in use <= 1.5x without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml
from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._engine import load  # noqa: E402
from bench.fhir_api import free_port, fresh_postgres, huitong, percentile, wait_port  # noqa: E402
from bench.fhir_record import resident  # noqa: E402
from bench.machine import cpu_model, versions  # noqa: E402
from engine.config.mpi import SHIPPED, load_matcher  # noqa: E402
from engine.connectors.mllp import FrameDecoder, frame  # noqa: E402
from engine.domain.mapping import Mapped  # noqa: E402
from engine.domain.outcome import DeliveryStatus, MessageStatus  # noqa: E402
from engine.pipeline.mapping import map_file  # noqa: E402
from engine.pipeline.mpi import MpiResolver  # noqa: E402
from engine.pipeline.record import Provenance, apply  # noqa: E402
from engine.store import journal, message_text  # noqa: E402
from engine.store.database import migrate, open_engine  # noqa: E402
from engine.store.schema import outbox  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_console"
CHANNELS = ("his-adt", "his-inpatient", "township-adt", "live-adt")  # the last is also the live MLLP channel
SOURCE = "his.county-people-hospital"
VISITS = 10  # each resident's messages in the journal
SPAN = 30 * 86400.0  # the journal covers the last 30 days
FILL_BATCH = 5000
RECORD_BATCH = 50
CLIENTS = (1, 16)
LIVE_RESIDENTS = 5_000_000  # the live sender's first resident: beyond any population, below resident()'s 10 M
COMMON = "原发性高血压"  # a diagnosis every message holds: the newest page of 50 of a million matches
TARGETS = {"search_p99_ms": 200.0, "ack_p99_ratio_console_vs_without": 1.5}


# --- the messages ----------------------------------------------------------------------------------------------------


def hl7(n: int, visit: int, control: str) -> bytes:
    """Resident n's admission ``visit``: bench/messages.py's ADT^A01 shape (PID NK1 PV1, six OBX, three AL1,
    three DG1, IN1) with resident n's identifiers and demographics (bench/fhir_record.resident)."""
    who = resident(n)
    stamp = f"2025{1 + visit % 12:02d}{1 + visit % 28:02d}{8 + visit % 10:02d}3000"
    vn = f"V{n:08d}{visit:03d}"
    doctor = f"D{n % 40:03d}^李医生"
    sbp, glu = 110 + (n * 7 + visit) % 50, 4 + (n + visit * 3) % 60 / 10
    segments = (
        f"MSH|^~\\&|HIS|县人民医院|HUITONG|医共体平台|{stamp}||ADT^A01^ADT_A01|{control}|P|2.4",
        f"EVN|A01|{stamp}",
        f"PID|1||{who.mrn}^^^HIS^PI~{who.resident_id}^^^CHN^NNCHN||{who.family}^{who.given}^^^^^L||"
        f"{who.birth_date.replace('-', '')}|{'MF'[n % 2]}|||幸福路{n % 300}号^^城关镇^某县^100010^CHN^H||"
        f"138{n:08d}^PRN^CP|||M||{vn}",
        f"NK1|1|{who.family}秀兰^^^^^^L|SPO^配偶^HL70063||1390000{n % 10000:04d}^PRN^CP",
        f"PV1|1|I|内科病区^0{n % 9}^0{n % 4}^县人民医院||||{doctor}^^^^^^^^^^^^^^^^^^^^^^^^^医师|||MED||||1|||"
        f"{doctor}||{vn}^^^HIS^VN|||||||||||||||||||||||||{stamp}",
        f"OBX|1|NM|8480-6^收缩压^LN||{sbp}|mm[Hg]^mmHg^UCUM|90-140|N|||F|||{stamp}",
        f"OBX|2|NM|8462-4^舒张压^LN||{sbp - 50}|mm[Hg]^mmHg^UCUM|60-90|N|||F|||{stamp}",
        f"OBX|3|NM|2345-7^空腹血糖^LN||{glu:.1f}|mmol/L^mmol/L^UCUM|3.9-6.1|N|||F|||{stamp}",
        f"OBX|4|NM|8867-4^心率^LN||{60 + n % 40}|/min^次/分^UCUM|60-100|N|||F|||{stamp}",
        f"OBX|5|NM|29463-7^体重^LN||{50 + n % 40}.5|kg^千克^UCUM||N|||F|||{stamp}",
        f"OBX|6|ST|72166-2^吸烟状况^LN||已戒烟十年以上||||||F|||{stamp}",
        "AL1|1|DA|Z88.0^青霉素过敏^ICD10|SV|皮疹",
        "AL1|2|FA|F001^海鲜^L|MO|荨麻疹",
        "AL1|3|DA|Z88.1^头孢类过敏^ICD10|MI|瘙痒",
        f"DG1|1|ICD10|I10.x00^原发性高血压^ICD10||{stamp}|A",
        f"DG1|2|ICD10|E11.900^2型糖尿病不伴并发症^ICD10||{stamp}|A",
        f"DG1|3|ICD10|J18.900^肺炎^ICD10||{stamp}|W",
        f"IN1|1|310^城乡居民基本医疗保险^HL70072|YB{n:010d}|某县医疗保障局||||||||20250101|20251231|||SEL^本人",
    )
    return ("\r".join(segments) + "\r").encode("gb18030")


def received_at(i: int, count: int, now: float) -> float:
    return now - SPAN + SPAN * i / count


def journal_rows(count: int, population: int, now: float) -> Iterator[tuple[int, int, journal.JournalEntry]]:
    """Message i of the journal: resident i % population's visit i // population, received in time order over
    the SPAN before ``now``, on channel i % 4; with (resident, visit)."""
    for i in range(count):
        n, visit = i % population, i // population
        control = f"J{i:09d}"
        entry = journal.JournalEntry(
            channel=CHANNELS[i % len(CHANNELS)],
            source="10.20.0.8:52114",
            received_at=received_at(i, count, now),
            raw=hl7(n, visit, control),
            message_type="ADT^A01",
            control_id=control,
            charset="gb18030",
            status=MessageStatus.PROCESSED,
        )
        entry.processed_at = entry.received_at + 0.05
        yield n, visit, entry


def fill(engine: Engine, count: int, population: int, recorded: int, now: float) -> dict[str, float]:
    """Journal ``count`` messages up to ``now`` (each with its SENT delivery) and record the messages of
    residents below ``recorded``; the seconds each took."""
    mappings = load(ROOT / "mappings")
    matcher, errors = load_matcher(SHIPPED)
    assert matcher is not None, errors
    resolver = MpiResolver(matcher)
    spent = {"journal_s": 0.0, "index_s": 0.0, "record_s": 0.0, "recorded_messages": 0}
    rows = journal_rows(count, population, now)
    done = 0
    while True:
        batch = [row for _, row in zip(range(FILL_BATCH), rows, strict=False)]
        if not batch:
            return spent
        started = time.perf_counter()
        entries = [e for _, _, e in batch]
        with engine.begin() as conn:
            journal.append(conn, entries, node="bench-fill")
            conn.execute(
                insert(outbox),
                [
                    {
                        "message_id": e.id,
                        "channel": e.channel,
                        "destination": "record",
                        "status": DeliveryStatus.SENT,
                        "attempts": 1,
                        "next_attempt_at": e.received_at,
                        "created_at": e.received_at,
                        "sent_at": e.processed_at,
                    }
                    for e in entries
                ],
            )
        spent["journal_s"] += time.perf_counter() - started
        started = time.perf_counter()
        with engine.begin() as conn:  # the text index, as the daemon's catch-up leaves it
            message_text.catch_up(conn, len(entries))
        spent["index_s"] += time.perf_counter() - started
        started = time.perf_counter()
        mapped: list[tuple[Mapped, Provenance]] = []
        for n, _, e in batch:
            if n < recorded:
                assert e.id is not None
                for _, m in map_file(mappings, ["hl7v2/adt"], e.raw, charset="gb18030", source_system=SOURCE):
                    mapped.append((m, Provenance(SOURCE, e.id, e.channel)))
        for start in range(0, len(mapped), RECORD_BATCH):
            with engine.begin() as conn:
                apply(conn, mapped[start : start + RECORD_BATCH], now, resolver)
        spent["record_s"] += time.perf_counter() - started
        spent["recorded_messages"] += len(mapped)
        done += len(batch)
        if done % 100_000 < FILL_BATCH:
            print(f"  journaled {done} messages", flush=True)


# --- the live sender -------------------------------------------------------------------------------------------------


def sender(port: int, rate: float, first_resident: int, pipe: Pipe) -> None:
    """One ADT^A01 of a new resident every 1/rate s over one MLLP connection until told to stop; sends back
    (sent at, ACK round trip ms) for each."""
    samples: list[tuple[float, float]] = []
    with socket.create_connection(("127.0.0.1", port)) as conn:
        decoder = FrameDecoder(1 << 20)
        started, k = time.perf_counter(), 0
        while not pipe.poll():
            payload = frame(hl7(first_resident + k, 0, f"LIVE{k:09d}"))
            at = time.perf_counter()
            conn.sendall(payload)
            acks: list[Any] = []
            while not acks:
                acks = list(decoder.feed(conn.recv(65536)))
            samples.append((time.time(), (time.perf_counter() - at) * 1000))
            if not isinstance(acks[0], bytes) or b"MSA|AA" not in acks[0]:
                raise RuntimeError(f"not AA: {acks[0]!r}")
            k += 1
            time.sleep(max(0.0, started + k / rate - time.perf_counter()))
    pipe.send(samples)


# --- the console load ------------------------------------------------------------------------------------------------


Check = Callable[[int, bytes], bool]


async def drive(
    base: str, headers: dict[str, str], urls: Callable[[], Iterator[tuple[str, Check]]], clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` workers asking in a loop for ``seconds`` (after a warm-up of a tenth of it)."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers, timeout=timeout) as session:

        async def worker(until: float, keep: bool) -> None:
            nonlocal errors
            asked = urls()
            while time.perf_counter() < until:
                url, check = next(asked)
                start = time.perf_counter()
                async with session.get(url) as answer:
                    body = await answer.read()
                    status = answer.status
                if keep:
                    latencies.append((time.perf_counter() - start) * 1000)
                    if not check(status, body):
                        errors += 1

        warm = time.perf_counter() + seconds / 10
        await asyncio.gather(*(worker(warm, False) for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


def ok(status: int, _body: bytes) -> bool:
    return status == 200


def found(expected: int) -> Check:
    def check(status: int, body: bytes) -> bool:
        return status == 200 and len(json.loads(body)["messages"]) == expected

    return check


def scenarios(
    population: int, recorded: int, count: int, filled_at: float
) -> dict[str, Callable[[], Iterator[tuple[str, Check]]]]:
    """Each row's requests: the dashboard's (always the same) and the searches (a different resident each time);
    the one-day search asks for the journal's last day (the 24 h before ``filled_at``)."""

    def always(url: str, check: Check = ok) -> Callable[[], Iterator[tuple[str, Check]]]:
        def urls() -> Iterator[tuple[str, Check]]:
            while True:
                yield url, check

        return urls

    def messages_of(n: int) -> int:
        return len(range(n, count, population))

    def cycling(make: Callable[[int], str], among: int) -> Callable[[], Iterator[tuple[str, Check]]]:
        def urls() -> Iterator[tuple[str, Check]]:
            rng = random.Random()
            while True:
                n = rng.randrange(among)
                yield make(n), found(messages_of(n))

        return urls

    since = filled_at - 86400
    day_ago = quote(datetime.fromtimestamp(since).astimezone().isoformat())
    first = int(count * (1 - 86400 / SPAN))
    last_day = next(i for i in range(first, count) if received_at(i, count, filled_at) >= since)

    def recent_urls() -> Iterator[tuple[str, Check]]:  # a resident of the last day, on one of its channels
        rng = random.Random()
        while True:
            i = rng.randrange(last_day, count)
            n, channel = i % population, CHANNELS[i % len(CHANNELS)]
            expected = sum(1 for j in range(n, count, population) if j >= last_day and j % len(CHANNELS) == i % 4)
            yield f"/api/v1/messages?text={resident(n).mrn}&channel={channel}&since={day_ago}", found(expected)

    return {
        "dashboard_page": always("/ui/"),
        "channels": always("/api/v1/channels"),
        "throughput": always("/api/v1/throughput?minutes=60"),
        "queues": always("/api/v1/queues"),
        "search_patient": cycling(lambda n: f"/api/v1/messages?patient={resident(n).resident_id}", recorded),
        "search_text_journal": cycling(lambda n: f"/api/v1/messages?text={resident(n).mrn}", population),
        "search_text_one_day": recent_urls,
        "search_text_common": always(f"/api/v1/messages?text={quote(COMMON)}", found(50)),
    }


# --- one store -------------------------------------------------------------------------------------------------------


def configure(work: Path, store: str, mllp: int, console: int) -> Path:
    (work / "channels").mkdir(parents=True, exist_ok=True)
    record = [{"name": "record", "type": "record", "order_by": "person"}]
    for name in CHANNELS:
        if name == "live-adt":
            source: dict[str, Any] = {"type": "mllp", "listen": f"127.0.0.1:{mllp}", "encoding": "gb18030"}
        else:
            source = {"type": "file", "path": str(work / "inbox" / name), "glob": "*.hl7", "poll_interval": "1h"}
        body = {"channel": name, "source_system": SOURCE, "source": source, "map": ["hl7v2/adt"]}
        (work / "channels" / f"{name}.yaml").write_text(
            yaml.safe_dump({**body, "destinations": record}, allow_unicode=True)
        )
    config = work / "engine.yaml"
    settings = {
        "store": store,
        "channels": "channels",
        "mappings": str(ROOT / "mappings"),
        "logging": {"level": "warning", "format": "json", "file": str(work / "huitong.log")},
        "console": {"listen": f"127.0.0.1:{console}", "auth": "users"},
    }
    config.write_text(yaml.safe_dump(settings))
    return config


def token(config: Path) -> str:
    made = subprocess.run(
        huitong("tokens", "create", "--scope", "console/clinical", "--expires", "1d", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(made.stderr)
    return made.stdout.strip().splitlines()[-1]


def ack_stats(samples: list[float]) -> dict[str, Any]:
    return {"n": len(samples), "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)}


def run_store(name: str, store: str, work: Path, args: argparse.Namespace, population: int) -> dict[str, Any]:
    """Fill the store, start the daemon on it, and measure; the fill's seconds, the rows and the ACKs."""
    engine = open_engine(store, fsync_each_commit=False)
    migrate(engine)
    print(f"{name}: journaling {args.messages} messages, recording {args.residents} residents' ...", flush=True)
    started, filled_at = time.perf_counter(), time.time()
    spent = fill(engine, args.messages, population, args.residents, filled_at)
    if engine.dialect.name == "postgresql":  # what autovacuum keeps a store that has run for days in
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) messages, outbox"))
    engine.dispose()
    fill_s = time.perf_counter() - started
    print(f"{name}: filled in {fill_s:.0f}s ({spent})", flush=True)
    mllp, console = free_port(), free_port()
    config = configure(work / name, store, mllp, console)
    headers = {"Authorization": f"Bearer {token(config)}"}
    daemon = subprocess.Popen(huitong("daemon", "--config", str(config)), stderr=subprocess.DEVNULL)
    windows: list[tuple[str, float, float]] = []  # (phase, from, to) in wall-clock time
    rows: dict[str, list[dict[str, Any]]] = {}
    try:
        wait_port(mllp, daemon)
        wait_port(console, daemon)
        ours, theirs = multiprocessing.Pipe()
        live = multiprocessing.Process(target=sender, args=(mllp, args.rate, LIVE_RESIDENTS, theirs))
        live.start()

        def without() -> None:
            at = time.time()
            time.sleep(args.baseline)
            windows.append(("without", at, time.time()))

        time.sleep(2)  # the sender's first messages make the record worker's caches warm
        without()
        base = f"http://127.0.0.1:{console}"
        for row, urls in scenarios(population, args.residents, args.messages, filled_at).items():
            if args.rows and row not in args.rows:
                continue
            rows[row] = []
            for clients in CLIENTS:
                at = time.time()
                rows[row].append(asyncio.run(drive(base, headers, urls, clients, args.seconds)))
                windows.append((f"with:{row}:{clients}", at, time.time()))
                print(f"  {name:10} {row:22} {rows[row][-1]}", flush=True)
        without()
        ours.send("stop")
        samples: list[tuple[float, float]] = ours.recv()
        live.join(30)
    finally:
        daemon.terminate()
        daemon.wait(60)
    acks: dict[str, list[float]] = {"without": [], "with": []}
    by_row: dict[str, list[float]] = {}  # the ACKs sent while each row ran: which part of the console costs them
    for sent, ms in samples:
        for phase, start, end in windows:
            if start <= sent < end:
                acks[phase.partition(":")[0]].append(ms)
                if phase != "without":
                    by_row.setdefault(phase.partition(":")[2], []).append(ms)
    ack: dict[str, Any] = {phase: ack_stats(values) for phase, values in acks.items()}
    base_p99 = ack["without"]["p99_ms"]
    ack["ratio_p99"] = round(ack["with"]["p99_ms"] / base_p99, 2) if base_p99 else None
    ack["with_by_row"] = {row: ack_stats(values) for row, values in by_row.items()}
    print(f"  {name:10} live ACK {ack}", flush=True)
    fill_out = {"wall_s": round(fill_s, 1), **{k: round(v, 1) for k, v in spent.items()}}
    return {"fill": fill_out, "rows": rows, "live_ack": ack}


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Per store: each search row's p99 at 16 clients against the target, and the ACK ratio."""
    out: dict[str, Any] = {}
    for store, result in results.items():
        searches = {row: r[-1]["p99_ms"] for row, r in result["rows"].items() if row.startswith("search")}
        ratio = result["live_ack"]["ratio_p99"]
        out[store] = {
            "search_p99_met": {row: p99 <= TARGETS["search_p99_ms"] for row, p99 in searches.items()},
            "ack_ratio_met": ratio is not None and ratio <= TARGETS["ack_p99_ratio_console_vs_without"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=1_000, help="residents in the record (patient search)")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per row and client count")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of ACKs without the console, twice")
    parser.add_argument("--rate", type=float, default=20.0, help="live messages per second over MLLP")
    parser.add_argument("--postgres", default=POSTGRES, help="a database to drop and make afresh; '' skips")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "console.json"))
    parser.add_argument("--rows", type=lambda v: v.split(","), default=[], help="only these rows (comma-separated)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    population = max(args.residents, args.messages // VISITS)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stores = {} if args.no_sqlite else {"sqlite": f"sqlite:///{work / 'store.db'}"}
        if args.postgres:
            stores["postgresql"] = fresh_postgres(args.postgres)
        for name, url in stores.items():
            results[name] = run_store(name, url, work, args, population)
    out = {
        "benchmark": "console",
        "command": " ".join(["bench/console.py", *sys.argv[1:]]),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(["aiohttp", "sqlalchemy", "psycopg"]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "messages": args.messages,
        "population": population,
        "recorded_residents": args.residents,
        "seconds_per_row": args.seconds,
        "live_rate_per_s": args.rate,
        "targets": TARGETS,
        "results": results,
        "met": verdict(results),
    }
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out["met"], indent=2))


if __name__ == "__main__":
    main()
