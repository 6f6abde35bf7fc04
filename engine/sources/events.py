"""Internal sources: the engine's own changes, journaled as messages of these channels and routed like any other.

This is where the loop closes back into the journal: a change of a person in the MPI (``mpi-events``), of a
family-doctor contract (``contract-events``), a hospital service of a contracted resident (``service-events``) and a
care task (``task-events``) become messages when the stage that made them commits (pipeline/mpi_events.py,
pipeline/care_events.py); the sweep routes them to these channels' destinations. There is nothing to listen to or
poll, so starting one only says so.
"""

from __future__ import annotations

from typing import Any

import structlog

from engine.config import ContractEventsSource, MpiEventsSource, ServiceEventsSource, TaskEventsSource
from engine.sources.component import Component, Context, register

log = structlog.get_logger("huitong.channel")


class Internal:
    async def stop(self) -> None:
        return None

    def senders(self, now: float) -> int:
        return 0


async def start(context: Context) -> Internal:
    log.info("channel started", channel=context.spec.channel, source=context.spec.source.type)
    return Internal()


def _format(_: Any) -> str:
    return "hl7v2"


for spec in (MpiEventsSource, ContractEventsSource, ServiceEventsSource, TaskEventsSource):
    register(Component(spec, start, format=_format))
