"""SIGTERM finishes what is in hand and exits 0; SIGHUP reloads changed channels and keeps the others' connections."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml

from engine.connectors.mllp.client import Connection, exchange
from engine.domain.formats.hl7v2 import read_ack
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.messages import adt
from tests.support.store_view import messages


def ask(conn: Connection, payload: bytes) -> str:
    return read_ack(conn.ask(payload)).code


def test_sigterm_while_messages_flow_exits_0_and_every_acked_message_is_journaled(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    port = free_port()
    config = write_config(
        tmp_path,
        store_url,
        {"term": {"source": {"type": "mllp", "listen": f"127.0.0.1:{port}"}}},
        log_dir / f"sigterm-{tmp_path.name}.jsonl",
    )
    acked: list[str] = []

    def send() -> None:
        try:
            with Connection("127.0.0.1", port) as conn:
                for i in range(100_000):
                    if ask(conn, adt(f"T{i:06d}")) == "AA":
                        acked.append(f"T{i:06d}")
        except OSError:
            pass

    daemon = Daemon(config, ports=(port,)).start()
    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(1.0)
    assert daemon.stop() == 0
    sender.join(10)
    rows = messages(config)
    journaled = {r["control_id"] for r in rows}
    assert acked and set(acked) <= journaled
    assert all(r["status"] == "PROCESSED" for r in rows)


def test_sighup_reloads_changed_channels_and_keeps_other_connections(tmp_path: Path, log_dir: Path) -> None:
    a_port, b_port, c_port = free_port(), free_port(), free_port()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    config = write_config(
        tmp_path,
        store,
        {
            "a": {"source": {"type": "mllp", "listen": f"127.0.0.1:{a_port}"}},
            "b": {"source": {"type": "mllp", "listen": f"127.0.0.1:{b_port}"}},
        },
        log_dir / "sighup.jsonl",
    )
    with Daemon(config, ports=(a_port, b_port)) as daemon, Connection("127.0.0.1", a_port) as kept:
        assert ask(kept, adt("BEFORE1")) == "AA"
        channel_b = tmp_path / "channels" / "b.yaml"
        spec = yaml.safe_load(channel_b.read_text())
        spec["filter"] = {"message_types": ["ORU^R01"]}
        channel_b.write_text(yaml.safe_dump(spec))
        (tmp_path / "channels" / "c.yaml").write_text(
            yaml.safe_dump({"channel": "c", "source": {"type": "mllp", "listen": f"127.0.0.1:{c_port}"}})
        )
        daemon.hup()
        wait_port(c_port)
        assert ask(kept, adt("AFTER01")) == "AA"  # channel a's connection survived the reload
        assert read_ack(next(exchange("127.0.0.1", c_port, [adt("NEWCHAN")]))).code == "AA"
        time.sleep(0.2)
        assert read_ack(next(exchange("127.0.0.1", b_port, [adt("FILTER1")]))).code == "AA"

        (tmp_path / "channels" / "c.yaml").write_text("channel: c\nsource: {type: mllp, listen: nowhere}\n")
        daemon.hup()
        log_file = log_dir / "sighup.jsonl"
        wait_until(lambda: "reload refused" in log_file.read_text(encoding="utf-8"))  # the reload was tried
        assert ask(kept, adt("STILL01")) == "AA"  # a bad configuration is refused; everything keeps running
        assert read_ack(next(exchange("127.0.0.1", c_port, [adt("STILL02")]))).code == "AA"

        def status_of(control_id: str) -> str:
            return next(r["status"] for r in messages(config) if r["control_id"] == control_id)

        wait_until(lambda: status_of("FILTER1") != "RECEIVED", timeout=10)
        assert status_of("FILTER1") == "FILTERED"  # channel b runs its new filter
    log = (log_dir / "sighup.jsonl").read_text()
    assert "reload refused" in log and "c.yaml:2" in log
