"""A daemon for the console's tests: the county HIS samples filed over MLLP into the record and forwarded to a LIS
that refuses one further message (AR: dead at once) until it is told to take it, with the operators' listener."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.messages import adt
from tests.support.mllp_peer import MllpPeer
from tests.support.store_view import destination_statuses

HIS_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "county" / "his"
REFUSED = "DEAD0001"  # the control ID of the message the LIS refuses
CHEN_ID = "360426194909020421"  # the resident ID of 陈桂兰 (02_a04, 03_oru)


@dataclass
class Lis:
    """The LIS peer's answers: AR for the refused message while ``refusing``, AA otherwise."""

    refusing: bool = True
    peer: MllpPeer = field(init=False)

    def answer(self, message: bytes) -> str:
        return "AR" if self.refusing and REFUSED.encode() in message.split(b"\r", 1)[0] else "AA"


@dataclass(frozen=True)
class Console:
    base: str  # http://127.0.0.1:port
    config: Path
    lis: Lis
    samples: int  # messages sent: the HIS samples and the refused one

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """The status and JSON of a request to the management API (path under /api/v1)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/api/v1{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())


@contextmanager
def county_console(store_url: str, root: Path, log: Path, *, auth: str = "none") -> Iterator[Console]:
    """A running daemon that has filed and forwarded the HIS samples, and dead-lettered the refused message."""
    lis = Lis()
    lis.peer = MllpPeer(answer=lis.answer).start()
    port, console = free_port(), free_port()
    config = write_config(
        root,
        store_url,
        {
            "his-adt": {
                "source_system": "his.county-people-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru", "hl7v2/pharmacy"],
                "destinations": [
                    {"name": "record", "type": "record", "order_by": "person"},
                    {"name": "lis", "type": "mllp", "target": f"127.0.0.1:{lis.peer.port}", "on_ar": "dead"},
                ],
            }
        },
        log,
    )
    engine = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine, "console": {"listen": f"127.0.0.1:{console}", "auth": auth}}))
    sent = [p.read_bytes() for p in sorted(HIS_SAMPLES.glob("*.hl7"))] + [adt(REFUSED)]
    try:
        with Daemon(config, ports=(port, console)):
            acks = list(exchange("127.0.0.1", port, sent))
            assert all(b"MSA|AA|" in a for a in acks)
            settled = {"SENT", "SKIPPED", "DEAD"}
            wait_until(lambda: len(s := destination_statuses(config)) == 2 * len(sent) and set(s) <= settled)
            yield Console(f"http://127.0.0.1:{console}", config, lis, len(sent))
    finally:
        lis.peer.stop()
