"""Over real TCP: the daemon in a subprocess, python-hl7's mllp_send as the sender, real destinations."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.connectors.mllp.client import Connection
from engine.domain.formats.hl7v2 import canonical, read_ack, read_header, split_messages
from tests.support.corpus import SAMPLES, one
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.messages import adt
from tests.support.mllp_peer import MllpPeer
from tests.support.store_view import messages as messages_json

MLLP_SEND = str(Path(sys.executable).with_name("mllp_send"))

# One of each kind the issue names: ADT, ORU, batch files, BOM + LF files, GB18030 with Chinese names.
SENT = [
    "cdc-trusted-intermediary/examples/Other/001_ADT_A01.hl7",
    "cdc-trusted-intermediary/examples/CA/002_CA_ORU_R01.hl7",
    "python-hl7/samples_py/sample_batch.hl7",
    "python-hl7/samples_py/sample_file.hl7",
    "microsoft-fhir-converter/data/SampleData/Hl7v2/ADT04-23.hl7",  # UTF-8 BOM, LF separators
    "linuxforhealth-hl7v2-fhir-converter/src/test/resources/sample_win.hl7",  # CRLF
    "efferent-hl7-dotnetcore/test/Sample-ADT.txt",  # blank line, stray whitespace
]
GB18030 = ["hl7v2/adt_a04_gb18030_no_msh18.hl7", "hl7v2/adt_a04_gb18030.hl7", "hl7v2/adt_a04_utf8.hl7"]


def sent_files() -> list[tuple[str, bytes]]:
    out = [(name, one(name)) for name in SENT]
    out += [(name, (SAMPLES / name).read_bytes()) for name in GB18030]
    return out


class Setup:
    def __init__(self, root: Path, config: Path, port: int, out_dir: Path, peer: MllpPeer) -> None:
        self.root, self.config, self.port, self.out_dir, self.peer = root, config, port, out_dir, peer


@pytest.fixture(scope="module")
def setup(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("e2e")
    port = free_port()
    out_dir = root / "out"
    with MllpPeer() as peer:
        config = write_config(
            root,
            module_store_url,
            {
                "his-adt": {
                    "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                    "destinations": [
                        {"name": "archive", "type": "file", "path": str(out_dir)},
                        {
                            "name": "lis",
                            "type": "mllp",
                            "target": f"127.0.0.1:{peer.port}",
                            "order_by": "person",
                            "retry": {"initial_interval": "100ms", "max_interval": "1s"},
                        },
                    ],
                },
            },
            log_dir / f"e2e-{root.name}.jsonl",
        )
        with Daemon(config, ports=(port,)):
            yield Setup(root, config, port, out_dir, peer)


def mllp_send(path: Path, port: int) -> list[str]:
    """Send one file, MLLP-framed, with python-hl7's command; returns the ACK messages it printed."""
    framed = path.with_suffix(".mllp")
    framed.write_bytes(b"\x0b" + path.read_bytes() + b"\x1c\r")
    done = subprocess.run(
        [MLLP_SEND, "--file", str(framed), "--port", str(port), "127.0.0.1"], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [line for line in done.stdout.decode("latin-1").split("\n") if line.strip()]


@pytest.mark.parametrize(("name", "data"), sent_files(), ids=[n for n, _ in sent_files()])
def test_every_message_is_acked_AA_journaled_and_delivered_byte_for_byte(setup: Setup, name: str, data: bytes) -> None:
    path = setup.root / Path(name).name
    path.write_bytes(data)
    expected = split_messages(data)

    acks = mllp_send(path, setup.port)

    msa = [seg for ack in acks for seg in ack.replace("\\r", "\r").split("\r") if seg.startswith("MSA|")]
    assert [seg.split("|")[1] for seg in msa] == ["AA"] * len(expected), acks
    journaled = {(r["control_id"], r["message_type"]) for r in messages_json(setup.config)}
    for raw in expected:
        header = read_header(raw)
        assert (header.control_id, header.message_type) in journaled
    wanted = [canonical(m) for m in expected]
    wait_until(lambda: all(w in setup.peer.received for w in wanted))
    wait_until(lambda: all(w in {p.read_bytes() for p in setup.out_dir.glob("*.hl7")} for w in wanted))


def test_each_destination_reports_its_own_status_and_attempts(setup: Setup) -> None:
    path = setup.root / "unique.hl7"
    path.write_bytes(adt("E2E-UNIQUE-1", "E2E-PERSON"))
    assert "MSA|AA|E2E-UNIQUE-1" in "".join(mllp_send(path, setup.port)).replace("\\r", "\r")

    def row() -> dict:
        return next(r for r in messages_json(setup.config) if r["control_id"] == "E2E-UNIQUE-1")

    wait_until(lambda: [d["status"] for d in row()["destinations"]] == ["SENT", "SENT"])
    found = row()
    assert found["status"] == "PROCESSED" and found["message_type"] == "ADT^A01"
    assert [(d["name"], d["attempts"]) for d in found["destinations"]] == [("archive", 1), ("lis", 1)]


def test_a_resent_message_is_acked_but_not_delivered_twice(setup: Setup) -> None:
    path = setup.root / "twice.hl7"
    path.write_bytes(adt("E2E-TWICE-1", "E2E-PERSON"))
    mllp_send(path, setup.port)
    assert "MSA|AA|E2E-TWICE-1" in "".join(mllp_send(path, setup.port)).replace("\\r", "\r")
    wait_until(
        lambda: (
            sorted(r["status"] for r in messages_json(setup.config) if r["control_id"] == "E2E-TWICE-1")
            == ["DUPLICATE", "PROCESSED"]
        )
    )
    wait_until(lambda: setup.peer.received.count(canonical(path.read_bytes())) == 1)
    time.sleep(0.3)
    assert setup.peer.received.count(canonical(path.read_bytes())) == 1


def test_many_concurrent_connections_are_each_answered_in_order(setup: Setup) -> None:
    def sender(n: int) -> list[str]:
        with Connection("127.0.0.1", setup.port) as conn:
            return [read_ack(conn.ask(adt(f"CONC-{n:02d}-{i}", f"CONC-{n:02d}"))).control_id for i in range(5)]

    with ThreadPoolExecutor(50) as pool:
        answered = list(pool.map(sender, range(50)))
    assert answered == [[f"CONC-{n:02d}-{i}" for i in range(5)] for n in range(50)]
    journaled = {r["control_id"] for r in messages_json(setup.config) if r["control_id"].startswith("CONC-")}
    assert len(journaled) == 250
