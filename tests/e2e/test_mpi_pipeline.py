"""The MPI in the running daemon: a second hospital's registration without the resident ID joins the person,
and the link reaches a channel that subscribes to the MPI's changes."""

from __future__ import annotations

import json
from pathlib import Path

from engine.connectors.mllp.client import exchange
from tests.support.corpus import SAMPLES
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config
from tests.support.store_view import destination_statuses

ADT = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()
RESIDENT_ID = "110101199003071233"  # PID-3 of the sample
# The same man registered at a township health centre: its own number, no resident ID, his phone and birth date.
TOWNSHIP = (
    "MSH|^~\\&|HIS|乡镇卫生院|HUITONG|医共体平台|20250401080000||ADT^A04^ADT_A01|TOWNSHIP-0001|P|2.4"
    "||||||UNICODE UTF-8\r"
    "EVN|A04|20250401080000\r"
    "PID|1||T-778^^^TWN^PI||张三^^^^^^L||19900307|M|||幸福路1号^^北京市^北京市^100010^CHN^H||13800000000^PRN^CP\r"
    "PV1|1|O|全科^^^乡镇卫生院|||||||GP|||||||||V-T1^^^TWN^VN\r"
).encode()


def test_a_registration_without_the_resident_id_joins_the_person_and_subscribers_hear_of_it(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    county, township = free_port(), free_port()
    outbox = tmp_path / "mpi-out"
    record = {"map": ["hl7v2/adt"], "destinations": [{"name": "record", "type": "record", "order_by": "person"}]}
    config = write_config(
        tmp_path,
        store_url,
        {
            "county": {
                "source_system": "his.county-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{county}", "encoding": "gb18030"},
                **record,
            },
            "township": {
                "source_system": "his.township",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{township}"},
                **record,
            },
            "mpi-out": {
                "source": {"type": "mpi-events", "events": ["link", "merge"]},
                "destinations": [
                    {"name": "file", "type": "file", "path": str(outbox), "filename": "{message_id}.json"}
                ],
            },
        },
        log_dir / f"mpi-{tmp_path.name}.jsonl",
    )
    with Daemon(config, ports=(county, township)):
        [ack] = exchange("127.0.0.1", county, [ADT])
        assert b"MSA|AA|" in ack
        wait_until(lambda: "SENT" in destination_statuses(config, channel="county"))
        [ack] = exchange("127.0.0.1", township, [TOWNSHIP])
        assert b"MSA|AA|" in ack
        events = wait_until(lambda: list(outbox.glob("*.json")), timeout=30)
    shown = json.loads(huitong("mpi", "show", RESIDENT_ID, "--json", config=config).stdout)
    assert {r["source_system"] for r in shown["records"]} == {"his.county-hospital", "his.township"}
    [event] = [json.loads(p.read_text(encoding="utf-8")) for p in events]
    assert event["event"] == "mpi.link"
    assert event["record"]["source_system"] == "his.township"
    assert event["after"]["person"] == shown["person"]
    assert {"system": "urn:oid:2.16.156.10011.1.3", "value": RESIDENT_ID} in event["after"]["identifiers"]
