"""A backfill beside a running daemon with a live MLLP sender: on SQLite the backfill leaves the write lock to live
traffic first, and on either store it finishes with every message in the record exactly once, live ones included."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, func, select

from engine.connectors.mllp.client import Connection
from engine.store.schema import live_intake, messages, outbox, record_resources
from tests.support.archive import adt, flat_tree
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config

ARCHIVED = 60


class LiveSender(threading.Thread):
    """One ADT^A04 after another over one MLLP connection, each once its ACK is in, until stopped."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.acks: list[bytes] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with Connection("127.0.0.1", self.port, timeout=30) as conn:
            n = 1000
            while not self.stopping.is_set():
                n += 1
                self.acks.append(conn.ask(adt(n, "GB 18030-2000").replace("BF-", "LV-").encode("gb18030")))


def setup(tmp_path: Path, store_url: str, log_dir: Path) -> tuple[Path, int]:
    port = free_port()
    record = [{"name": "record", "type": "record", "order_by": "person"}]
    config = write_config(
        tmp_path,
        store_url,
        {
            "live": {
                "source_system": "his.county-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt"],
                "destinations": record,
            },
            "his": {
                "source_system": "his.county-hospital",
                "source": {"type": "file", "path": str(tmp_path / "inbox"), "glob": "*.hl7", "encoding": "gb18030"},
                "map": ["hl7v2/adt"],
                "destinations": record,
            },
        },
        log_dir / f"beside-live-{tmp_path.name}.jsonl",
    )
    (tmp_path / "inbox").mkdir()
    return config, port


def test_beside_a_live_sender_the_backfill_yields_and_every_message_is_recorded_exactly_once(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    numbers = flat_tree(tmp_path / "archive", ARCHIVED)
    engine = create_engine(store_url)
    with Daemon(config, ports=(port,)):
        sender = LiveSender(port)
        sender.start()
        wait_until(lambda: sender.acks)
        done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
        sender.stopping.set()
        sender.join(30)
        live = len(sender.acks)

        def live_recorded() -> bool:
            sent = select(func.count()).select_from(outbox).where(outbox.c.channel == "live", outbox.c.status == "SENT")
            with engine.connect() as conn:
                return conn.execute(sent).scalar_one() == live

        wait_until(live_recorded, timeout=180)  # the record catches up once the sender stops; a loaded machine is slow
    assert done.returncode == 0, done.stderr
    assert f"journaled          {ARCHIVED}" in done.stdout
    assert f"delivered          SENT {ARCHIVED}, SKIPPED 0, DEAD 0" in done.stdout
    # On SQLite it saw the live sender and left it the write lock; PostgreSQL has no single write lock to leave.
    assert ("transactions, live senders first" in done.stdout) == store_url.startswith("sqlite")
    assert all(b"MSA|AA|" in ack for ack in sender.acks)
    with engine.connect() as conn:
        journal = conn.execute(select(messages.c.channel, messages.c.control_id, messages.c.status)).all()
        deliveries = conn.execute(select(outbox.c.message_id, outbox.c.status)).all()
        encounters = conn.execute(
            select(func.count()).select_from(record_resources).where(record_resources.c.type == "Encounter")
        ).scalar_one()
        beats = conn.execute(select(live_intake.c.node)).scalars().all()
    engine.dispose()
    assert sorted(c for ch, c, _ in journal if ch == "his") == [f"BF-{n:04d}" for n in numbers]
    assert sorted(c for ch, c, _ in journal if ch == "live") == sorted(f"LV-{n:04d}" for n in range(1001, 1001 + live))
    assert {s for *_, s in journal} == {"PROCESSED"}
    assert sorted(m for m, _ in deliveries) == sorted({m for m, _ in deliveries})  # one delivery a message
    assert {s for _, s in deliveries} == {"SENT"} and len(deliveries) == ARCHIVED + live
    assert encounters == ARCHIVED + live  # a visit each, none twice
    assert beats  # the daemon's heartbeat, by which the backfill saw the sender
