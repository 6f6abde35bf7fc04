"""The audit trail: who changed what, when and why (reprocessing now; links and merges later)."""

from __future__ import annotations

import getpass
import time
from typing import Any

import orjson
from sqlalchemy import Connection

from engine.store.schema import audit


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    conn: Connection,
    action: str,
    target: str,
    detail: dict[str, Any],
    *,
    actor: str | None = None,
    at: float | None = None,
) -> None:
    conn.execute(
        audit.insert().values(
            at=time.time() if at is None else at,
            actor=actor or who(),
            action=action,
            target=target,
            detail=orjson.dumps(detail).decode(),
        )
    )
