"""MPI incremental matching at 1,000,000 enterprise persons on SQLite: µs per arriving record, memory, DB size.

Not a test. The issue's target: with 1,000,000 enterprise persons in the store, p99 per arriving record ≤ 5 ms.

**Store.** ``bench/cn_patients.generate`` draws 1,000,000 persons (plus the ones that arrive as new) with their
source records (``his``, ``phs``, ``emr``; about 2 records per person, with the generator's error types). Every
record of a stored person is in the store, linked to that person as a perfect matcher would have linked it. The
rows are exactly the ones ``MpiResolver`` writes for an arriving record, built with the engine's own functions
(``features.from_patient`` of the same FHIR Patient, ``mpi.local_id``, ``blocking.keys``, ``store.insert``,
the resolver's term pairs, ``identity.keys``), but bulk-loaded with ``executemany``. How the fill differs from
arrival one by one: nothing is matched (the truth decides the person, so no REVIEW records, reviews or audit
rows; a person's later records are state MATCH with rule ``bench-fill`` and no probability); term counts are
summed and written once; identifiers go to the first record of the file holding them, as ``_register`` would;
the fill runs with synchronous=OFF and a 4 GB page cache in transactions of 100,000 records. No ANALYZE is run
(the engine never runs one). The filled file is cached under ``var/bench/mpi_incremental/`` with the arrivals;
``--refill`` rebuilds both (a few minutes). Each run works on a fresh copy, so the file is hot in the OS page
cache; SQLite's own cache is its default (2 MB).

**Arrivals.** One record at a time through ``MpiResolver.resolve(conn, [Identification(...)], now)``, each in
its own transaction (BEGIN IMMEDIATE, as the record process writes), on ``open_engine(url,
fsync_each_commit=False)`` (synchronous=NORMAL); the COMMIT is timed apart. Mix: 40% new persons (every record
of theirs was held out of the fill), 40% new source records of stored persons (a held-out record of a person
with two or more, carrying whatever errors the generator gave it), 20% repeats of stored source records (half
unchanged, as an ADT A08 resends them; half with a new phone or a moved address, which re-blocks and
re-matches). 500 warm-up arrivals, then the timed ones; pinned to CPU 1. Beside the wall time of resolve, its
thread CPU time: the VM is shared, and a wall p99 includes the milliseconds another process held the CPU. Peak
RSS is the measuring process's (``resource.getrusage``; the fill runs in a child process).

**Checkpoints.** With synchronous=NORMAL a COMMIT does not fsync, but the COMMIT that takes the WAL past
wal_autocheckpoint (1,000 pages) checkpoints it, fsyncs included: about one arrival in fifty. The same arrivals
are then run again (on a fresh copy) with the writer's autocheckpoint off and a second connection checkpointing
(PASSIVE) every 0.2 s, in the same process and on the same CPU, to show what the COMMIT costs without them.

Before the timed run, every arriving new record is also run once with per-stage timers and rolled back: the
stage split (features, local id lookup, candidates, frequencies, scoring, inserts), blocking stats (candidates
per record, blocks over ``max_block``) and a cProfile of the first 500.

    .venv/bin/python bench/mpi_incremental.py [--refill] [--persons 1000000] [--arrivals 5000] [--no-apart]
        # writes bench/results/mpi_incremental.json (the first run fills var/bench/: ~12 min, 4.3 GB)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import structlog  # noqa: E402

from engine.config.mpi import SHIPPED, load_matcher  # noqa: E402
from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM  # noqa: E402
from engine.domain.mpi import blocking, dates, features  # noqa: E402
from engine.domain.record import identity  # noqa: E402
from engine.pipeline import mpi as pipeline_mpi  # noqa: E402
from engine.pipeline.mpi import MpiResolver  # noqa: E402
from engine.store import dbapi  # noqa: E402
from engine.store import mpi as store  # noqa: E402
from engine.store.database import WRITER, migrate, open_engine  # noqa: E402
from engine.store.persons import Identification, new_id  # noqa: E402

CACHE = ROOT / "var" / "bench" / "mpi_incremental"
RESULT = ROOT / "bench" / "results" / "mpi_incremental.json"
SOURCES = {"his": "his.county-people-hospital", "phs": "phs.county", "emr": "emr.county-hospital"}
SEX = {"男": "male", "1": "male", "M": "male", "女": "female", "2": "female", "F": "female", "0": "unknown"}
MIX = {"new_person": 0.4, "new_source_record": 0.4, "repeat": 0.2}
FILL_BATCH = 100_000
BASE_TIME = 1_780_000_000.0
PROFILED = 500
INTERVAL = 0.2  # seconds between the Checkpointer's checkpoints


def pin() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


def request(row: dict[str, str]) -> Identification:
    """The Patient an ADT mapping makes of a generator row: MRN + resident ID, name, sex, ISO birth date..."""
    source = row["source"]
    mrn = {"type": {"coding": [{"code": MRN_TYPE}]}, "system": f"urn:oid:huitong.bench.{source}"}
    identifiers: list[dict[str, Any]] = [{**mrn, "value": row["local_id"]}]
    if row["id_number"]:
        identifiers.append({"system": RESIDENT_ID_SYSTEM, "value": row["id_number"]})
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "pat-1", "identifier": identifiers}
    if row["name"]:
        patient["name"] = [{"text": row["name"]}]
    if row["sex"] in SEX:
        patient["gender"] = SEX[row["sex"]]
    if birth := dates.birth_date(row["birth_date"]):
        patient["birthDate"] = birth
    if row["phone"]:
        patient["telecom"] = [{"system": "phone", "value": row["phone"]}]
    if row["address"]:
        patient["address"] = [{"text": row["address"]}]
    return Identification(SOURCES[source], identifiers, patient)


def load_resolver() -> MpiResolver:
    matcher, errors = load_matcher(SHIPPED)
    if matcher is None:
        raise SystemExit("\n".join(str(e) for e in errors))
    return MpiResolver(matcher)


# --- the fill (a child process) --------------------------------------------------------------------------------


def fill(persons: int, arrivals: int, seed: int) -> None:
    from bench.cn_patients import generate

    started = time.perf_counter()
    wanted = {kind: int(arrivals * share) + 50 for kind, share in MIX.items()}
    bench = generate(persons + wanted["new_person"], seed)
    generated_s = time.perf_counter() - started
    rng = random.Random(seed + 1)
    by_entity: dict[str, list[int]] = {}
    for i, truth in enumerate(bench.truth):
        by_entity.setdefault(truth["entity_id"], []).append(i)
    entities = sorted(by_entity)
    new_persons = set(rng.sample(entities, wanted["new_person"]))
    several = [e for e in entities if e not in new_persons and len(by_entity[e]) > 1]
    held: dict[int, str] = {}  # row -> entity of a held-out second record
    for entity in rng.sample(several, wanted["new_source_record"]):
        held[rng.choice(by_entity[entity])] = entity
    skip = held.keys() | {i for e in new_persons for i in by_entity[e]}

    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / "store.db"
    for leftover in CACHE.glob("store.db*"):
        leftover.unlink()
    url = f"sqlite:///{db}"
    engine = open_engine(url, fsync_each_commit=False)
    migrate(engine)
    resolver = load_resolver()
    rules = resolver.settings.blocking
    person_of: dict[str, str] = {}
    key_of: dict[int, list[str]] = {}  # row -> (source_system, local_id) of the stored record
    terms: Counter[tuple[str, str]] = Counter()
    identifiers: dict[tuple[str, str], tuple[Any, ...]] = {}
    loaded = 0
    fill_started = time.perf_counter()
    with engine.connect() as conn:
        raw = dbapi.cursor(conn)  # pragmas outside any transaction
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-4000000")
        records: list[store.StoredRecord] = []
        keys: dict[str, list[str]] = {}
        new_persons_rows: list[tuple[str, float]] = []

        def flush() -> None:
            conn.exec_driver_sql("SELECT 1")
            dbapi.executemany(conn, "INSERT INTO record_persons (id, created_at) VALUES (?, ?)", new_persons_rows)
            store.insert(conn, records, keys)
            conn.commit()
            records.clear()
            keys.clear()
            new_persons_rows.clear()

        for i, row in enumerate(bench.people):
            if i in skip:
                continue
            entity = bench.truth[i]["entity_id"]
            if entity not in person_of and len(person_of) == persons:
                continue
            now = BASE_TIME + loaded * 0.001
            req = request(row)
            found = features.from_patient(req.patient)
            local = pipeline_mpi.local_id(req, found)
            first = entity not in person_of
            if first:
                person_of[entity] = new_id(now)
                new_persons_rows.append((person_of[entity], now))
            person = person_of[entity]
            state, rule = (store.NEW, "new") if first else (store.MATCH, "bench-fill")
            stored = store.StoredRecord(
                new_id(now), req.source_system, local, person, state, store.AUTO, None, rule, found, now
            )
            records.append(stored)
            keys[stored.id] = blocking.keys(rules, found)
            terms.update(resolver._terms(found))
            for system, value in identity.keys(req.identifiers):
                identifiers.setdefault((system, value), (value, system, person, req.source_system, now))
            key_of[i] = [req.source_system, local]
            loaded += 1
            if len(records) >= FILL_BATCH:
                flush()
                print(
                    f"  {loaded:,} records, {len(person_of):,} persons, {time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                )
        flush()
        conn.exec_driver_sql("SELECT 1")
        term_rows = [(f, v, c) for (f, v), c in sorted(terms.items())] + [(store.ALL, "", loaded)]
        dbapi.executemany(conn, 'INSERT INTO mpi_terms (field, value, "count") VALUES (?, ?, ?)', term_rows)
        dbapi.executemany(
            conn,
            "INSERT INTO record_identifiers (value, system, person_id, source_system, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [identifiers[k] for k in sorted(identifiers, key=lambda k: (k[1], k[0]))],
        )
        counts = {
            table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in ("record_persons", "mpi_records", "mpi_blocks", "mpi_terms", "record_identifiers")
        }
        conn.commit()
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    fill_s = time.perf_counter() - fill_started

    # The arrivals: rows with their kind, and for a new source record the stored record of the same person.
    stream: list[dict[str, Any]] = []
    for entity in sorted(new_persons)[: wanted["new_person"]]:
        stream.append({"kind": "new_person", "row": bench.people[by_entity[entity][0]]})
    for i, entity in held.items():
        sibling = next(key_of[j] for j in by_entity[entity] if j in key_of)
        stream.append({"kind": "new_source_record", "row": bench.people[i], "sibling": sibling})
    stored_rows = sorted(key_of)
    for n, i in enumerate(rng.sample(stored_rows, wanted["repeat"])):
        row = dict(bench.people[i])
        kind = "repeat_unchanged"
        if n % 2:
            kind = "repeat_changed"
            if n % 4 == 1:
                row["phone"] = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
            else:
                row["address"] = bench.people[rng.choice(stored_rows)]["address"]
        stream.append({"kind": kind, "row": row})
    rng.shuffle(stream)
    meta = {
        "persons": len(person_of),
        "generated_persons": persons + wanted["new_person"],
        "seed": seed,
        "generate_s": round(generated_s, 1),
        "fill_s": round(fill_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "rows": counts,
        "db_bytes": db.stat().st_size,
    }
    (CACHE / "arrivals.json").write_text(json.dumps({"meta": meta, "arrivals": stream}, ensure_ascii=False))
    print(json.dumps(meta, indent=2), file=sys.stderr)


# --- measuring ----------------------------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(a, 50)), 1),
        "p90": round(float(np.percentile(a, 90)), 1),
        "p99": round(float(np.percentile(a, 99)), 1),
        "max": round(float(a.max()), 1),
        "mean": round(float(a.mean()), 1),
    }


class Stages:
    """Per-stage wall time of the resolver's steps, by wrapping them (only while the split is measured)."""

    def __init__(self, resolver: MpiResolver) -> None:
        self.resolver = resolver
        self.spent: Counter[str] = Counter()
        self.undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)
        in_instance = name in getattr(owner, "__dict__", {})

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[stage] += time.perf_counter() - start

        setattr(owner, name, timed)
        self.undo.append(lambda: setattr(owner, name, original) if in_instance else delattr(owner, name))

    def __enter__(self) -> Stages:
        r = self.resolver
        self._wrap(features, "from_patient", "features")
        self._wrap(pipeline_mpi, "local_id", "local id lookup")
        self._wrap(store, "by_local", "local id lookup")
        self._wrap(r, "candidates", "candidates (blocks + records)")
        self._wrap(r, "frequencies", "term frequencies")
        self._wrap(r.matcher, "persons", "scoring")
        self._wrap(r, "_new_record", "_new_record")
        self._wrap(r, "_register", "identifiers")
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in reversed(self.undo):
            undo()

    def split(self, n: int, total_s: float) -> dict[str, float]:
        s = dict(self.spent)
        inner = sum(s.get(k, 0.0) for k in ("candidates (blocks + records)", "term frequencies", "scoring"))
        s["inserts (record, blocks, terms, person)"] = s.pop("_new_record", 0.0) - inner
        s["rest of resolve"] = total_s - sum(s.values())
        return {k: round(v / n * 1e6, 1) for k, v in s.items()}


def diagnose(conn: Any, resolver: MpiResolver, arrivals: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Each new record once, rolled back: stage split, blocking stats, and a cProfile of the first 500."""
    max_block = resolver.settings.max_block
    rules = resolver.settings.blocking
    news = [a for a in arrivals if a["kind"] in ("new_person", "new_source_record")][:limit]
    sizes: list[int] = []
    persons: list[int] = []
    largest: list[int] = []
    over = 0
    for a in news:
        found = features.from_patient(request(a["row"]).patient)
        keys = blocking.keys(rules, found)
        counts = (
            dict(
                dbapi.fetchall(
                    conn,
                    f"SELECT key, count(*) FROM mpi_blocks WHERE key IN ({', '.join('?' * len(keys))}) GROUP BY key",
                    keys,
                )
            )
            if keys
            else {}
        )
        over += any(c > max_block for c in counts.values())
        largest.append(max(counts.values(), default=0))
        candidates = resolver.candidates(conn, found)
        sizes.append(len(candidates))
        persons.append(len({c.person_id for c in candidates}))
        conn.rollback()
    # The whole store's largest blocks (rule index and size only): the ones max_block keeps out.
    big = dbapi.fetchall(
        conn,
        "SELECT substr(key, 1, instr(key, ':') - 1), count(*) AS n FROM mpi_blocks GROUP BY key"
        " HAVING n > 50 ORDER BY n DESC",
        [],
    )
    conn.rollback()
    stats = {
        "store_blocks_over_max_block": sum(1 for _, n in big if n > max_block),
        "store_largest_blocks_rule_size": [[int(r), n] for r, n in big[:8]],
        "records": len(news),
        "candidates_mean": round(float(np.mean(sizes)), 2),
        "candidates_p99": float(np.percentile(sizes, 99)),
        "candidates_max": int(max(sizes)),
        "candidate_persons_mean": round(float(np.mean(persons)), 2),
        "candidate_persons_max": int(max(persons)),
        "largest_block_mean": round(float(np.mean(largest)), 2),
        "largest_block_max": int(max(largest)),
        "arrivals_hitting_block_over_max_block": over,
        "max_block": max_block,
        "no_candidates": sum(1 for s in sizes if s == 0),
    }

    total = 0.0
    with Stages(resolver) as stages:
        for n, a in enumerate(news):
            req = request(a["row"])
            conn.exec_driver_sql("SELECT 1")
            start = time.perf_counter()
            resolver.resolve(conn, [req], BASE_TIME + 10_000_000 + n)
            total += time.perf_counter() - start
            conn.rollback()
        split = stages.split(len(news), total)

    profiler = cProfile.Profile()
    for n, a in enumerate(news[:PROFILED]):
        req = request(a["row"])
        conn.exec_driver_sql("SELECT 1")
        profiler.enable()
        resolver.resolve(conn, [req], BASE_TIME + 20_000_000 + n)
        profiler.disable()
        conn.rollback()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    top = [line for line in out.getvalue().splitlines() if line.strip()][-19:]
    return {"blocking": stats, "stage_split_us": split, "profile_top_tottime": top}


class Checkpointer(threading.Thread):
    """``PRAGMA wal_checkpoint(PASSIVE)`` every INTERVAL seconds on a connection of its own: the WAL checkpoint (and
    its fsyncs) off the writer's COMMIT, which then never checkpoints (wal_autocheckpoint=0)."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.stop, self.count = db, threading.Event(), 0

    def run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        while not self.stop.wait(INTERVAL):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.count += 1
        conn.close()


def run(db: Path, arrivals: list[dict[str, Any]], warmup: int, limit: int, apart: bool) -> dict[str, Any]:
    """Time the arrivals; ``apart``: WAL checkpoints by a Checkpointer instead of at the writer's COMMIT."""
    engine = open_engine(f"sqlite:///{db}", fsync_each_commit=False)
    resolver = load_resolver()
    timings: dict[str, list[tuple[float, float, float]]] = {}
    checkpointer = Checkpointer(db) if apart else None
    with engine.connect().execution_options(**WRITER) as conn:
        diagnosis = diagnose(conn, resolver, arrivals, limit) if limit else None
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if checkpointer is not None:
            dbapi.cursor(conn).execute("PRAGMA wal_autocheckpoint=0")
            checkpointer.start()
        persons: list[str] = []
        for n, a in enumerate(arrivals):
            req = request(a["row"])
            conn.exec_driver_sql("SELECT 1")  # the transaction is open before the clock starts
            cpu = time.thread_time()
            start = time.perf_counter()
            persons.append(resolver.resolve(conn, [req], BASE_TIME + 1_000_000 + n)[0])
            middle = time.perf_counter()
            cpu = time.thread_time() - cpu
            conn.commit()
            end = time.perf_counter()
            if n >= warmup:
                timings.setdefault(a["kind"], []).append(((middle - start) * 1e6, (end - middle) * 1e6, cpu * 1e6))
        if checkpointer is not None:
            checkpointer.stop.set()
            checkpointer.join()
        # Untimed: was each new source record linked to its stored person?
        linked = total = 0
        for a, person in zip(arrivals, persons, strict=True):
            if a["kind"] == "new_source_record":
                sibling = store.by_local(conn, [tuple(a["sibling"])])[tuple(a["sibling"])]
                total += 1
                linked += person == sibling.person_id
        conn.rollback()
    engine.dispose()
    timings["repeat"] = timings.get("repeat_unchanged", []) + timings.get("repeat_changed", [])
    timings["all"] = [t for k in ("new_person", "new_source_record", "repeat") for t in timings.get(k, [])]
    commits = [c for _, c, _ in timings["all"]]
    return {
        "diagnosis": diagnosis,
        "wal_checkpoints": f"by a second connection, {checkpointer.count} times" if checkpointer else "at COMMIT",
        "commits_over_5ms": sum(1 for c in commits if c > 5000),
        "resolve_us": {k: percentiles([r for r, _, _ in v]) for k, v in timings.items()},
        "resolve_cpu_us": {k: percentiles([u for _, _, u in v]) for k, v in timings.items()},
        "commit_us": {k: percentiles([c for _, c, _ in v]) for k, v in timings.items()},
        "resolve_plus_commit_us": {k: percentiles([r + c for r, c, _ in v]) for k, v in timings.items()},
        "new_source_records_linked_to_their_person": f"{linked}/{total}",
        "peak_rss_mb_before_arrivals": round(rss_before / 1024, 1),
    }


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def table(result: dict[str, Any]) -> str:
    """Wall µs of resolve (and its thread CPU µs), of the COMMIT, and of both, per arrival kind."""
    lines = [
        f"{'µs per arrival':<18}{'n':>5} | {'resolve p50':>11}{'p90':>6}{'p99':>6}{'max':>6} | {'cpu p50':>7}{'p99':>6}"
        f" | {'commit p50':>10}{'p99':>6} | {'both p50':>8}{'p99':>6}{'max':>6}"
    ]
    for kind in ("new_person", "new_source_record", "repeat_unchanged", "repeat_changed", "repeat", "all"):
        r, u = result["resolve_us"].get(kind), result["resolve_cpu_us"].get(kind)
        c, b = result["commit_us"].get(kind), result["resolve_plus_commit_us"].get(kind)
        if r:
            lines.append(
                f"{kind:<18}{r['n']:>5} | {r['p50']:>11.0f}{r['p90']:>6.0f}{r['p99']:>6.0f}{r['max']:>6.0f}"
                f" | {u['p50']:>7.0f}{u['p99']:>6.0f} | {c['p50']:>10.0f}{c['p99']:>6.0f}"
                f" | {b['p50']:>8.0f}{b['p99']:>6.0f}{b['max']:>6.0f}"
            )
    lines.append(f"commits over 5 ms: {result['commits_over_5ms']}; WAL checkpoints: {result['wal_checkpoints']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--arrivals", type=int, default=5000, help="timed arrivals (after --warmup)")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--diagnose", type=int, default=10_000, help="new records run for the stage split")
    parser.add_argument("--no-apart", action="store_true", help="skip the run with checkpoints apart")
    parser.add_argument("--refill", action="store_true", help="rebuild the cached store and arrivals")
    parser.add_argument("--fill-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(RESULT))
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # no warning lines on stdout
    total = args.arrivals + args.warmup
    if args.fill_only:
        fill(args.persons, total, args.seed)
        return
    cached = CACHE / "arrivals.json"
    meta = json.loads(cached.read_text())["meta"] if cached.is_file() else None
    if args.refill or meta is None or meta["persons"] != args.persons or meta["seed"] != args.seed:
        cmd = [
            sys.executable,
            __file__,
            "--fill-only",
            f"--persons={args.persons}",
            f"--arrivals={args.arrivals}",
            f"--warmup={args.warmup}",
            f"--seed={args.seed}",
        ]
        subprocess.run(cmd, check=True)
    data = json.loads(cached.read_text())
    meta, arrivals = data["meta"], data["arrivals"]
    if len(arrivals) < total:
        raise SystemExit(f"the cached store has {len(arrivals)} arrivals, {total} wanted: --refill")
    kinds = Counter(a["kind"] for a in arrivals)
    rng = random.Random(args.seed + 2)
    arrivals = rng.sample(arrivals, total)  # keeps the mix of the cache (40/40/20)
    pin()
    work = CACHE / "work.db"
    for leftover in CACHE.glob("work.db*"):
        leftover.unlink()
    shutil.copyfile(CACHE / "store.db", work)
    result = run(work, arrivals, args.warmup, args.diagnose, apart=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = sum(p.stat().st_size for p in CACHE.glob("work.db*"))
    for leftover in CACHE.glob("work.db*"):
        leftover.unlink()
    apart = None
    if not args.no_apart:
        shutil.copyfile(CACHE / "store.db", work)
        apart = run(work, arrivals, args.warmup, 0, apart=True)
        del apart["diagnosis"], apart["peak_rss_mb_before_arrivals"]
        for leftover in CACHE.glob("work.db*"):
            leftover.unlink()
    out = {
        "what": "MpiResolver.resolve, one arriving record per transaction, SQLite (synchronous=NORMAL), "
        "pinned to CPU 1; COMMIT timed apart",
        **machine(),
        "store": {
            "persons": meta["persons"],
            "rows": meta["rows"],
            "db_mb": round(meta["db_bytes"] / 2**20, 1),
            "db_mb_after_arrivals": round(size / 2**20, 1),
            "generate_s": meta["generate_s"],
            "fill_s": meta["fill_s"],
            "fill_total_s": meta["total_s"],
        },
        "arrivals": {"warmup": args.warmup, "timed": args.arrivals, "cached_by_kind": dict(kinds)},
        "peak_rss_mb": round(rss / 1024, 1),
        **result,
        "checkpoints_apart": apart,
    }
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(table(result))
    if apart:
        print("\nthe same with WAL checkpoints on a second connection (wal_autocheckpoint=0 on the writer):")
        print(table(apart))
    print(f"\npeak RSS {out['peak_rss_mb']} MB; DB {out['store']['db_mb']} MB; fill {meta['total_s']} s")
    print("blocking:", json.dumps(result["diagnosis"]["blocking"]))
    print("stage split of a new record (µs):", json.dumps(result["diagnosis"]["stage_split_us"], ensure_ascii=False))
    print("\n".join(result["diagnosis"]["profile_top_tottime"]))


if __name__ == "__main__":
    main()
