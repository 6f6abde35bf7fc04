from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from engine.config.contract import load_contract_reader
from engine.domain.contract import (
    Contract,
    ContractEvent,
    ContractReader,
    Doctor,
    EventKind,
    Package,
    PackageItem,
    Period,
    Resident,
    Status,
    Team,
    Termination,
    TerminationReason,
)

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
SAMPLES = ROOT / "samples" / "phs" / "contracts"


@pytest.fixture(scope="session")
def reader() -> ContractReader:
    return load_contract_reader(MAPPINGS)


def contract(version: int = 1, status: Status = Status.ACTIVE, **changes: object) -> Contract:
    """An invented resident's contract for 2025, in force unless told otherwise."""
    base = Contract(
        contract_id="SC1",
        version=version,
        source_system="chis.test",
        status=status,
        resident=Resident("360426195803140024", "李秀英"),
        organisation_code="H36042601",
        team=Team("T1", "第一团队"),
        doctor=Doctor("D1", "刘志强"),
        period=Period(date(2025, 1, 1), date(2025, 12, 31)),
        packages=(Package("JC01", "基础服务包", items=(PackageItem("GXY-SF", "高血压随访", 4),)),),
        termination=(
            Termination(date(2025, 7, 1), TerminationReason.MOVED_OUT) if status is Status.TERMINATED else None
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def event(kind: EventKind, after: Contract) -> ContractEvent:
    return ContractEvent(after.contract_id, kind, after.version, datetime(2025, 1, 1, 9, 0), after)
