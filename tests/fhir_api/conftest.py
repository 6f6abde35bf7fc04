"""The module's daemon holding the county HIS samples' record, with its FHIR API listening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.connectors.mllp.client import exchange
from tests.fhir_api.server import HIS_SAMPLES, TOKEN, Server, make_token
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.store_view import destination_statuses


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
