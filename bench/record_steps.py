"""The record stage step by step: µs per message for each step of the record path, on one core, on SQLite.

Messages of bench/messages.py (ADT^A04 registrations, ADT^A01 admissions) are journaled as the daemon's intake
journals them (not timed), then recorded as the record process's delivery worker records them: rounds of one
transaction each that record the previous batch's outcomes with the stage's write (MPI resolve, record apply,
care loop) and claim the next batch (ordered by person), the batch mapped in between (the stage's send), then a
COMMIT. New residents first, then the same residents again with a new visit (returning residents, most of a
hospital's traffic).

Times are the process's CPU time (its SQLite work included: the record process commits without an fsync), so
other jobs on the machine disturb them less than wall time. Each step is timed by wrapping the function that does
it, and every SQL statement by its table, exclusive of what it calls (so the MPI's statements count for the MPI,
the record's writes per table). The wrappers cost a little: the steps add up to somewhat more than the total,
which is timed in a separate run without them.

    .venv/bin/python bench/record_steps.py [--messages 2000] [--out bench/results/record_steps.json]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402

from bench.machine import cpu_model  # noqa: E402
from bench.mapping import write_config  # noqa: E402
from bench.messages import adt_a01, adt_a04  # noqa: E402
from engine.config.loader import load_config_or_raise  # noqa: E402
from engine.domain import fhir_search  # noqa: E402
from engine.domain.delivery import settle  # noqa: E402
from engine.domain.record import references  # noqa: E402
from engine.pipeline import intake, record, stages  # noqa: E402
from engine.pipeline.care_loop import CareLoop  # noqa: E402
from engine.pipeline.process import commit_intake  # noqa: E402
from engine.pipeline.stages import record as record_stage  # noqa: E402
from engine.runtime import record_process  # noqa: E402
from engine.runtime.wiring import mapper_of, policy_of, resolver_of, routes_of  # noqa: E402
from engine.store import dbapi, outbox  # noqa: E402
from engine.store.database import migrate, open_engine  # noqa: E402

BATCH = 50  # DeliveryWorker.BATCH
NODE = "bench/record"
_TABLE = re.compile(r"\b(?:INTO|FROM|UPDATE)\s+(\w+)", re.IGNORECASE)
_GROUPS = {
    "fhir_search": "search index",
    "record_resources": "resources",
    "wanted": "resources",  # record.by_facts
    "record_versions": "versions",
}


class Steps:
    """Exclusive time per step: a wrapped call's own time, less that of the wrapped calls it makes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[list[Any]] = []  # [name, seconds spent in wrapped callees]

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        frame = [name, 0.0]
        self._stack.append(frame)
        start = time.process_time()
        try:
            yield
        finally:
            spent = time.process_time() - start
            self._stack.pop()
            self.seconds[name] = self.seconds.get(name, 0.0) + spent - frame[1]
            if self._stack:
                self._stack[-1][1] += spent

    def wrap(self, fn: Callable[..., Any], name: str | Callable[..., str]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.step(name(*args) if callable(name) else name):
                return fn(*args, **kwargs)

        return timed

    def within(self) -> str:
        return self._stack[-1][0] if self._stack else "other"

    def inside(self, what: str) -> Callable[..., str]:
        return lambda *_: f"{self.within()} | {what}"

    def sql(self, kind: str) -> Callable[..., str]:
        def name(conn: Any, text: str, *_: Any) -> str:
            found = _TABLE.search(text)
            table = found.group(1) if found else "?"
            group = next((g for prefix, g in _GROUPS.items() if table.startswith(prefix)), table)
            return f"{self.within()} | {kind} {group}"

        return name


@contextmanager
def instrumented(steps: Steps, stage: Any) -> Iterator[None]:
    """Wrap the record path's functions for the run (the stage's parts are this run's own: not put back)."""
    stage.resolver.resolve = steps.wrap(stage.resolver.resolve, "MPI resolve")
    stage.loop.after_record = steps.wrap(stage.loop.after_record, "care loop")
    send = stage.send

    async def mapped(delivery: Any) -> Any:
        with steps.step("decode + map"):
            return await send(delivery)

    stage.send = mapped
    modules = [
        (record_stage, "apply", "record apply"),
        (record, "fact_digest", steps.inside("fact digests")),
        (references, "rewrite", steps.inside("reference rewriting + JSON")),
        (fhir_search, "entries", steps.inside("search index entries")),
        (dbapi, "fetchall", steps.sql("read")),
        (dbapi, "executemany", steps.sql("write")),
        (dbapi, "insert_returning_ids", steps.sql("write")),
        (outbox, "claim", "outbox"),
        (outbox, "record", "outbox"),
        (outbox, "held", "outbox"),
    ]
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in modules]
    for module, attr, name in modules:
        setattr(module, attr, steps.wrap(getattr(module, attr), name))
    try:
        yield
    finally:
        for module, attr, old in saved:
            setattr(module, attr, old)


def configure(workdir: Path) -> Any:
    """The full pipeline's configuration (bench/mapping.py), loaded; its MLLP port is never opened here."""
    return load_config_or_raise(write_config(workdir, port=1), check_environment=False)


def journal(engine: Engine, config: Any, raws: list[bytes]) -> None:
    spec = config.channels["bench"]
    routes = {"bench": routes_of(spec)}
    for i in range(0, len(raws), 500):
        now = time.time()
        entries = [
            item.entry
            for raw in raws[i : i + 500]
            for item in intake.receive(
                raw, channel="bench", source="bench", received_at=now, default_charset="gb18030", validation="basic"
            )
        ]
        with engine.begin() as conn:
            commit_intake(conn, entries, routes, NODE, now)


async def send_all(stage: Any, policy: Any, rows: list[Any]) -> list[Any]:
    return [settle(row, await stage.send(row), policy, time.time()) for row in rows]


def record_all(engine: Engine, stage: Any, policy: Any, steps: Steps | None) -> tuple[int, float]:
    """What DeliveryWorker._deliver does, without its event loop and store writer: (messages, seconds)."""
    results: list[Any] = []
    done, spent = 0, 0.0
    while True:
        start = time.process_time()
        with engine.connect() as conn:
            if results:
                held = outbox.held(conn, [r.id for r in results], NODE)
                results = stage.write(conn, [r for r in results if r.id in held])
                outbox.record(conn, results)
                done += len(results)
            rows = outbox.claim(
                conn, "bench", "record", node=NODE, now=time.time(), lease=30.0, limit=BATCH, ordered=True
            )
            if steps is None:
                conn.commit()
            else:
                with steps.step("COMMIT"):
                    conn.commit()
        results = asyncio.run(send_all(stage, policy, rows))
        spent += time.process_time() - start
        if not rows:
            return done, spent


def run(kind: str, make: Callable[..., bytes], count: int, instrument: bool) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="huitong-bench-steps-") as tmp:
        config = configure(Path(tmp))
        engine = open_engine(config.store, fsync_each_commit=False)  # as the record process opens it
        migrate(engine)
        spec = config.channels["bench"]
        dest = spec.destination("record")
        policy = policy_of(dest)
        context = stages.Context(spec, mapper_of(spec, config), resolver_of(config), CareLoop.of(config), policy)
        stage = stages.build(dest, context)
        warm = [make(1_000_000 + i) for i in range(BATCH * 4)]
        journal(engine, config, warm)
        record_all(engine, stage, policy, None)
        record_process.freeze_startup()  # where the record process does, once its parts are built
        for phase, raws in (
            ("new", [make(n) for n in range(count)]),
            ("returning", [make(n, visit=count + n) for n in range(count)]),
        ):
            journal(engine, config, raws)
            steps = Steps() if instrument else None
            if steps is not None:
                with instrumented(steps, stage):
                    done, seconds = record_all(engine, stage, policy, steps)
                out[phase] = {name: round(s / done * 1e6, 1) for name, s in sorted(steps.seconds.items())}
            else:
                done, seconds = record_all(engine, stage, policy, None)
            assert done == count, (done, count)
            out.setdefault(phase, {})["total"] = round(seconds / done * 1e6, 1)
            print(f"{kind} {phase}: {out[phase]['total']} µs/message", flush=True)
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="residents per message kind")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "record_steps.json"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    kinds = {"ADT^A04 registration": adt_a04, "ADT^A01 admission": adt_a01}
    rows: dict[str, Any] = {}
    for kind, make in kinds.items():
        total = run(kind, make, args.messages, instrument=False)
        steps = run(kind, make, args.messages, instrument=True)
        for phase in total:
            steps[phase]["instrumented total"] = steps[phase].pop("total")
            steps[phase]["total"] = total[phase]["total"]
        rows[kind] = steps
    result = {
        "benchmark": "record_steps",
        "command": f".venv/bin/python bench/record_steps.py --messages {args.messages}",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "cpu": cpu_model()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "us_per_message": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    for kind, phases in rows.items():
        for phase, figures in phases.items():
            print(f"\n{kind}, {phase} residents (µs/message)")
            for name, us in sorted(figures.items(), key=lambda kv: -kv[1]):
                print(f"  {name:<44} {us:>9.1f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
