"""kill -9 at random points: nothing ACKed is lost, resends are recognised, queued deliveries resume."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from sqlalchemy import select

from engine.connectors.mllp.client import Connection
from engine.domain.formats.hl7v2 import canonical
from engine.store.database import open_engine
from engine.store.schema import messages
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.messages import adt

TOTAL = 400


class Sender(threading.Thread):
    """Sends messages in order, one at a time; an un-ACKed message is sent again after reconnecting."""

    def __init__(self, port: int, payloads: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.payloads = payloads
        self.acked: list[int] = []
        self.resends = 0
        self.done = threading.Event()

    def run(self) -> None:
        i = 0
        conn: Connection | None = None
        while i < len(self.payloads):
            try:
                if conn is None:
                    conn = Connection("127.0.0.1", self.port, timeout=5)
                answer = conn.ask(self.payloads[i])
                assert b"MSA|AA|" in answer, answer
                self.acked.append(i)
                i += 1
            except OSError:
                if conn is not None:
                    conn.close()
                conn = None
                self.resends += 1
                time.sleep(0.05)
        if conn is not None:
            conn.close()
        self.done.set()


def test_kill_9_loses_nothing_acked_and_resends_become_duplicates(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    port = free_port()
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        store_url,
        {
            "crash": {
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
                "destinations": [
                    {
                        "name": "archive",
                        "type": "file",
                        "path": str(out),
                        "filename": "{control_id}.hl7",
                        "order_by": "person",
                    }
                ],
            },
        },
        log_dir / f"crash-{tmp_path.name}.jsonl",
    )
    payloads = [adt(f"CR{i:05d}", f"P{i % 7}") for i in range(TOTAL)]
    rng = random.Random(20261122)
    daemon = Daemon(config, ports=(port,)).start()
    sender = Sender(port, payloads)
    sender.start()
    for _ in range(4):
        time.sleep(rng.uniform(0.2, 1.0))
        daemon.kill()
        time.sleep(rng.uniform(0.0, 0.3))
        daemon = Daemon(config, ports=(port,)).start()
    assert sender.done.wait(120), f"sender stuck after {len(sender.acked)} ACKs"
    wait_until(lambda: len(list(out.glob("*.hl7"))) >= TOTAL, timeout=60)
    assert daemon.stop() == 0

    engine = open_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.control_id, messages.c.status, messages.c.duplicate_of)).all()
    engine.dispose()
    originals = [r.control_id for r in rows if r.status != "DUPLICATE"]
    assert sorted(originals) == sorted(f"CR{i:05d}" for i in range(TOTAL))  # each ACKed message exactly once
    assert all(r.status == "PROCESSED" for r in rows if r.status != "DUPLICATE")
    assert all(r.duplicate_of is not None for r in rows if r.status == "DUPLICATE")
    assert len(rows) - len(originals) <= sender.resends  # only resends became extra rows
    delivered = {p.stem for p in out.glob("*.hl7")}
    assert delivered == {f"CR{i:05d}" for i in range(TOTAL)}
    for path in out.glob("*.hl7"):
        assert path.read_bytes() == canonical(payloads[int(path.stem[2:])])
