"""FHIR in, FHIR out: pushed resources reach the EMR once, even when it is down at first or a payload repeats."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.corpus import CORPUS
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.emr import RunningEmr
from tests.support.http import request
from tests.support.store_view import journal

PATIENTS = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()


def deliveries(config: Path) -> list[str]:
    return [d["status"] for row in journal(config) for d in row["destinations"]]


def test_pushed_fhir_reaches_a_late_emr_once_and_a_repeat_is_an_update(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    port, emr_port = free_port(), free_port()
    retry = {"max_attempts": 100, "initial_interval": "100ms", "max_interval": "300ms"}
    channels = {
        "emr-sync": {
            "source": {"type": "fhir-push", "listen": f"127.0.0.1:{port}"},
            "destinations": [
                {"name": "emr", "type": "fhir", "url": f"http://127.0.0.1:{emr_port}/fhir", "retry": retry}
            ],
        }
    }
    config = write_config(tmp_path, store_url, channels, log_dir / f"fhir-dest-{tmp_path.name}.jsonl")
    patient = json.loads(PATIENTS[0])
    with Daemon(config, ports=(port,)):
        assert request(f"http://127.0.0.1:{port}/fhir/Patient", PATIENTS[0].encode()).status == 201
        wait_until(lambda: deliveries(config) == ["ERROR"])  # nobody answers yet: retried
        with RunningEmr(port=emr_port) as emr:
            wait_until(lambda: deliveries(config) == ["SENT"])
            batch = {"resourceType": "Bundle", "id": "again", "type": "batch", "entry": [{"resource": patient}]}
            assert request(f"http://127.0.0.1:{port}/fhir", json.dumps(batch).encode()).status == 200
            wait_until(lambda: deliveries(config) == ["SENT", "SENT"])
            stored = emr.resources("Patient")
    assert len(stored) == 1 and stored[0]["meta"]["versionId"] == "2"
    assert stored[0]["identifier"] == patient["identifier"]


def test_a_resource_the_emr_refuses_is_dead_with_the_emr_s_reason(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    port = free_port()
    with RunningEmr() as emr:
        channels = {
            "emr-sync": {
                "source": {"type": "fhir-push", "listen": f"127.0.0.1:{port}"},
                "destinations": [{"name": "emr", "type": "fhir", "url": emr.base_url}],
            }
        }
        config = write_config(tmp_path, store_url, channels, log_dir / f"fhir-dead-{tmp_path.name}.jsonl")
        bad = {**json.loads(PATIENTS[1]), "gender": "F"}
        with Daemon(config, ports=(port,)):
            assert request(f"http://127.0.0.1:{port}/fhir/Patient", json.dumps(bad).encode()).status == 201
            wait_until(lambda: deliveries(config) == ["DEAD"])
            (row,) = journal(config)
        assert emr.resources("Patient") == []
    assert row["destinations"][0]["attempts"] == 1
    assert row["destinations"][0]["last_error"].startswith("HTTP 422: Patient.gender")
