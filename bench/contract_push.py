"""Contract loop benchmark: building the HIS push, and applying contracts end to end on SQLite.

1. ADT^A31 for one contract change (`engine.domain.contract.push.his_a31`: MSH, EVN, PID, PD1, two ROL, PV1, ZFD,
   GB 18030), µs per message. **Peer, same run**: hl7apy 1.3 building the same segments and fields (tolerant
   validation) and encoding them, alternating with ours contract by contract.
2. `apply_contracts` on a SQLite store: each contract a new resident's first version (the MPI finds or creates the
   person, the register keeps it, the record files Patient, EpisodeOfCare and CareTeam, the change is audited and
   journaled for three contract-events channels: hl7v2, fhir, json), then every contract again (a poll of an
   unchanged list: DUPLICATE, nothing written), then every contract terminated (version 2). Contracts per second,
   batches of 50 in one transaction, COMMIT included.

    .venv/bin/python bench/contract_push.py [--contracts 2000] [--out bench/results/contract_push.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hl7apy.consts import VALIDATION_LEVEL  # noqa: E402
from hl7apy.core import Message, Segment  # noqa: E402

from bench.machine import cpu_model, versions  # noqa: E402
from engine.config import ContractEventsSource  # noqa: E402
from engine.config.contract import load_service_rules  # noqa: E402
from engine.config.mpi import SHIPPED, load_matcher  # noqa: E402
from engine.domain.contract import (  # noqa: E402
    Contract,
    Doctor,
    Package,
    PackageItem,
    Period,
    Resident,
    Status,
    Team,
    Termination,
    TerminationReason,
)
from engine.domain.contract.push import his_a31  # noqa: E402
from engine.pipeline.care_events import CareEvents  # noqa: E402
from engine.pipeline.contracts import apply_contracts  # noqa: E402
from engine.pipeline.mpi import MpiResolver  # noqa: E402
from engine.pipeline.record import Provenance  # noqa: E402
from engine.store.database import migrate, open_engine  # noqa: E402

BATCH = 50
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽华", "海燕", "国平", "春梅", "文杰", "玉珍"]
STAMP = datetime(2026, 3, 1, 9, 0).astimezone()


def resident_id(n: int) -> str:
    body = f"360426{1940 + n % 60}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * 2 ** (17 - i) % 11 for i, d in enumerate(body)) % 11]


def contract(n: int) -> Contract:
    name = SURNAMES[n % len(SURNAMES)] + GIVEN[n // len(SURNAMES) % len(GIVEN)]
    items = (PackageItem("GXY-SF", "高血压患者面对面随访", 4), PackageItem("LNR-TJ", "老年人健康体检", 1))
    return Contract(
        contract_id=f"SC{n:08d}",
        version=1,
        source_system="phs.county",
        status=Status.ACTIVE,
        resident=Resident(resident_id(n), name),
        organisation_code="339901101",
        team=Team("339901101-T01", "城关镇卫生院家庭医生第一团队"),
        doctor=Doctor(f"D{n % 40:04d}", "刘志强"),
        period=Period(date(2026, 1, 1), date(2027, 12, 31)),
        packages=(Package("JC01", "基础服务包", items=items),),
        signed_on=date(2025, 12, 20),
    )


def ours(c: Contract) -> bytes:
    return his_a31(
        c,
        control_id=f"C{c.contract_id}",
        timestamp=STAMP,
        sending_app="HUITONG",
        sending_facility="MC360426",
        receiving_app="HIS",
        receiving_facility="H36042601",
        on=date(2026, 3, 1),
        remaining={"GXY-SF": 3, "LNR-TJ": 1},
    )


def peer(segments: list[list[str]]) -> bytes:
    """hl7apy filling the same fields (a first repetition set, later ones added) and encoding the message."""
    message = Message("ADT_A05", version="2.4", validation_level=VALIDATION_LEVEL.TOLERANT)
    for fields in segments:
        name = fields[0]
        first = 1
        if name == "MSH":
            segment, first = message.msh, 3  # MSH-1 is the separator, MSH-2 the encoding characters
            values = fields[2:]
        else:
            values = fields[1:]
            if name == "ROL":
                segment = message.add_segment("ROL")
            elif name == "ZFD":
                segment = Segment("ZFD", version="2.4", validation_level=VALIDATION_LEVEL.TOLERANT)
                message.add(segment)
            else:
                segment = getattr(message, name.lower())
        for index, value in enumerate(values, first):
            if not value:
                continue
            head, *more = value.split("~")
            setattr(segment, f"{name.lower()}_{index}", head)
            for repetition in more:
                segment.add_field(f"{name}_{index}").value = repetition
    return str(message.to_er7()).encode("gb18030")


def time_a31(contracts: list[Contract]) -> dict[str, Any]:
    parsed = [[s.split("|") for s in ours(c).decode("gb18030").strip("\r").split("\r")] for c in contracts]
    assert peer(parsed[0]) == ours(contracts[0]).rstrip(b"\r"), "the peer must build the same message"
    mine = theirs = 0.0
    for c, segments in zip(contracts, parsed, strict=True):
        start = time.perf_counter()
        ours(c)
        middle = time.perf_counter()
        peer(segments)
        theirs += time.perf_counter() - middle
        mine += middle - start
    n = len(contracts)
    return {
        "messages": n,
        "huitong_us_per_message": round(mine / n * 1e6, 1),
        "hl7apy_us_per_message": round(theirs / n * 1e6, 1),
        "speedup": round(theirs / mine, 1),
    }


def time_apply(contracts: list[Contract]) -> dict[str, Any]:
    matcher, errors = load_matcher(SHIPPED)
    assert matcher is not None, errors
    events = CareEvents(
        contracts={
            "his-contract-push": ContractEventsSource(
                type="contract-events", format="hl7v2", receiver_system="his.county-people-hospital"
            ),
            "emr-contract-push": ContractEventsSource(type="contract-events", format="fhir"),
            "gateway": ContractEventsSource(type="contract-events", format="json"),
        },
        node="bench",
        rules=load_service_rules(ROOT / "mappings"),
    )
    moved = Termination(date(2026, 7, 1), TerminationReason.MOVED_OUT)
    ended = [replace(c, version=2, status=Status.TERMINATED, termination=moved) for c in contracts]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{tmp}/contracts.db")
        migrate(engine)
        resolver = MpiResolver(matcher)
        for label, stream in (("signed", contracts), ("unchanged_again", contracts), ("terminated", ended)):
            start = time.perf_counter()
            results: dict[str, int] = {}
            for i in range(0, len(stream), BATCH):
                with engine.begin() as conn:
                    items = [(c, Provenance(c.source_system, None, "phs-contracts")) for c in stream[i : i + BATCH]]
                    for applied in apply_contracts(conn, items, time.time(), resolver, events):
                        results[applied.result.value] = results.get(applied.result.value, 0) + 1
            elapsed = time.perf_counter() - start
            out[label] = {"contracts_per_s": round(len(stream) / elapsed), "results": results}
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "contract_push.json"))
    args = parser.parse_args()
    contracts = [contract(n) for n in range(args.contracts)]
    out = {
        "cpu": cpu_model(),
        "versions": versions(["hl7apy", "sqlalchemy", "lxml"]),
        "a31": time_a31(contracts[:500]),
        "apply_sqlite": time_apply(contracts),
    }
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
