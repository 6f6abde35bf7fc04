"""A message that carries several patients (BAR^P02, one PATIENT group each) is filed under each patient's person."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, select

from engine.config.mappings import load_mappings
from engine.domain.delivery import Delivery, settle
from engine.domain.outcome import DeliveryStatus
from engine.domain.retry import RetryPolicy
from engine.pipeline.care_loop import CareLoop
from engine.pipeline.mapping import map_message
from engine.pipeline.stages.record import RecordStage
from engine.store.schema import record_resources
from tests.support.corpus import SAMPLES
from tests.support.daemon import MAPPINGS
from tests.support.mpi import shipped_resolver

PURGE = SAMPLES / "county" / "families" / "bar_p02_month_end_purge.hl7"


def test_each_patient_group_of_a_bar_p02_is_filed_under_its_own_person(store: Engine) -> None:
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors
    policy = RetryPolicy(5, "fixed", 1.0, 1.0, 2.0)

    def mapper(d: Delivery):  # type: ignore[no-untyped-def]
        return map_message(mappings, ["hl7v2/financial"], d.raw, format="hl7v2", charset="gb18030")

    stage = RecordStage("his-billing", "his.county", mapper, shipped_resolver(), CareLoop(), policy)
    row = Delivery(1, 1, "his-billing", "record", "QUEUED", 0, PURGE.read_bytes(), "BAR^P02", "C1")
    result = settle(row, asyncio.run(stage.send(row)), policy, 0.0)
    with store.begin() as conn:
        [written] = stage.write(conn, [result])
    assert written.status == DeliveryStatus.SENT
    with store.connect() as conn:
        rows = conn.execute(
            select(record_resources.c.person_id, record_resources.c.type, record_resources.c.source_key)
        ).all()
    by_person: dict[str, set[tuple[str, str]]] = {}
    for person, kind, key in rows:
        by_person.setdefault(person, set()).add((kind, key))
    # two residents, each with their own Patient, visit and purged account; neither holds the other's
    assert sorted(sorted(held) for held in by_person.values()) == [
        [("Account", "ACCT|JS260910001"), ("Encounter", "V260910001"), ("Patient", "")],
        [("Account", "ACCT|ZH260915003"), ("Encounter", "ZY260915003"), ("Patient", "")],
    ]
