"""FHIR API benchmark: the daemon's FHIR R4 read API over a record of N residents, on SQLite and PostgreSQL, beside
Medplum's FhirRouter with its in-memory repository on the same resources.

1. The record: N residents made by the pipeline's mapping and record stages from generated ADT^A01 messages
   (bench/fhir_record.py), each about 15 resources; one busy resident with about 200.
2. `huitong daemon` with `fhir_api` on that store and a `system/*.read` token; from this process, aiohttp clients
   (1 and 16 concurrent) for a fixed time per row:
   - Patient search by identifier (`identifier=<resident ID system>|<id>`, a different resident each request);
   - Patient search by name + birthdate (`name=<name>&birthdate=<date>`, idem);
   - `Patient/<person>/$everything?_count=250` of the busy resident (its whole record in one answer; the bench's
     daemon has `max_count: 250`);
   - Observation search `patient=Patient/<person>&_count=50` of the busy resident, following `next` links: each
     page is one request.
   Requests/s and p50/p99 latency in ms; every answer must be 200 with the expected matches.
3. The peer: bench/peers/medplum/server.mjs (`@medplum/fhir-router` FhirRouter over `MemoryRepository`, behind
   node:http), loaded with the record's current resources exported from the store as the API serves them, then the
   same queries, in the form it answers best: `family` + `given` for the name (it matches `name` on "given
   family"), `subject=Patient/<person>` for the patient (its `patient` evaluates `resolve()` on every Observation,
   1.4 s a search over 300 residents); its searchset has no `next` link, so the client pages with `_offset`;
   FhirRouter has no `$everything` (Medplum's server implements it over PostgreSQL, not the router).

    .venv/bin/python bench/fhir_api.py [--residents 2000] [--seconds 4] [--postgres URL | --postgres ''] [--out ...]

The issue's scale is 100,000 residents (`--residents 100000`); see docs/benchmarks.md for what was run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import yaml
from sqlalchemy import Engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fhir_record import BUSY_VISITS, build, resident  # noqa: E402
from bench.machine import cpu_model, versions  # noqa: E402
from engine.domain.mapping.result import RESIDENT_ID_SYSTEM  # noqa: E402
from engine.store import fhir_read  # noqa: E402
from engine.store.database import migrate, open_engine  # noqa: E402
from engine.views import fhir  # noqa: E402

PEER = ROOT / "bench" / "peers" / "medplum"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_fhir"
CLIENTS = (1, 16)
MAX_COUNT = 250
TARGETS = {"identifier_p99_ms_at_16": 10.0, "everything_p99_ms": 50.0}


@dataclass(frozen=True, slots=True)
class Target:
    """A server under load: its FHIR base, the headers every request carries, and how it names the queries."""

    name: str
    base: str
    headers: dict[str, str]
    name_query: Callable[[int], str]  # resident n -> the query part of a name + birthdate search
    everything: bool  # whether it has Patient/$everything
    offset_paging: bool  # whether the client pages with _offset (no next link)
    patient_param: str = "patient"  # how its Observation search names the patient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start") from None
            time.sleep(0.2)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2) if ordered else 0.0


# --- the stores --------------------------------------------------------------------------------------------------


def fresh_postgres(url: str) -> str:
    """Drop and create the database the URL names (on the same server's ``postgres`` database)."""
    target = make_url(url)
    admin = open_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return url


def export(engine: Engine, path: Path) -> int:
    """Every current resource as the API answers it (fhir.resource: body and meta), one JSON a line."""
    written = 0
    with engine.connect() as conn, path.open("wb") as out:
        last = ""
        while True:
            ids = [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM record_resources WHERE id > :last ORDER BY id LIMIT 5000"), {"last": last}
                )
            ]
            if not ids:
                return written
            for stored in fhir_read.currents(conn, ids):
                out.write(orjson.dumps(fhir.resource(stored)) + b"\n")
                written += 1
            last = ids[-1]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, COUNT(*) FROM record_resources GROUP BY type ORDER BY type"))
        return {str(kind): int(n) for kind, n in rows}


# --- the servers ---------------------------------------------------------------------------------------------------


def huitong(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "cli"), *args]


def configure(work: Path, store: str, port: int) -> Path:
    (work / "channels").mkdir(parents=True, exist_ok=True)
    config = work / "engine.yaml"
    settings = {
        "store": store,
        "channels": "channels",
        "mappings": str(ROOT / "mappings"),
        "logging": {"level": "warning", "format": "json", "file": str(work / "huitong.log")},
        "fhir_api": {"listen": f"127.0.0.1:{port}", "max_count": MAX_COUNT},
    }
    config.write_text(yaml.safe_dump(settings))
    return config


def token(config: Path) -> str:
    made = subprocess.run(
        huitong("tokens", "create", "--scope", "system/*.read", "--expires", "1d", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(made.stderr)
    return made.stdout.strip().splitlines()[-1]


def peer_installed() -> None:
    if not (PEER / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, timeout=600)


async def load_peer(base: str, ndjson: Path) -> int:
    loaded = 0
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with ndjson.open("rb") as lines:
            while chunk := lines.readlines(4 << 20):
                async with session.post(f"{base}/load", data=b"".join(chunk)) as answer:
                    loaded += (await answer.json())["loaded"]
    return loaded


# --- the load --------------------------------------------------------------------------------------------------------


def _next(url: str, bundle: dict[str, Any], offset_paging: bool) -> str | None:
    """The next page's URL: the searchset's ``next`` link, or (a server without one) the next ``_offset``."""
    link = next((x["url"] for x in bundle.get("link") or [] if x.get("relation") == "next"), None)
    if link or not offset_paging:
        return link
    path, _, query = url.partition("?")
    asked = dict(p.split("=", 1) for p in query.split("&"))
    offset, count = int(asked.get("_offset", "0")), int(asked["_count"])
    if offset + count >= int(bundle.get("total", 0)):
        return None
    asked["_offset"] = str(offset + count)
    return f"{path}?{'&'.join(f'{k}={v}' for k, v in asked.items())}"


async def drive(
    target: Target,
    first_urls: Callable[[], Iterator[str]],
    check: Callable[[dict[str, Any]], bool],
    clients: int,
    seconds: float,
    paged: bool = False,
) -> dict[str, Any]:
    """``clients`` workers asking in a loop for ``seconds`` (after a warm-up of a tenth of it): each request's
    latency; a paged query follows its next pages before starting again."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, headers=target.headers, timeout=timeout) as session:

        async def worker(urls: Iterator[str], until: float, keep: bool) -> None:
            nonlocal errors
            while time.perf_counter() < until:
                url: str | None = next(urls)
                while url is not None and time.perf_counter() < until:
                    start = time.perf_counter()
                    async with session.get(url) as answer:
                        body = await answer.read()
                        status = answer.status
                    elapsed = (time.perf_counter() - start) * 1000
                    bundle = orjson.loads(body)
                    if keep:
                        latencies.append(elapsed)
                        if status != 200 or not check(bundle):
                            errors += 1
                    url = _next(url, bundle, target.offset_paging) if paged and status == 200 else None

        warm = time.perf_counter() + seconds / 10
        await asyncio.gather(*(worker(first_urls(), warm, False) for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(first_urls(), started + seconds, True) for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


def scenarios(target: Target, residents: int, busy_person: str, busy_resources: int) -> dict[str, Any]:
    """The four queries: (URLs a worker asks in turn, what a right answer holds, paged?)."""

    def cycling(make: Callable[[int], str]) -> Callable[[], Iterator[str]]:
        def urls() -> Iterator[str]:
            rng = random.Random()
            while True:
                yield make(rng.randrange(residents))

        return urls

    def always(url: str) -> Callable[[], Iterator[str]]:
        def urls() -> Iterator[str]:
            while True:
                yield url

        return urls

    def one_patient(bundle: dict[str, Any]) -> bool:
        return bundle.get("total") == 1

    def some(bundle: dict[str, Any]) -> bool:
        return bool(bundle.get("entry"))

    out: dict[str, Any] = {
        "patient_identifier": (
            cycling(lambda n: f"{target.base}/Patient?identifier={RESIDENT_ID_SYSTEM}|{resident(n).resident_id}"),
            one_patient,
            False,
        ),
        "patient_name_birthdate": (cycling(lambda n: f"{target.base}/Patient?{target.name_query(n)}"), some, False),
        "observation_paged": (
            always(f"{target.base}/Observation?{target.patient_param}=Patient/{busy_person}&_count=50"),
            some,
            True,
        ),
    }
    if target.everything:
        out["everything_busy"] = (
            always(f"{target.base}/Patient/{busy_person}/$everything?_count={MAX_COUNT}"),
            lambda b: len(b.get("entry") or []) == busy_resources,
            False,
        )
    return out


async def measure(target: Target, residents: int, busy: str, busy_resources: int, seconds: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, (urls, check, paged) in scenarios(target, residents, busy, busy_resources).items():
        rows[name] = [await drive(target, urls, check, clients, seconds, paged) for clients in CLIENTS]
        for row in rows[name]:
            print(f"  {target.name:10} {name:24} {row}", flush=True)
    return rows


def ours_name(n: int) -> str:
    who = resident(n)
    return f"name={quote(who.family + who.given)}&birthdate={who.birth_date}"


def peer_name(n: int) -> str:
    who = resident(n)
    return f"family={quote(who.family)}&given={quote(who.given)}&birthdate={who.birth_date}"


async def busy_person(base: str, headers: dict[str, str], n: int) -> tuple[str, int]:
    """The enterprise person of resident n (from its Patient's refer link) and its $everything's total."""
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{base}/Patient?identifier={RESIDENT_ID_SYSTEM}|{resident(n).resident_id}"
        async with session.get(url) as answer:
            bundle = await answer.json(content_type=None)
        [entry] = bundle["entry"]
        [link] = [x for x in entry["resource"]["link"] if x["type"] == "refer"]
        person = str(link["other"]["reference"].removeprefix("Patient/"))
        async with session.get(f"{base}/Patient/{person}/$everything?_count=1") as answer:
            return person, int((await answer.json(content_type=None))["total"])


def run_ours(name: str, store: str, work: Path, args: argparse.Namespace, busy: int) -> tuple[str, int, Any]:
    """The busy resident's person id and record size, and the rows, of a daemon on this store."""
    port = free_port()
    config = configure(work / name, store, port)
    secret = token(config)
    daemon = subprocess.Popen(huitong("daemon", "--config", str(config)), stderr=subprocess.DEVNULL)
    try:
        wait_port(port, daemon)
        base = f"http://127.0.0.1:{port}/fhir"
        headers = {"Authorization": f"Bearer {secret}"}
        person, total = asyncio.run(busy_person(base, headers, busy))
        target = Target(name, base, headers, ours_name, everything=True, offset_paging=False)
        return person, total, asyncio.run(measure(target, args.residents, person, total, args.seconds))
    finally:
        daemon.terminate()
        daemon.wait(60)


def run_peer(ndjson: Path, args: argparse.Namespace, person: str) -> dict[str, Any]:
    peer_installed()
    port = free_port()
    node = ["node", "--experimental-websocket", "--max-old-space-size=12000", str(PEER / "server.mjs"), str(port)]
    proc = subprocess.Popen(node, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        start = time.perf_counter()
        loaded = asyncio.run(load_peer(f"http://127.0.0.1:{port}", ndjson))
        load_s = time.perf_counter() - start
        print(f"  peer loaded {loaded} resources in {load_s:.1f}s", flush=True)
        base = f"http://127.0.0.1:{port}/fhir"
        target = Target("medplum", base, {}, peer_name, everything=False, offset_paging=True, patient_param="subject")
        rows = asyncio.run(measure(target, args.residents, person, 0, args.seconds))
        return {"loaded": loaded, "load_s": round(load_s, 1), "rows": rows}
    finally:
        proc.terminate()
        proc.wait(60)


def node_version() -> str:
    found = shutil.which("node")
    return subprocess.run([found, "--version"], capture_output=True, text=True).stdout.strip() if found else "absent"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per row")
    parser.add_argument("--postgres", default=POSTGRES, help="a database to drop and make afresh; '' skips")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "fhir_api.json"))
    args = parser.parse_args()
    busy = args.residents // 2
    command = " ".join(["bench/fhir_api.py", *sys.argv[1:]])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stores = {"sqlite": f"sqlite:///{work / 'store.db'}"}
        if args.postgres:
            stores["postgresql"] = fresh_postgres(args.postgres)
        engines = [open_engine(url) for url in stores.values()]
        for engine in engines:
            migrate(engine)
        print(f"recording {args.residents} residents (+{BUSY_VISITS - 1} visits of one) in {', '.join(stores)}")
        started = time.perf_counter()
        spent = build(engines, args.residents, busy, progress=True)
        build_s = time.perf_counter() - started
        by_type = counts(engines[0])
        ndjson = work / "resources.ndjson"
        exported = export(engines[0], ndjson)
        for engine in engines:
            engine.dispose()
        people = {}  # the busy resident's person id and $everything total in each store (ids are the store's)
        for i, (name, url) in enumerate(stores.items()):
            print(f"{name}: recorded in {spent[f'record_s_{i}']:.1f}s; load")
            person, total, results[name] = run_ours(name, url, work, args, busy)
            people[name] = (person, total)
        print("medplum:")
        results["medplum"] = run_peer(ndjson, args, people["sqlite"][0])  # the export is the SQLite store's
    out = {
        "benchmark": "fhir_api",
        "command": command,
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {**versions(["aiohttp", "sqlalchemy", "psycopg"]), "node": node_version()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "residents": args.residents,
        "resources": sum(by_type.values()),
        "resources_by_type": by_type,
        "exported_for_peer": exported,
        "busy_resident_everything_total": people["sqlite"][1],
        "record_build": {
            "wall_s": round(build_s, 1),
            "map_s": round(spent["map_s"], 1),
            **{f"record_s_{name}": round(spent[f"record_s_{i}"], 1) for i, name in enumerate(stores)},
        },
        "seconds_per_row": args.seconds,
        "targets": TARGETS,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
