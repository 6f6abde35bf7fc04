"""Scale-out on PostgreSQL: two nodes (a daemon and its record worker each) on one store, one killed with kill -9.

The nodes are started at the same moment on an empty database (both migrate it). A sender streams ADT^A08
updates of many residents over MLLP, each message to the next node in turn, as a load balancer in front of a
county data centre's nodes would; a node that stops answering gets no more, and its unanswered message goes to
the other. Every update changes the resident's phone, so each message makes exactly one new version of that
resident's Patient, and the versions show in which order the record took the messages.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine.connectors.mllp.client import Connection
from engine.store.database import open_engine
from engine.store.schema import messages, outbox, record_resources, record_versions
from tests.conftest import postgres_schema_url
from tests.support.archive import name, resident_id
from tests.support.daemon import Daemon, free_port, wait_until, write_config

PERSONS = 40
UPDATES = 12  # per person: 480 messages
NODES = ("scale-a", "scale-b")
TAKEOVER = 30.0  # docs/architecture.md: other nodes take over a dead node's work within 30 s
DEAD, LIVE = NODES


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema; skipped without HUITONG_TEST_POSTGRES_URL, failing when it names no server."""
    yield from postgres_schema_url()


def update(person: int, n: int) -> bytes:
    """Update ``n`` (1, 2, …) of resident ``person``: a new phone number each time."""
    return "\r".join(
        [
            f"MSH|^~\\&|HIS|339901000|HUITONG|MC339901|20260805140000||ADT^A08^ADT_A01|{control_id(person, n)}|P|2.4"
            "||||||UNICODE UTF-8",
            "EVN|A08|20260805140000",
            f"PID|1||S{person:05d}^^^HIS^PI~{resident_id(person)}^^^CHN^NNCHN||{name(person)}^^^^^^L||19900307|M"
            f"|||幸福路{person}号^^抚州市^江西省^344000^CHN^H||139{person:04d}{n:04d}^PRN^PH",
            "PV1|1|O",
        ]
    ).encode()


def control_id(person: int, n: int) -> str:
    return f"SO{person:03d}-{n:02d}"


class Sender(threading.Thread):
    """Sends its residents' updates one at a time, each to the next node in turn; waits for each ACK."""

    def __init__(self, ports: dict[str, int], persons: range) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.payloads = [update(p, n) for n in range(1, UPDATES + 1) for p in persons]
        self.acked = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        conns: dict[str, Connection] = {}
        down: set[str] = set()
        try:
            for i, payload in enumerate(self.payloads):
                turn = [NODES[i % 2], NODES[(i + 1) % 2]]
                for node in (n for n in turn if n not in down):
                    try:
                        if node not in conns:
                            conns[node] = Connection("127.0.0.1", self.ports[node], timeout=10)
                        answer = conns[node].ask(payload)
                    except OSError:  # the node died: this message and the rest go to the other
                        if node in conns:
                            conns.pop(node).close()
                        down.add(node)
                        continue
                    assert b"MSA|AA|" in answer, answer
                    self.acked += 1
                    break
                else:
                    raise AssertionError("no node answers")
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            for conn in conns.values():
                conn.close()


def record_worker_started(node: str, log: Path) -> bool:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return any(json.loads(line).get("event") == "record workers started" for line in lines)


def leased_by(store: Engine) -> dict[int, str]:
    with store.connect() as conn:
        return dict(conn.execute(select(outbox.c.id, outbox.c.leased_by).where(outbox.c.leased_by.is_not(None))).all())


def test_two_nodes_share_the_record_and_a_killed_nodes_claims_are_taken_over_in_order_once_each(
    postgres_url: str, tmp_path: Path, log_dir: Path
) -> None:
    ports = {node: free_port() for node in NODES}
    daemons = {}
    for node in NODES:
        config = write_config(
            tmp_path / node,
            postgres_url,
            {
                "his": {
                    "source_system": "his.county-hospital",
                    "source": {"type": "mllp", "listen": f"127.0.0.1:{ports[node]}"},
                    "map": ["hl7v2/adt"],
                    "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
                }
            },
            log_dir / f"scale-out-{node}-{tmp_path.name}.jsonl",
            engine={"node": node, "record": {"processes": 1}},
        )
        daemons[node] = Daemon(config, ports=(ports[node],), own_group=True)
    for daemon in daemons.values():  # at the same moment, on an empty database: both migrate it
        daemon.launch()
    store = open_engine(postgres_url)
    senders: list[Sender] = []
    try:
        for daemon in daemons.values():
            daemon.wait_ready()
        wait_until(
            lambda: all(
                record_worker_started(node, log_dir / f"scale-out-{node}-{tmp_path.name}.jsonl") for node in NODES
            ),
            timeout=60,
        )
        senders = [Sender(ports, range(k, PERSONS, 3)) for k in range(3)]
        for sender in senders:
            sender.start()

        # Both record workers take rows; when the doomed node's worker holds some, freeze the node (so the rows it
        # holds are known) and kill it with SIGKILL: the daemon and its record worker at once.
        seen: set[str] = set()

        def frozen_holding() -> set[int]:
            assert any(s.is_alive() for s in senders), ("the stream ended first", [s.error for s in senders], seen)
            seen.update(leased_by(store).values())
            if not ({f"{n}/record" for n in NODES} <= seen and f"{DEAD}/record" in leased_by(store).values()):
                return set()
            daemons[DEAD].signal_group(signal.SIGSTOP)
            held = {i for i, node in leased_by(store).items() if node == f"{DEAD}/record"}
            if not held:  # its batch was recorded meanwhile: let it go on, look again
                daemons[DEAD].signal_group(signal.SIGCONT)
            return held

        held: set[int] = wait_until(frozen_holding, timeout=60, step=0.005)  # type: ignore[assignment]
        daemons[DEAD].signal_group(signal.SIGKILL)
        killed_at = time.time()
        assert daemons[DEAD].proc is not None
        daemons[DEAD].proc.wait(10)

        for sender in senders:
            sender.join(120)
            assert sender.error is None, sender.error
        assert sum(s.acked for s in senders) == PERSONS * UPDATES

        def settled() -> bool:
            with store.connect() as conn:
                return all(s == "SENT" for s in conn.execute(select(outbox.c.status)).scalars())

        wait_until(settled, timeout=TAKEOVER + 30)
        with store.connect() as conn:
            taken_over = conn.execute(select(outbox.c.sent_at).where(outbox.c.id.in_(held))).scalars().all()
            deliveries = conn.execute(
                select(messages.c.control_id, messages.c.status, outbox.c.status)
                .select_from(messages.outerjoin(outbox, outbox.c.message_id == messages.c.id))
                .order_by(messages.c.id)
            ).all()
            versions = conn.execute(
                select(record_resources.c.id, messages.c.control_id)
                .join(record_versions, record_versions.c.resource_id == record_resources.c.id)
                .join(messages, messages.c.id == record_versions.c.message_id)
                .where(record_resources.c.type == "Patient")
                .order_by(record_resources.c.id, record_versions.c.version)
            ).all()
    finally:
        for sender in senders:
            sender.join(1)
        for daemon in daemons.values():
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.stop()
        store.dispose()

    # The dead node's claims were taken by the live one once their lease ran out, within the documented 30 s.
    assert len(taken_over) == len(held)
    assert max(taken_over) - killed_at <= TAKEOVER + 5
    # Every message journaled once (a resend to the other node is a DUPLICATE without a delivery) and recorded once.
    processed = [cid for cid, status, _ in deliveries if status == "PROCESSED"]
    assert sorted(processed) == sorted(control_id(p, n) for p in range(PERSONS) for n in range(1, UPDATES + 1))
    assert {(status, delivery) for _, status, delivery in deliveries} <= {("PROCESSED", "SENT"), ("DUPLICATE", None)}
    # Each resident's Patient has one version per update, in the order they were sent, whichever node took them.
    by_patient: dict[str, list[str]] = {}
    for patient, cid in versions:
        by_patient.setdefault(patient, []).append(cid)
    assert sorted(by_patient.values()) == [[control_id(p, n) for n in range(1, UPDATES + 1)] for p in range(PERSONS)]
