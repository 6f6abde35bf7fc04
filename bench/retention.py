"""Retention benchmark: `huitong prune`'s engine (engine/runtime/retention.prune) over an aged journal.

Journals N processed messages (a 1.5 KB ADT each, with a SENT delivery) on a fresh store, ages them so that half are
past `content` and a quarter past `metadata`, then prunes and reports messages per second, the store's size before
and after (SQLite file; PostgreSQL relation sizes), and the longest single batch transaction (what a live intake
could wait for). SQLite always; PostgreSQL too when HUITONG_BENCH_POSTGRES_URL is set.

    .venv/bin/python bench/retention.py [--messages 100000] [--out bench/results/retention.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from bench.machine import cpu_model, versions  # noqa: E402
from engine.config.models import ChannelSpec  # noqa: E402
from engine.pipeline import retention as rules  # noqa: E402
from engine.store import journal  # noqa: E402
from engine.store.database import migrate, open_engine, reclaim  # noqa: E402
from engine.store.journal import JournalEntry  # noqa: E402
from tests.support.messages import ADT  # noqa: E402

DAY = 86400.0


def fill(engine: Engine, count: int, now: float) -> None:
    """N processed messages, oldest first, spread evenly over the last 8 days, each with a SENT delivery."""
    for start in range(0, count, 5000):
        entries = []
        for n in range(start, min(count, start + 5000)):
            raw = ADT.replace(b"MSG00001", f"R{n:09d}".encode())
            received = now - 8 * DAY * (1 - n / count) - 60
            entries.append(JournalEntry("his", "bench", received, raw, "ADT^A01", f"R{n:09d}", status="PROCESSED"))
        with engine.begin() as conn:
            journal.append(conn, entries, "bench")
            conn.execute(
                text(
                    "INSERT INTO outbox (message_id, channel, destination, status, attempts, next_attempt_at,"
                    " created_at) SELECT id, 'his', 'lis', 'SENT', 1, received_at, received_at FROM messages"
                    " WHERE id >= :first"
                ),
                {"first": entries[0].id},
            )


def size(engine: Engine, path: Path | None) -> int:
    if path is not None:  # the main file, once the WAL is checkpointed into it and emptied
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT SUM(pg_total_relation_size(c)) FROM unnest(ARRAY['messages','outbox','message_keys']) c")
            ).scalar_one()
        )


def run(url: str, count: int, path: Path | None) -> dict[str, object]:
    engine = open_engine(url)
    migrate(engine)
    now = time.time()
    fill(engine, count, now)
    spec = ChannelSpec.model_validate(
        {"channel": "his", "source": {"type": "file", "path": "/tmp"}, "retention": {"content": "4d", "metadata": "6d"}}
    )
    before = size(engine, path)
    started, longest, total = time.perf_counter(), 0.0, rules.Pruned("his")
    while True:
        t = time.perf_counter()
        with engine.begin() as conn:
            done = rules.step(conn, spec, now)
        longest = max(longest, time.perf_counter() - t)
        total.add(done)
        if not (done.content or done.messages):
            break
    reclaim(engine)
    seconds = time.perf_counter() - started
    after = size(engine, path)
    engine.dispose()
    return {
        "store": url.split(":")[0],
        "messages": count,
        "content_pruned": total.content,
        "rows_pruned": total.messages,
        "seconds": round(seconds, 2),
        "messages_per_s": round((total.content + total.messages) / seconds),
        "longest_batch_ms": round(longest * 1000, 1),
        "mb_before": round(before / 1e6, 1),
        "mb_after": round(after / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "retention.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        results.append(run(f"sqlite:///{path}", args.messages, path))
    postgres = os.environ.get("HUITONG_BENCH_POSTGRES_URL")
    if postgres:
        admin = open_engine(postgres)
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_retention CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA bench_retention")
        results.append(run(f"{postgres}?options=-csearch_path%3Dbench_retention", args.messages, None))
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA bench_retention CASCADE")
        admin.dispose()
    for r in results:
        print(
            f"{r['store']:<22} {r['messages']:>8} msgs: content {r['content_pruned']:>7}, rows {r['rows_pruned']:>7}"
            f" in {r['seconds']:>6.2f} s ({r['messages_per_s']:>6}/s), longest batch {r['longest_batch_ms']} ms,"
            f" {r['mb_before']} MB -> {r['mb_after']} MB",
            flush=True,
        )
    result = {"cpu": cpu_model(), "versions": versions(["sqlalchemy"]), "runs": results}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
