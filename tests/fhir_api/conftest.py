"""What the FHIR API tests share: a daemon that filed the county's HIS samples over MLLP and serves its record as
FHIR, a system token, and small HTTP helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, huitong, wait_port, wait_until, write_config
from tests.support.store_view import destination_statuses

HIS_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "county" / "his"
CHEN_ID = "360426194909020421"  # the resident ID of 陈桂兰 (02_a04, 03_oru)
TOKEN = [""]  # the module's system token, set by the fixture


@dataclass(frozen=True)
class Server:
    base: str
    config: Path
    store_url: str
    token: str
    log: Path  # the daemon's log file

    def __str__(self) -> str:
        return self.base


def make_token(config: Path, *args: str) -> str:
    made = huitong("tokens", "create", "--expires", "1d", *args, config=config)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def valid_r4(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after fhir.resources has accepted it (a Bundle with every resource in it). fhir.resources 8
    has no R4 package; R4B (4.3) is the nearest and has the same shape for the types served here."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def get(url: str, token: str | None = "") -> tuple[int, dict[str, Any]]:
    """The status and the FHIR JSON answered, validated: every answer of these tests is valid R4."""
    headers = {"Authorization": f"Bearer {token or TOKEN[0]}"} if token is not None else {}
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, valid_r4(json.loads(answer.read()))
    except urllib.error.HTTPError as refused:
        return refused.code, valid_r4(json.loads(refused.read()))


@pytest.fixture(scope="module")
def fhir(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Server]:
    """The FHIR base URL of a daemon holding the HIS samples' record."""
    root = tmp_path_factory.mktemp("fhir")
    port, api = free_port(), free_port()
    config = write_config(
        root,
        module_store_url,
        {
            "his": {
                "source_system": "his.county-people-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru"],
                "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
            }
        },
        log := log_dir / f"fhir-api-{root.name}.jsonl",
    )
    engine_yaml = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine_yaml, "fhir_api": {"listen": f"127.0.0.1:{api}"}}))
    samples = [p.read_bytes() for p in sorted(HIS_SAMPLES.glob("*.hl7"))]
    with Daemon(config, ports=(port, api)):
        acks = list(exchange("127.0.0.1", port, samples))
        assert all(b"MSA|AA|" in a for a in acks)
        done = {"SENT", "SKIPPED"}
        wait_until(lambda: len(s := destination_statuses(config)) == len(samples) and set(s) <= done)
        wait_port(api)
        TOKEN[0] = make_token(config, "--scope", "system/*.read")
        yield Server(f"http://127.0.0.1:{api}/fhir", config, module_store_url, TOKEN[0], log)


def chen(fhir: Server, token: str = "") -> dict[str, Any]:
    status, bundle = get(f"{fhir}/Patient?identifier={CHEN_ID}", token)
    assert status == 200, bundle
    [entry] = bundle["entry"]
    return entry["resource"]
