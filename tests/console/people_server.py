"""A daemon holding the county demo's kind of data for the console's people pages: the HIS samples, the public
health system's contracts, and a township registration the MPI sends to review (王建国's resident ID under
another name: the same ID with conflicting demographics is for a reviewer, tests/mpi/test_matching.py)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.store_view import destination_statuses

COUNTY = Path(__file__).resolve().parents[2] / "samples" / "county"
WANG_ID = "360426195204110317"  # 王建国: HIS MRN 300317, contract SC2026010101
TOWNSHIP = (
    "MSH|^~\\&|HIS|339901101|HUITONG|MC339901|20260801080000||ADT^A04^ADT_A01|TWN260801001|P|2.4"
    "||||||UNICODE UTF-8\r"
    "EVN|A04|20260801080000\r"
    f"PID|1||T-5521^^^TWN^PI~{WANG_ID}^^^CHN^NNCHN||王建华^^^^^^L||19520411|M|||城关镇下坞村12号^^岚溪县^浙江省^^CHN^H"
    "||13907921011^PRN^PH\r"
    "PV1|1|O|全科^^^339901101|||||||GP|||||||||V-T1^^^TWN^VN\r"
).encode()


@dataclass(frozen=True)
class Console:
    base: str  # http://127.0.0.1:<port>
    config: Path


def _record(source_system: str, port: int, maps: list[str]) -> dict[str, Any]:
    return {
        "source_system": source_system,
        "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
        "map": maps,
        "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
    }


@contextmanager
def county_console(root: Path, store_url: str, log: Path) -> Iterator[Console]:
    """The daemon with `console: {auth: none}`, once the record holds everything and the review is open."""
    his, township, console, inbox = free_port(), free_port(), free_port(), root / "inbox"
    config = write_config(
        root,
        store_url,
        {
            "his": _record("his.county-people-hospital", his, ["hl7v2/adt", "hl7v2/oru", "hl7v2/pharmacy"]),
            "township": _record("his.township", township, ["hl7v2/adt"]),
            "phs-contract-files": {
                "source_system": "phs.county",
                "source": {"type": "file", "format": "xml", "path": str(inbox), "glob": "*.xml", "poll_interval": 0.2},
                "destinations": [{"name": "register", "type": "contract", "vendor": "bsoft-scm"}],
            },
        },
        log,
    )
    engine = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine, "console": {"listen": f"127.0.0.1:{console}", "auth": "none"}}))
    samples = [p.read_bytes() for p in sorted((COUNTY / "his").glob("*.hl7"))]
    with Daemon(config, ports=(his, township, console)):
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(COUNTY / "phs" / "contracts.xml", inbox / "contracts.xml")
        assert all(b"MSA|AA|" in a for a in exchange("127.0.0.1", his, samples))
        done = {"SENT", "SKIPPED"}
        wait_until(lambda: len(s := destination_statuses(config)) == len(samples) + 1 and set(s) <= done)
        [ack] = exchange("127.0.0.1", township, [TOWNSHIP])
        assert b"MSA|AA|" in ack
        wait_port(console)
        base = f"http://127.0.0.1:{console}"
        wait_until(lambda: call(f"{base}/api/v1/mpi/reviews")[1])
        yield Console(base, config)


def call(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """GET (or POST ``body`` as JSON): the status and the JSON answered."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
