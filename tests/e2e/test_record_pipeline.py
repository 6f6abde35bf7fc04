"""HL7 v2 over MLLP into the unified health record: journal, ACK, map, resolve, record — and the 360° view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import yaml

from engine.connectors.mllp.client import exchange
from tests.support.corpus import SAMPLES
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config
from tests.support.store_view import destination_statuses, messages

CN = Path(__file__).resolve().parents[2] / "mappings" / "tests" / "hl7v2" / "cn"
ADT = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()
ORU = (CN / "oru_r01_cbc_utf8.hl7").read_bytes()
RESIDENT_ID = "110101199003071233"  # PID-3 of the ADT sample


def setup(tmp_path: Path, store_url: str, log_dir: Path) -> tuple[Path, int]:
    port = free_port()
    config = write_config(
        tmp_path,
        store_url,
        {
            "his": {
                "source_system": "his.county-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru"],
                "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
            }
        },
        log_dir / f"record-{tmp_path.name}.jsonl",
    )
    return config, port


def test_an_adt_sent_over_mllp_lands_in_the_record_of_its_resident(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    with Daemon(config, ports=(port,)):
        [ack] = exchange("127.0.0.1", port, [ADT])
        assert b"MSA|AA|" in ack
        wait_until(lambda: destination_statuses(config) == ["SENT"])
    shown = huitong("record", "show", RESIDENT_ID, "--json", config=config)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    text = json.dumps(view, ensure_ascii=False)
    assert "张三" in text
    assert "his.county-hospital" in text
    assert "Encounter" in text


def test_a_replayed_message_adds_no_second_copy_to_the_record(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    with Daemon(config, ports=(port,)):
        assert b"MSA|AA|" in next(iter(exchange("127.0.0.1", port, [ADT])))
        wait_until(lambda: destination_statuses(config) == ["SENT"])
        first = huitong("record", "export", RESIDENT_ID, config=config).stdout
        assert huitong("messages", "reprocess", "1", config=config).returncode == 0
        wait_until(lambda: destination_statuses(config) == ["SENT"])
    again = huitong("record", "export", RESIDENT_ID, config=config).stdout
    kinds = [e["resource"]["resourceType"] for e in json.loads(again)["entry"]]
    assert kinds == [e["resource"]["resourceType"] for e in json.loads(first)["entry"]]
    assert kinds.count("Encounter") == 1


def test_a_value_its_mapping_cannot_use_is_left_out_and_messages_show_names_the_field_not_the_value(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    bad = ADT.replace(b"||19900307|", b"||19901399|")  # a birth date that is no date
    with Daemon(config, ports=(port,)):
        acks = list(exchange("127.0.0.1", port, [bad, ORU]))
        assert all(b"MSA|AA|" in a for a in acks)  # accepted: the journal has it, the mapping runs later
        wait_until(lambda: destination_statuses(config) == ["SENT", "SENT"])
    [first, _] = messages(config)[::-1]
    shown = json.loads(huitong("messages", "show", str(first["id"]), "--json", config=config).stdout)
    [record] = shown["destinations"]
    assert record["response"].startswith("mapped with notes:")
    assert "mappings/hl7v2/_patient.yaml" in record["response"] and "birthDate" in record["response"]
    assert "19901399" not in record["response"]


def record_processes(config: Path) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"record-worker --config {config}"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_a_record_process_that_dies_is_started_again_and_nothing_is_lost(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    with Daemon(config, ports=(port,)):
        [first] = wait_until(lambda: record_processes(config))  # type: ignore[misc]
        os.kill(first, signal.SIGKILL)
        assert b"MSA|AA|" in next(iter(exchange("127.0.0.1", port, [ADT])))  # the intake does not wait for it
        wait_until(lambda: destination_statuses(config) == ["SENT"])
        assert record_processes(config) not in ([], [first])
    assert record_processes(config) == []  # stopped with the daemon


def test_a_killed_daemon_leaves_no_record_process_behind(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    daemon = Daemon(config, ports=(port,)).start()
    wait_until(lambda: record_processes(config))
    daemon.kill()
    wait_until(lambda: record_processes(config) == [])


def test_with_no_record_process_the_daemon_records_itself(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, port = setup(tmp_path, store_url, log_dir)
    settings = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**settings, "record": {"processes": 0}}))
    with Daemon(config, ports=(port,)):
        assert b"MSA|AA|" in next(iter(exchange("127.0.0.1", port, [ADT])))
        wait_until(lambda: destination_statuses(config) == ["SENT"])
        assert record_processes(config) == []
    shown = huitong("record", "show", RESIDENT_ID, config=config)
    assert "张三" in shown.stdout
