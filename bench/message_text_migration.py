"""How long migration 0015 (the journal's text index, created empty) takes on a store that already holds N
messages, and the daemon's catch-up that then indexes them (batches of text_index.BATCH, as the daemon's job
runs them): the console benchmark's ADT^A01 (~1.3 KB, GB 18030) written at revision 0014, then upgraded; and the
index's size.

    .venv/bin/python bench/message_text_migration.py [--messages 200000] [--postgres URL | --postgres '']
                                                     [--out bench/results/message_text_migration.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.console import FILL_BATCH, VISITS, journal_rows  # noqa: E402
from bench.fhir_api import fresh_postgres  # noqa: E402
from bench.machine import cpu_model, versions  # noqa: E402
from engine.runtime import text_index  # noqa: E402
from engine.store import message_text  # noqa: E402
from engine.store.database import MIGRATIONS, migrate, open_engine  # noqa: E402
from engine.store.schema import messages  # noqa: E402

COLUMNS = ("channel", "source", "received_at", "message_type", "control_id", "content_hash", "charset", "raw")


def before_the_index(engine: Engine, count: int) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0014_messages_channel_status")
    rows = journal_rows(count, max(1, count // VISITS), time.time())
    while batch := [e for _, (_, _, e) in zip(range(FILL_BATCH), rows, strict=False)]:
        with engine.begin() as conn:
            conn.execute(
                insert(messages), [{c: getattr(e, c) for c in COLUMNS} | {"status": "PROCESSED"} for e in batch]
            )


def size(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.execute(
                text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_text%'")
            ).scalar()  # needs SQLITE_ENABLE_DBSTAT_VTAB, which Debian's and python.org's builds have
            journal = conn.execute(text("SELECT sum(pgsize) FROM dbstat WHERE name = 'messages'")).scalar()
            return {"index_mb": round(pages / 1e6, 1), "journal_mb": round(journal / 1e6, 1)}
        index = conn.execute(text("SELECT pg_total_relation_size('message_text')")).scalar()
        journal = conn.execute(text("SELECT pg_total_relation_size('messages')")).scalar()
        return {"index_mb": round(index / 1e6, 1), "journal_mb": round(journal / 1e6, 1)}


def run(url: str, count: int) -> dict[str, Any]:
    engine = open_engine(url)
    try:
        started = time.perf_counter()
        before_the_index(engine, count)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        migrate(engine)
        upgraded = time.perf_counter() - started
        started = time.perf_counter()
        while True:
            with engine.begin() as conn:
                if message_text.catch_up(conn, text_index.BATCH) < text_index.BATCH:
                    break
        caught_up = time.perf_counter() - started
        out = {
            "fill_s": round(filled, 1),
            "migration_s": round(upgraded, 1),
            "catch_up_s": round(caught_up, 1),
            **size(engine),
        }
        print(url.split(":")[0], out, flush=True)
        return out
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_message_text")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "message_text_migration.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{Path(tmp) / 'store.db'}", args.messages)
    if args.postgres:
        results["postgresql"] = run(fresh_postgres(args.postgres), args.messages)
    out = {
        "benchmark": "message_text_migration",
        "command": " ".join(["bench/message_text_migration.py", *sys.argv[1:]]),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(["sqlalchemy", "psycopg"]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "messages": args.messages,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
