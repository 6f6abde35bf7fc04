"""`retention:` and `huitong prune`: old messages lose their content, then their rows; nothing undelivered goes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, update

from engine.store.schema import audit, content, message_keys, messages, outbox, record_versions
from tests.support.archive import flat_tree
from tests.support.daemon import huitong, write_config

DAY = 86400.0


def journaled(tmp_path: Path, store_url: str, log_dir: Path) -> Path:
    """Six ADT messages backfilled into the record, aged 0, 1, ... 5 days (message n is n-1 days old)."""
    config = write_config(
        tmp_path,
        store_url,
        {
            "his": {
                "source_system": "his.county-hospital",
                "source": {"type": "file", "path": str(tmp_path / "inbox"), "encoding": "gb18030"},
                "map": ["hl7v2/adt"],
                "destinations": [{"name": "record", "type": "record"}],
                "retention": {"content": "2d", "metadata": "4d"},
            }
        },
        log_dir / f"retention-{tmp_path.name}.jsonl",
    )
    flat_tree(tmp_path / "archive", 6)
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    engine = create_engine(store_url)
    now = time.time()
    with engine.begin() as conn:
        for n, message_id in enumerate(conn.execute(select(messages.c.id).order_by(messages.c.id)).scalars()):
            conn.execute(update(messages).where(messages.c.id == message_id).values(received_at=now - n * DAY - 60))
    engine.dispose()
    return config


def state(store_url: str) -> dict[str, object]:
    engine = create_engine(store_url)
    m = messages.c
    with engine.connect() as conn:
        rows = conn.execute(select(m.control_id, func.length(m.raw), m.status).order_by(m.id)).all()
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (outbox, message_keys, content, record_versions)
        }
        audited = conn.execute(select(audit.c.detail).where(audit.c.action == "journal.prune")).scalars().all()
    engine.dispose()
    return {"rows": [(c, n > 0, s) for c, n, s in rows], **counts, "audit": list(audited)}


def test_prune_drops_content_after_its_time_and_rows_after_theirs_and_audits_it(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = journaled(tmp_path, store_url, log_dir)
    versions = state(store_url)["record_versions"]
    done = huitong("prune", config=config)
    assert done.returncode == 0, done.stderr
    assert "his                      pruned: content of 2 messages, 2 messages" in done.stdout
    after = state(store_url)
    # 0 and 1 day old: whole; 2 and 3 days: rows kept, content gone; 4 and 5 days: gone
    assert after["rows"] == [
        ("BF-0001", True, "PROCESSED"),
        ("BF-0002", True, "PROCESSED"),
        ("BF-0003", False, "PROCESSED"),
        ("BF-0004", False, "PROCESSED"),
    ]
    assert (after["outbox"], after["message_keys"]) == (4, 4)
    assert after["record_versions"] == versions  # the record keeps what the messages said
    [detail] = after["audit"]
    assert '"content":2' in str(detail) and '"messages":2' in str(detail)
    again = huitong("prune", config=config)
    assert "pruned: content of 0 messages, 0 messages" in again.stdout


def test_prune_gives_the_freed_pages_of_a_sqlite_store_back(tmp_path: Path, log_dir: Path) -> None:
    store = tmp_path / "store.db"
    config = journaled(tmp_path, f"sqlite:///{store}", log_dir)
    assert huitong("prune", config=config).returncode == 0
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental, from the store's first day
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)


def test_a_message_a_destination_still_waits_for_is_never_pruned(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config = journaled(tmp_path, store_url, log_dir)
    engine = create_engine(store_url)
    with engine.begin() as conn:  # the oldest message's delivery is failing: retried, not done
        oldest = conn.execute(select(func.max(messages.c.id))).scalar_one()
        conn.execute(update(outbox).where(outbox.c.message_id == oldest).values(status="ERROR"))
    engine.dispose()
    assert huitong("prune", config=config).returncode == 0
    assert ("BF-0006", True, "PROCESSED") in state(store_url)["rows"]


def test_a_dry_run_counts_and_changes_nothing(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config = journaled(tmp_path, store_url, log_dir)
    before = state(store_url)
    done = huitong("prune", "--dry-run", config=config)
    assert done.returncode == 0, done.stderr
    assert "his                      would prune: content of 2 messages, 2 messages" in done.stdout
    assert state(store_url) == before


@pytest.mark.parametrize(("content", "metadata"), [("30d", "7d")])
def test_metadata_kept_shorter_than_content_is_a_config_error(tmp_path: Path, content: str, metadata: str) -> None:
    config = write_config(
        tmp_path,
        "sqlite:///x.db",
        {"his": {"source": {"type": "file", "path": "in"}, "retention": {"content": content, "metadata": metadata}}},
        tmp_path / "log.jsonl",
    )
    done = huitong("validate", "--no-environment", config=config)
    assert done.returncode == 1
    assert "retention: metadata must be kept at least as long as content" in done.stdout
