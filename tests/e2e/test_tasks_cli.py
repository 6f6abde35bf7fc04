"""`huitong tasks refresh` and `huitong tasks list` through the real script, on a store filled by the record path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from engine.domain.mapping.result import Mapped
from engine.pipeline.record import apply
from engine.store.database import migrate, open_engine
from tests.care.test_task_store import ZHANG_ID, bp, diagnosis, his, phs
from tests.record.people import HIS, PHS, source
from tests.support.daemon import huitong, write_config
from tests.support.mpi import shipped_resolver


def _apply(store_url: str, mapped: Mapped, system: str, message_id: int) -> None:
    engine = open_engine(store_url)
    migrate(engine)
    with engine.begin() as conn:
        apply(conn, [(mapped, source(system, message_id))], time.time(), shipped_resolver())
    engine.dispose()


@pytest.fixture
def config(store_url: str, tmp_path: Path, log_dir: Path) -> Path:
    path = write_config(tmp_path, store_url, {}, log_dir / f"tasks-{tmp_path.name}.jsonl")
    _apply(store_url, his(diagnosis("D-1", "I10", "原发性高血压", "2019-05-10")), HIS, 1)
    _apply(store_url, phs(bp("BP-1", "2026-02-10T09:00:00+08:00", 128, 82)), PHS, 2)
    return path


def _run(config: Path, *args: str) -> str:
    result = huitong("tasks", *args, config=config)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _counts(out: str) -> dict[str, int]:
    """The refresh summary's 'kind  count' lines."""
    return {" ".join(line.split()[:-1]): int(line.split()[-1]) for line in out.splitlines()[1:]}


def _list(config: Path, *args: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(_run(config, "list", "--json", *args))
    return data


def test_refresh_counts_the_new_tasks_by_state_and_list_shows_them(config: Path) -> None:
    out = _run(config, "refresh", "--on", "2026-05-20")
    assert out.splitlines()[0] == "1 person(s) on 2026-05-20: 5 change(s)"
    assert _counts(out) == {"new DONE": 1, "new DUE": 2, "new PLANNED": 2}
    due = _run(config, "list", "--state", "due").splitlines()
    assert due[0].split() == ["PERSON", "STATE", "WINDOW", "RULE", "TASK"]
    assert any("2026-04-01..2026-06-30" in line and "htn-followup" in line for line in due[1:-1])
    assert due[-1] == "2 task(s)"


def test_a_second_refresh_changes_nothing(config: Path) -> None:
    _run(config, "refresh", "--on", "2026-05-20")
    out = _run(config, "refresh", "--on", "2026-05-20")
    assert out.splitlines() == ["1 person(s) on 2026-05-20: 0 change(s)"]


def test_a_later_reading_closes_the_due_follow_up(config: Path, store_url: str) -> None:
    _run(config, "refresh", "--on", "2026-05-20")
    _apply(store_url, his(bp("HIS-BP-7", "2026-05-25T10:15:00+08:00", 132, 84)), HIS, 3)
    assert _counts(_run(config, "refresh", "--on", "2026-05-28")) == {"DUE->DONE": 1}
    done = _list(config, "--state", "DONE", "--person", ZHANG_ID)
    closed = next(t for t in done if t["due"] == {"start": "2026-04-01", "end": "2026-06-30"})
    assert (closed["rule"], closed["evidence"]["date"], closed["evidence"]["source"]) == ("htn-followup",
                                                                                         "2026-05-25", HIS)


def test_a_later_day_makes_the_passed_window_overdue(config: Path) -> None:
    _run(config, "refresh", "--on", "2026-05-20")
    assert _counts(_run(config, "refresh", "--on", "2026-07-02")) == {"DUE->OVERDUE": 1, "PLANNED->DUE": 1}
    (overdue,) = _list(config, "--state", "OVERDUE")
    assert (overdue["rule"], overdue["state"], overdue["due"]["end"]) == ("htn-followup", "OVERDUE", "2026-06-30")


def test_listing_an_unknown_person_exits_1_and_says_so(config: Path) -> None:
    result = huitong("tasks", "list", "--person", "no-such-mrn", config=config)
    assert result.returncode == 1
    assert "no person holds the identifier no-such-mrn" in result.stderr
