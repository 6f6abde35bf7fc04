"""The store on both backends: the journal keeps what was committed, the outbox leases, orders and retries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError

from engine.domain.delivery import Delivery
from engine.domain.outcome import DeliveryStatus, MessageStatus
from engine.store import database, journal, outbox
from engine.store.database import WRITER, migrate, open_engine, writing
from engine.store.journal import JournalEntry
from engine.store.outbox import Queued, Result
from engine.store.schema import messages
from tests.conftest import ROOT

NODE = "node-a"


@pytest.fixture
def engine(store_url: str) -> Engine:
    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()


def entry(control_id: str, raw: bytes | None = None, channel: str = "his-adt") -> JournalEntry:
    raw = raw or f"MSH|^~\\&|HIS|H|ENG|E|20260101||ADT^A01|{control_id}|P|2.5\rPID|1||{control_id}^^^HIS^MR\r".encode()
    return JournalEntry(channel, "127.0.0.1:5000", time.time(), raw, message_type="ADT^A01", control_id=control_id)


def queue(engine: Engine, *pairs: tuple[str, str | None]) -> list[int]:
    """Journal one message per (control id, order key) and queue it for destination 'out'."""
    entries = [entry(cid) for cid, _ in pairs]
    with engine.begin() as conn:
        journal.append(conn, entries, NODE)
        outbox.enqueue(
            conn,
            [Queued(e.id, e.channel, "out", key) for e, (_, key) in zip(entries, pairs, strict=True)],  # type: ignore[arg-type]
            time.time(),
        )
    return [e.id for e in entries]  # type: ignore[misc]


def test_migrating_twice_is_harmless(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == 0


def test_two_processes_migrating_an_empty_store_at_the_same_moment_both_succeed(store_url: str) -> None:
    """Two daemons started together on a new database: the second waits for the first's migration."""
    script = (
        "import sys; from engine.store.database import migrate, open_engine; sys.stdin.readline(); "
        "migrate(open_engine(sys.argv[1]))"
    )
    command = [sys.executable, "-c", script, store_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    for p in procs:  # both have imported the engine; now at once
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.flush()
    outcomes = [(p.wait(120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes


def test_journaled_entries_survive_a_new_connection_with_their_raw_bytes(store_url: str, engine: Engine) -> None:
    raw = "MSH|^~\\&|HIS|县医院|ENG|E|20260101||ADT^A04|X1|P|2.5\rPID|1||9^^^HIS^MR||张三\r".encode("gb18030")
    with engine.begin() as conn:
        journal.append(conn, [entry("X1", raw)], NODE)
    engine.dispose()
    again = open_engine(store_url)
    with again.connect() as conn:
        row = conn.execute(select(messages)).one()
    again.dispose()
    assert row.raw == raw
    assert row.status == MessageStatus.RECEIVED
    assert row.content_hash == journal.content_hash(raw)


def test_ids_are_assigned_in_insertion_order(engine: Engine) -> None:
    entries = [entry(f"C{i}") for i in range(50)]
    with engine.begin() as conn:
        journal.append(conn, entries, NODE)
    ids = [e.id for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 50


def test_known_keys_find_the_message_that_owns_a_content(engine: Engine) -> None:
    first, resend, changed = entry("A1"), entry("A1"), entry("A1", b"MSH|^~\\&|other content|A1")
    with engine.begin() as conn:
        journal.append(conn, [first], NODE)
        journal.register_keys(conn, [first])
        assert journal.known_keys(conn, [resend, changed]) == {("his-adt", "A1", first.content_hash): first.id}


def test_claim_leases_rows_so_a_second_claim_gets_nothing(engine: Engine) -> None:
    queue(engine, ("M1", None), ("M2", None))
    now = time.time()
    with engine.begin() as conn:
        first = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=False)
        second = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=False)
    assert [d.control_id for d in first] == ["M1", "M2"]
    assert second == []


def test_ordered_claim_takes_each_persons_run_of_due_rows_in_order(engine: Engine) -> None:
    queue(engine, ("P1-a", "p1"), ("P2-a", "p2"), ("P1-b", "p1"), ("X", None))
    with engine.begin() as conn:
        claimed = outbox.claim(conn, "his-adt", "out", node=NODE, now=time.time(), lease=60, limit=10, ordered=True)
    assert [d.control_id for d in claimed] == ["P1-a", "P2-a", "P1-b", "X"]
    assert [d.order_key for d in claimed] == ["p1", "p2", "p1", None]


def test_ordered_claim_holds_back_a_persons_later_message_while_an_earlier_one_is_pending(engine: Engine) -> None:
    ids = queue(engine, ("P1-a", "p1"), ("P2-a", "p2"), ("P1-b", "p1"))
    now = time.time()
    with engine.begin() as conn:
        [first, _, second] = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=True)
        # P1-a fails and will be retried; the worker puts P1-b back untried (engine/runtime/delivery.py)
        outbox.record(
            conn,
            [Result(first.id, DeliveryStatus.ERROR, 1, now + 30, "refused"), Result(second.id, "QUEUED", 0, now + 30)],
        )
        later = outbox.claim(conn, "his-adt", "out", node=NODE, now=now + 1, lease=60, limit=10, ordered=True)
    assert later == []  # P1-b waits behind P1-a's retry; P2-a is leased
    with engine.begin() as conn:
        outbox.record(conn, [Result(first.id, DeliveryStatus.SENT, 2, now, sent_at=now)])
        released = outbox.claim(conn, "his-adt", "out", node=NODE, now=now + 31, lease=60, limit=10, ordered=True)
    assert [d.message_id for d in released] == [ids[2]]


def test_a_failed_row_is_not_claimed_before_its_next_attempt_time(engine: Engine) -> None:
    queue(engine, ("R1", None))
    now = time.time()
    with engine.begin() as conn:
        [row] = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=False)
        outbox.record(conn, [Result(row.id, DeliveryStatus.ERROR, 1, now + 5, "down")])
        assert outbox.claim(conn, "his-adt", "out", node=NODE, now=now + 4, lease=60, limit=10, ordered=False) == []
        assert outbox.next_due(conn, "his-adt", "out") == pytest.approx(now + 5)
        assert len(outbox.claim(conn, "his-adt", "out", node=NODE, now=now + 6, lease=60, limit=10, ordered=False)) == 1


def test_requeue_restarts_dead_deliveries_but_leaves_sent_ones(engine: Engine) -> None:
    ids = queue(engine, ("D1", None), ("D2", None))
    now = time.time()
    with engine.begin() as conn:
        rows = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=False)
        outbox.record(
            conn,
            [
                Result(rows[0].id, DeliveryStatus.DEAD, 3, now, "gone"),
                Result(rows[1].id, DeliveryStatus.SENT, 1, now, sent_at=now),
            ],
        )
        assert outbox.requeue(conn, ids, now) == 1
        again = outbox.claim(conn, "his-adt", "out", node=NODE, now=now, lease=60, limit=10, ordered=False)
    assert [(d.control_id, d.attempts, d.status) for d in again] == [("D1", 0, DeliveryStatus.QUEUED)]


def test_enqueue_twice_keeps_one_row_per_message_and_destination(engine: Engine) -> None:
    [mid] = queue(engine, ("E1", None))
    with engine.begin() as conn:
        outbox.enqueue(conn, [Queued(mid, "his-adt", "out", None)], time.time())
        rows = outbox.claim(conn, "his-adt", "out", node=NODE, now=time.time(), lease=60, limit=10, ordered=False)
    assert len(rows) == 1


def test_a_restarted_node_takes_back_its_own_leases_only(engine: Engine) -> None:
    queue(engine, ("L1", None), ("L2", None))
    now = time.time()
    with engine.begin() as conn:
        [mine] = outbox.claim(conn, "his-adt", "out", node="node-a", now=now, lease=300, limit=1, ordered=False)
        outbox.claim(conn, "his-adt", "out", node="node-b", now=now, lease=300, limit=1, ordered=False)
        assert outbox.release_leases(conn, "node-a") == 1
        again = outbox.claim(conn, "his-adt", "out", node="node-a", now=now, lease=300, limit=10, ordered=False)
    assert [d.id for d in again] == [mine.id]


def test_unprocessed_messages_of_another_node_wait_until_they_are_old(engine: Engine) -> None:
    mine, theirs = entry("N1"), entry("N2")
    with engine.begin() as conn:
        journal.append(conn, [mine], "node-a")
        journal.append(conn, [theirs], "node-b")
        now = time.time()
        fresh = journal.received(conn, ["his-adt"], node="node-a", older_than=now - 30, limit=10)
        old = journal.received(conn, ["his-adt"], node="node-a", older_than=now + 1, limit=10)
    assert [e.control_id for e in fresh] == ["N1"]
    assert [e.control_id for e in old] == ["N1", "N2"]


def test_sqlite_journal_is_wal_with_a_full_fsync_per_commit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A transaction that reads and then writes must not start on a read snapshot: another process writing in
    # between would make its write fail at once ("database is locked"), as a CLI command beside the daemon did.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, other = open_engine(url), open_engine(url)
    migrate(first)
    with writing(first) as conn:
        conn.execute(select(func.count()).select_from(messages))  # a read, nothing written yet
        with other.connect() as rival:
            rival.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"):
                rival.exec_driver_sql(
                    "INSERT INTO console_users (name, roles, failed_logins, created_at, changed_at)"
                    " VALUES ('x', 'viewer', 0, 0, 0)"
                )
    first.dispose()
    other.dispose()


def test_a_writer_waits_for_another_processes_write_lock_and_takes_it_once_let_go(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    waiter, holder_engine = open_engine(url), open_engine(url)
    migrate(waiter)
    began = threading.Event()

    def transaction() -> None:
        with waiter.connect().execution_options(**WRITER) as conn, conn.begin():
            began.set()
        with waiter.connect() as conn:  # its connection waits for locks with SQLite's busy_timeout again
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == database.BUSY_TIMEOUT * 1000

    with holder_engine.connect().execution_options(**WRITER) as holder:
        txn = holder.begin()
        waiting = threading.Thread(target=transaction)
        waiting.start()
        assert not began.wait(0.2)  # the lock is held: it waits
        txn.commit()
        assert began.wait(10)
        waiting.join()
    waiter.dispose()
    holder_engine.dispose()


def test_a_writer_waiting_for_the_write_lock_fails_after_the_busy_timeout(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    waiter, holder_engine = open_engine(url), open_engine(url)
    migrate(waiter)
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.05)
    holder = holder_engine.connect().execution_options(**WRITER)
    holder.begin()
    with pytest.raises(OperationalError, match="locked"), waiter.connect().execution_options(**WRITER) as conn:
        conn.begin()
    holder.close()
    waiter.dispose()
    holder_engine.dispose()


def claim_as(conn: Connection, node: str, now: float) -> list[Delivery]:
    """A claim with the workers' lease (engine/runtime/delivery.py) by ``node`` at ``now``."""
    return outbox.claim(conn, "his-adt", "out", node=node, now=now, lease=30, limit=10, ordered=False)


def test_a_dead_nodes_lease_lapses_and_another_node_takes_its_rows(engine: Engine) -> None:
    queue(engine, ("T1", None))
    now = time.time()
    with engine.begin() as conn:
        [row] = claim_as(conn, "node-a", now)
        assert claim_as(conn, "node-b", now + 29) == []
        taken = claim_as(conn, "node-b", now + 31)
    assert [d.id for d in taken] == [row.id]


def test_renewing_keeps_a_lease_only_while_this_node_still_holds_it(engine: Engine) -> None:
    queue(engine, ("T2", None), ("T3", None))
    now = time.time()
    with engine.begin() as conn:
        first, second = claim_as(conn, "node-a", now)
        # node-a stalled past its lease and node-b took the rows: node-a can neither renew nor record them
        claim_as(conn, "node-b", now + 31)
        assert outbox.renew_leases(conn, [first.id, second.id], "node-a", now + 60) == 0  # node-b took both
        assert outbox.held(conn, [first.id, second.id], "node-a") == set()
        assert outbox.held(conn, [first.id, second.id], "node-b") == {first.id, second.id}


def test_a_renewed_lease_is_not_taken_when_the_first_one_would_have_lapsed(engine: Engine) -> None:
    queue(engine, ("T4", None))
    now = time.time()
    with engine.begin() as conn:
        [row] = claim_as(conn, "node-a", now)
        assert outbox.renew_leases(conn, [row.id], "node-a", now + 10 + 30) == 1
        assert claim_as(conn, "node-b", now + 31) == []
        assert outbox.held(conn, [row.id], "node-a") == {row.id}
