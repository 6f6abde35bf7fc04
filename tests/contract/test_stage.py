"""The contract stage beside a paced record worker, which writes a claimed batch in parts (engine/runtime/pacing.py):
each part applies its own deliveries' documents, and the parts after the first are not lost."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine

from engine.domain.contract import ContractReader, Status
from engine.domain.delivery import Delivery, Result
from engine.pipeline.care_events import CareEvents
from engine.pipeline.stages.contracts import ContractStage
from engine.store import contracts
from tests.contract.conftest import SAMPLES
from tests.support.mpi import shipped_resolver


def test_a_batch_written_in_parts_applies_every_part(store: Engine, reader: ContractReader) -> None:
    stage = ContractStage("phs-contracts", reader, shipped_resolver(), CareEvents(node="test"), None)
    documents = ["signing.xml", "termination.xml"]  # two contracts: one signed, one terminated
    deliveries = [
        Delivery(n, n, "phs-contracts", "contracts", "QUEUED", 0, (SAMPLES / name).read_bytes(), "contract", f"C{n}")
        for n, name in enumerate(documents, start=1)
    ]

    async def send_all() -> None:
        for delivery in deliveries:
            assert (await stage.send(delivery)).ok

    asyncio.run(send_all())
    sent = [Result(d.id, "SENT", 1, time.time()) for d in deliveries]
    for part in sent:  # a transaction each, as a paced worker records them
        with store.begin() as conn:
            assert stage.write(conn, [part]) == [part]
    with store.connect() as conn:
        for name, status in zip(documents, [Status.ACTIVE, Status.TERMINATED], strict=True):
            [found] = reader.read((SAMPLES / name).read_bytes())
            held = contracts.held(conn, found.source_system, found.contract_id)
            assert held is not None and held.status is status
