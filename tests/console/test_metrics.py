"""/metrics and /readyz on the operators' listener: what a data centre's Prometheus and load balancer see."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from engine.connectors.mllp.client import exchange
from tests.support.corpus import SAMPLES
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.mllp_peer import MllpPeer
from tests.support.store_view import destination_statuses

ADT = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()


def _config(tmp_path: Path, store_url: str, log_dir: Path, peer: int, auth: str = "none") -> tuple[Path, int, int]:
    mllp, console = free_port(), free_port()
    config = write_config(
        tmp_path,
        store_url,
        {
            "his": {
                "source_system": "his.county-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{mllp}", "encoding": "gb18030"},
                "map": ["hl7v2/adt"],
                "destinations": [
                    {"name": "record", "type": "record", "order_by": "person"},
                    {"name": "lis", "type": "mllp", "target": f"127.0.0.1:{peer}", "on_ar": "dead"},
                ],
            }
        },
        log_dir / f"metrics-{tmp_path.name}.jsonl",
        {"console": {"listen": f"127.0.0.1:{console}", "auth": auth}, "record": {"processes": 1}},
    )
    return config, mllp, console


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics by (name, labels), parsed by Prometheus' own parser."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_the_message_its_ack_its_deliveries_and_the_record_process_decision(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    with MllpPeer(answer=lambda _m: "AR") as peer:
        config, mllp, console = _config(tmp_path, store_url, log_dir, peer.port)
        with Daemon(config, ports=(mllp, console)):
            [ack] = exchange("127.0.0.1", mllp, [ADT])
            assert b"MSA|AA|" in ack
            wait_until(lambda: sorted(destination_statuses(config)) == ["DEAD", "SENT"])
            # the record process counts into its own files; the daemon's /metrics adds them up
            samples = wait_until(
                lambda: (s := scrape(console))
                and value(s, "huitong_mpi_decisions_total", outcome="new") == 1
                and s
            )
    assert isinstance(samples, dict)
    his = {"channel": "his", "type": "ADT^A04"}
    assert value(samples, "huitong_messages_received_total", **his) == 1
    assert value(samples, "huitong_messages_processed_total", **his) == 1
    assert value(samples, "huitong_messages_errored_total", **his) == 0
    assert value(samples, "huitong_ack_seconds_count", channel="his") == 1
    assert value(samples, "huitong_delivery_attempts_total", channel="his", destination="record", status="SENT") == 1
    assert value(samples, "huitong_delivery_attempts_total", channel="his", destination="lis", status="DEAD") == 1
    assert value(samples, "huitong_dead_letters", channel="his", destination="lis") == 1
    assert value(samples, "huitong_queue_depth", channel="his", destination="record") == 0
    assert value(samples, "huitong_store_commit_seconds_count", process="daemon") >= 1
    assert value(samples, "huitong_store_commit_seconds_count", process="record") >= 1


def test_metrics_refuses_a_caller_without_a_login(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, mllp, console = _config(tmp_path, store_url, log_dir, free_port(), auth="users")
    with Daemon(config, ports=(mllp, console)):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{console}/metrics")
            raise AssertionError("/metrics answered without a login")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401


def readyz(port: int) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_readyz_is_ready_with_every_channel_started_and_says_which_one_is_not(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, mllp, console = _config(tmp_path, store_url, log_dir, free_port())
    with Daemon(config, ports=(mllp, console)) as daemon, socket.socket() as taken:
        wait_until(lambda: readyz(console) == (200, {"status": "ready"}), timeout=60)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        lab = {"channel": "lab", "source": {"type": "mllp", "listen": f"127.0.0.1:{busy}"}, "destinations": []}
        (config.parent / "channels" / "lab.yaml").write_text(yaml.safe_dump(lab))
        daemon.hup()  # the new channel cannot listen: its port is taken
        not_ready = (503, {"status": "not ready", "reason": "channels not started: lab"})
        wait_until(lambda: readyz(console) == not_ready, timeout=60)
