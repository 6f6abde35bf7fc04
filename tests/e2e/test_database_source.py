"""A database channel in the daemon: a HIS view's rows become records, once each, across restarts and bad queries."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, huitong, wait_until, write_config
from tests.support.source_db import KINDS, PEOPLE, SourceDb, open_source_db


@pytest.fixture(params=KINDS)
def his(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceDb]:
    yield from open_source_db(request.param, tmp_path)


@pytest.fixture
def sqlite_his(tmp_path: Path) -> Iterator[SourceDb]:
    """For behaviour that does not depend on the database."""
    yield from open_source_db("sqlite", tmp_path)


def visits_config(tmp_path: Path, his: SourceDb, log_dir: Path, **source: object) -> Path:
    spec = {
        "type": "database",
        "url": his.url,
        "query": his.query(),
        "watermark": "updated_at",
        "start": "2000-01-01 00:00:00",
        "message_type": "his.outpatient_visit",
        "poll_interval": "300ms",
        "batch_size": 2,
        **source,
    }
    channel = {
        "source_system": "his.dean-county-hospital",
        "source": spec,
        "map": ["database/his_outpatient_visit"],
        "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
    }
    store = f"sqlite:///{tmp_path / 'store.db'}"
    return write_config(tmp_path, store, {"his-visits": channel}, log_dir / f"db-{tmp_path.name}.jsonl")


def store_rows(config: Path, sql: str) -> list[sqlite3.Row]:
    """Read the daemon's SQLite store directly: cheaper than a CLI process per look while the daemon works."""
    try:
        conn = sqlite3.connect(f"file:{config.parent / 'store.db'}?mode=ro", uri=True)
    except sqlite3.OperationalError:  # the daemon has not made its store yet
        return []
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # nor its tables
        return []
    finally:
        conn.close()


def journal(config: Path) -> list[sqlite3.Row]:
    return store_rows(config, "SELECT message_type, control_id, status FROM messages ORDER BY id")


def delivered(config: Path) -> list[str]:
    return [r["status"] for r in store_rows(config, "SELECT status FROM outbox ORDER BY id")]


def test_rows_of_a_his_view_become_records_and_rows_added_later_are_picked_up(
    his: SourceDb, tmp_path: Path, log_dir: Path
) -> None:
    his.add_visit(1, "2026-11-20 10:00:00", person=0)
    his.add_visit(2, "2026-11-20 10:05:00", person=1, diagnosis=("I10.x00", "高血压"))
    his.add_visit(3, "2026-11-20 10:10:00", person=0)
    before = his.snapshot()
    config = visits_config(tmp_path, his, log_dir)
    with Daemon(config):
        wait_until(lambda: len(journal(config)) == 3)
        his.add_visit(4, "2026-11-20 11:00:00", person=1)
        wait_until(lambda: delivered(config) == ["SENT"] * 4)
    rows = journal(config)
    assert {(r["message_type"], r["status"]) for r in rows} == {("his.outpatient_visit", "PROCESSED")}
    shown = huitong("record", "show", PEOPLE[1][1], "--json", config=config)
    assert shown.returncode == 0, shown.stderr
    record = json.dumps(json.loads(shown.stdout), ensure_ascii=False)
    assert "李秀英" in record
    assert "高血压" in record
    assert "ambulatory" in record  # Encounter class AMB
    assert "2026-11-20T09:30:00+08:00" in record  # the view's local time, in the mapping's timezone
    assert his.snapshot()[:3] == before  # the engine read the view and wrote nothing to the source


def test_the_watermark_survives_a_restart_and_a_row_sharing_the_last_value_is_not_lost(
    his: SourceDb, tmp_path: Path, log_dir: Path
) -> None:
    his.add_visit(1, "2026-11-20 10:00:00")
    his.add_visit(2, "2026-11-20 10:05:00")
    his.add_visit(3, "2026-11-20 10:05:00")  # same time as 2: batch_size 2 cuts between them
    config = visits_config(tmp_path, his, log_dir)
    with Daemon(config):
        wait_until(lambda: len(journal(config)) == 3)
    his.add_visit(5, "2026-11-20 10:05:00")  # committed late by the HIS with the last value already read
    his.add_visit(6, "2026-11-20 10:30:00")
    with Daemon(config):
        wait_until(lambda: len(journal(config)) >= 5)
        wait_until(lambda: delivered(config) == ["SENT"] * 5)
    ids = Counter(r["control_id"] for r in journal(config))
    assert sorted(ids.values()) == [1, 1, 3]  # 10:00, 10:30 once; the three rows at 10:05 once each
    assert {r["status"] for r in journal(config)} == {"PROCESSED"}


def test_a_bad_query_is_logged_and_retried_while_the_daemon_keeps_serving(
    sqlite_his: SourceDb, tmp_path: Path, log_dir: Path
) -> None:
    his = sqlite_his
    his.add_visit(1, "2026-11-20 10:00:00")
    missing = f"{his.view}_v2"  # the vendor has not created this view yet
    config = visits_config(tmp_path, his, log_dir, query=his.query().replace(his.view, missing))
    with Daemon(config) as daemon:
        log = log_dir / f"db-{tmp_path.name}.jsonl"
        wait_until(lambda: log.exists() and log.read_text(encoding="utf-8").count("database poll failed") >= 2)
        assert daemon.proc is not None and daemon.proc.poll() is None
        his.execute(f"CREATE VIEW {missing} AS SELECT * FROM {his.view}")
        wait_until(lambda: len(journal(config)) == 1)
    his.execute(f"DROP VIEW {missing}")
    text = log.read_text(encoding="utf-8")
    assert "no such table" in text
    assert his.url not in text


def test_a_database_that_cannot_be_reached_is_logged_and_never_created(tmp_path: Path, log_dir: Path) -> None:
    absent = tmp_path / "his.db"  # the HIS server is down: its file is not there (and we must not create it)
    spec = {
        "type": "database",
        "url": f"sqlite:///{absent}",
        "query": "SELECT * FROM v_outpatient_visit WHERE updated_at >= :watermark ORDER BY updated_at",
        "watermark": "updated_at",
        "message_type": "his.outpatient_visit",
        "poll_interval": "300ms",
    }
    log = log_dir / f"db-{tmp_path.name}.jsonl"
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", {"his-visits": {"source": spec}}, log)
    with Daemon(config) as daemon:
        wait_until(lambda: log.exists() and log.read_text(encoding="utf-8").count("database poll failed") >= 2)
        assert daemon.proc is not None and daemon.proc.poll() is None
    assert "unable to open database file" in log.read_text(encoding="utf-8")
    assert not absent.exists() and journal(config) == []
