"""Store work for the HTTP surfaces: a job on a connection, run in a thread so the event loop keeps serving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine

from engine.store.database import writing

T = TypeVar("T")


async def in_thread(store: Engine, job: Callable[[Connection], T], *, write: bool = False) -> T:
    """``job(connection)`` in a read transaction, or a write transaction committed on return (``write``)."""

    def run() -> T:
        with writing(store) if write else store.connect() as conn:
            return job(conn)

    return await asyncio.to_thread(run)
