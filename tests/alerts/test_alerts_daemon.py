"""Alerts in the running daemon: a destination's dead letter fires to the alert file and clears once its
message is reprocessed; a reload's new interval between looks counts at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config
from tests.support.messages import adt
from tests.support.mllp_peer import MllpPeer


def _setup(tmp_path: Path, store_url: str, log_dir: Path, every: str) -> tuple[Path, int, int, Path]:
    port, peer_port, out = free_port(), free_port(), tmp_path / "var" / "alerts.jsonl"
    alerts = {
        "every": every,
        "send": [{"type": "file", "path": str(out)}],
        "rules": [{"name": "lis-dead", "kind": "dead_letters", "destinations": ["his/lis"]}],
    }
    channels = {
        "his": {
            "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
            "destinations": [
                {
                    "name": "lis",
                    "type": "mllp",
                    "target": f"127.0.0.1:{peer_port}",
                    "retry": {"max_attempts": 1, "initial_interval": "100ms", "max_interval": "100ms"},
                }
            ],
        }
    }
    config = write_config(tmp_path, store_url, channels, log_dir / f"alerts-daemon-{tmp_path.name}.jsonl",
                          {"alerts": alerts})
    return config, port, peer_port, out


def _sent(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_a_dead_letter_fires_once_and_clears_once_its_message_is_reprocessed(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port, peer_port, out = _setup(tmp_path, store_url, log_dir, "1s")
    with Daemon(config, ports=(port,)):
        assert b"MSA|AA|" in next(exchange("127.0.0.1", port, [adt("ALERT01")]))  # nobody listens at the LIS
        wait_until(lambda: _sent(out))
        with MllpPeer(port=peer_port) as peer:
            assert huitong("messages", "reprocess", "--dead", config=config).returncode == 0
            wait_until(lambda: peer.received)
            wait_until(lambda: len(_sent(out)) == 2)
    assert [(a["alert"], a["subject"], a["state"]) for a in _sent(out)] == [
        ("lis-dead", "his/lis", "firing"),
        ("lis-dead", "his/lis", "resolved"),
    ]


def test_a_reload_that_shortens_the_interval_between_looks_counts_at_once(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port, _, out = _setup(tmp_path, store_url, log_dir, "600s")  # no look for ten minutes
    with Daemon(config, ports=(port,)) as daemon:
        assert b"MSA|AA|" in next(exchange("127.0.0.1", port, [adt("ALERT02")]))
        engine = yaml.safe_load(config.read_text())
        engine["alerts"]["every"] = "1s"
        config.write_text(yaml.safe_dump(engine))
        daemon.hup()
        wait_until(lambda: _sent(out))
    assert [a["state"] for a in _sent(out)] == ["firing"]
