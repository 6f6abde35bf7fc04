"""The writers of one SQLite file take turns at its gate, live intake first; a PostgreSQL store has no gate."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from sqlalchemy import create_engine

from engine.store import gate
from tests.support.daemon import wait_until


def gates(tmp_path: Path) -> tuple[gate.Gate, gate.Gate]:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    live, bulk = gate.of(engine, yields=False), gate.of(engine, yields=True)
    assert live is not None and bulk is not None
    return live, bulk


def test_one_writer_at_a_time_passes_the_gate(tmp_path: Path) -> None:
    live, bulk = gates(tmp_path)
    assert bulk.enter_now()
    assert not live.enter_now()
    bulk.leave()
    assert live.enter_now()


def test_a_writer_waiting_at_the_gate_goes_in_as_the_holder_leaves(tmp_path: Path) -> None:
    live, bulk = gates(tmp_path)
    assert bulk.enter_now()
    entered = threading.Event()
    waiting = threading.Thread(target=lambda: (live.enter(), entered.set()))
    waiting.start()
    assert not entered.wait(0.1)  # held: it waits
    bulk.leave()
    assert entered.wait(10)
    waiting.join()


def says_it_waits(path: str) -> bool:
    """Whether a live writer holds ``<gate>-want``, as it does while it waits for the gate."""
    fd = os.open(f"{path}-want", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_while_live_intake_waits_at_the_gate_no_bulk_writer_goes_in_before_it(tmp_path: Path) -> None:
    live, bulk = gates(tmp_path)
    other_bulk = gate.Gate(bulk.path, yields=True)
    assert other_bulk.enter_now()  # a bulk transaction in progress
    entered = threading.Event()
    waiting = threading.Thread(target=lambda: (live.enter(), entered.set()))
    waiting.start()
    wait_until(lambda: says_it_waits(bulk.path), step=0.001)
    other_bulk.leave()  # the bulk transaction ends: the gate is live intake's, not the other bulk writer's
    assert not bulk.enter_now()
    assert entered.wait(10)
    waiting.join()
    live.leave()
    assert bulk.enter_now()


def test_a_postgresql_store_has_no_gate() -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert gate.of(engine, yields=True) is None
