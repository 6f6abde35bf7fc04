"""Contract files dropped by the public-health system, through the running daemon.

Each change reaches the contract-events channels once; a file that breaks the contract schema is refused with a
reason and costs nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.contract.conftest import SAMPLES
from tests.support.daemon import Daemon, huitong, wait_until, write_config
from tests.support.store_view import destination_statuses

BROKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<FamilyDoctorContract vendor="bsoft-scm"><ContractId>SC-BAD</ContractId><Version>one</Version></FamilyDoctorContract>
"""


def setup(tmp_path: Path, store_url: str, log_dir: Path) -> tuple[Path, Path, Path]:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    config = write_config(
        tmp_path,
        store_url,
        {
            "phs-contract-files": {
                "source_system": "phs.county",
                "source": {
                    "type": "file",
                    "format": "xml",
                    "path": str(inbox),
                    "glob": "*.xml",
                    "poll_interval": "200ms",
                },
                "destinations": [{"name": "register", "type": "contract"}],
            },
            "contract-json": {
                "source": {"type": "contract-events", "format": "json"},
                "destinations": [
                    {
                        "name": "file",
                        "type": "file",
                        "path": str(out),
                        "filename": "{message_id}.json",
                        "order_by": "person",
                    }
                ],
            },
        },
        log_dir / f"contract-files-{tmp_path.name}.jsonl",
    )
    return config, inbox, out


def test_a_dropped_contract_is_passed_on_once_even_when_dropped_again(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, inbox, out = setup(tmp_path, store_url, log_dir)
    with Daemon(config):
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / "signing.xml", inbox / "a.xml")
        [first] = wait_until(lambda: list(out.glob("*.json")), timeout=30)
        shutil.copy(SAMPLES / "signing.xml", inbox / "b.xml")  # the same export, dropped again
        wait_until(lambda: not list(inbox.glob("*.xml")), timeout=30)
        wait_until(lambda: "SENT" in destination_statuses(config, channel="phs-contract-files"))
    body = json.loads(first.read_text(encoding="utf-8"))
    assert (body["event"], body["contract"]["contract_id"]) == ("contract.signed", "SC3604262025000101")
    assert len(list(out.glob("*.json"))) == 1


def test_a_file_that_breaks_the_schema_is_refused_by_name_and_the_next_one_goes_through(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config, inbox, out = setup(tmp_path, store_url, log_dir)
    with Daemon(config):
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / "a-broken.xml").write_bytes(BROKEN)
        shutil.copy(SAMPLES / "termination.xml", inbox / "b.xml")
        wait_until(lambda: list(out.glob("*.json")), timeout=30)
        listing = wait_until(
            lambda: (s if "DEAD" in (s := destination_statuses(config, channel="phs-contract-files")) else None),
            timeout=30,
        )
    assert "DEAD" in listing
    shown = huitong(
        "messages", "list", "--channel", "phs-contract-files", "--status", "PROCESSED", "--json", config=config
    )
    dead = [m for m in json.loads(shown.stdout) if any(d["status"] == "DEAD" for d in m["destinations"])]
    assert len(dead) == 1 and dead[0]["source"].endswith("a-broken.xml")
    assert "element Version" in dead[0]["destinations"][0]["last_error"]
