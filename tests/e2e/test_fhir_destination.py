"""FHIR in, FHIR out: pushed resources reach the EMR once, even when it is down at first or a payload repeats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.corpus import CORPUS
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.emr import RunningEmr
from tests.support.http import request
from tests.support.store_view import journal

PATIENTS = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True)
class Site:
    """One daemon for the module; each test has its own channel, fhir-push port and EMR port."""

    config: Path
    ports: dict[str, int]
    emr_ports: dict[str, int]


@pytest.fixture(scope="module")
def site(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("fhir-dest")
    ports = {name: free_port() for name in ("emr-late", "emr-refusing")}
    emr_ports = {name: free_port() for name in ports}
    late_retry = {"max_attempts": 100, "initial_interval": "100ms", "max_interval": "300ms"}
    channels = {
        name: {
            "source": {"type": "fhir-push", "listen": f"127.0.0.1:{port}"},
            "destinations": [
                {
                    "name": "emr",
                    "type": "fhir",
                    "url": f"http://127.0.0.1:{emr_ports[name]}/fhir",
                    **({"retry": late_retry} if name == "emr-late" else {}),
                }
            ],
        }
        for name, port in ports.items()
    }
    config = write_config(root, module_store_url, channels, log_dir / f"fhir-dest-{root.name}.jsonl")
    with Daemon(config, ports=tuple(ports.values())):
        yield Site(config, ports, emr_ports)


def deliveries(site: Site, channel: str) -> list[str]:
    return [d["status"] for row in journal(site.config, channel=channel) for d in row["destinations"]]


def test_pushed_fhir_reaches_a_late_emr_once_and_a_repeat_is_an_update(site: Site) -> None:
    port, emr_port = site.ports["emr-late"], site.emr_ports["emr-late"]
    patient = json.loads(PATIENTS[0])
    assert request(f"http://127.0.0.1:{port}/fhir/Patient", PATIENTS[0].encode()).status == 201
    wait_until(lambda: deliveries(site, "emr-late") == ["ERROR"])  # nobody answers yet: retried
    with RunningEmr(port=emr_port) as emr:
        wait_until(lambda: deliveries(site, "emr-late") == ["SENT"])
        batch = {"resourceType": "Bundle", "id": "again", "type": "batch", "entry": [{"resource": patient}]}
        assert request(f"http://127.0.0.1:{port}/fhir", json.dumps(batch).encode()).status == 200
        wait_until(lambda: deliveries(site, "emr-late") == ["SENT", "SENT"])
        stored = emr.resources("Patient")
    assert len(stored) == 1 and stored[0]["meta"]["versionId"] == "2"
    assert stored[0]["identifier"] == patient["identifier"]


def test_a_resource_the_emr_refuses_is_dead_with_the_emr_s_reason(site: Site) -> None:
    port = site.ports["emr-refusing"]
    with RunningEmr(port=site.emr_ports["emr-refusing"]) as emr:
        bad = {**json.loads(PATIENTS[1]), "gender": "F"}
        assert request(f"http://127.0.0.1:{port}/fhir/Patient", json.dumps(bad).encode()).status == 201
        wait_until(lambda: deliveries(site, "emr-refusing") == ["DEAD"])
        (row,) = journal(site.config, channel="emr-refusing")
        assert emr.resources("Patient") == []
    assert row["destinations"][0]["attempts"] == 1
    assert row["destinations"][0]["last_error"].startswith("HTTP 422: Patient.gender")
