"""The people and supervision parts of the operators' listener (docs/console.md): the management API's MPI,
record, tasks, indicators and audit areas, their console pages and the static files."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from engine.api.audit_batch import AuditBatch
from engine.api.console import Part
from engine.api.manage import audit, indicators, mpi, records
from engine.api.manage.people_service import People
from engine.api.pages import audit as audit_page
from engine.api.pages import indicators as indicators_page
from engine.api.pages import mpi as mpi_page
from engine.api.pages import render
from engine.api.pages import resident as resident_page
from engine.config import EngineConfig
from engine.pipeline.mpi import MpiResolver


def parts(store: Engine, config: Callable[[], EngineConfig], resolver: Callable[[], MpiResolver]) -> list[Part]:
    """The parts, reading the configuration and MPI of the moment (a reload counts)."""
    people = People(store, config, resolver, AuditBatch(store))
    return [
        mpi.part(people),
        records.part(people),
        indicators.part(people),
        audit.part(people),
        mpi_page.part(people),
        resident_page.part(people),
        indicators_page.part(people),
        audit_page.part(people),
        render.static,
    ]
