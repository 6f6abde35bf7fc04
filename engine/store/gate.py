"""The writers of one SQLite file take turns at a lock file beside it, and a waiting one is woken at once.

SQLite's own wait for its write lock (busy_timeout) polls: it sleeps 1, 2, 5, 10 ... up to 100 ms between looks,
and a writer that commits and begins again at once wins over one asleep, so a bulk writer in another process (a
backfill, the record process) could keep the daemon's intake, and its senders' ACKs, waiting for a second. The
store writers of those processes take an exclusive ``flock`` on ``<file>-gate`` around each transaction instead:
the kernel wakes a waiter the moment the holder lets go, and the writer that yields (engine/runtime/pacing.py)
lets it in. The lock goes with the process that holds it, a killed one included. PostgreSQL has no single write
lock, and no gate.
"""

from __future__ import annotations

import fcntl
import os

from sqlalchemy import Engine


class Gate:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def enter_now(self) -> bool:
        """Take the gate if it is free; False when another writer has it."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def enter(self) -> None:
        """Wait for the gate and take it (blocks: call it off the event loop)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def leave(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def of(engine: Engine) -> Gate | None:
    """The gate of a store that is an SQLite file; None for PostgreSQL and in-memory SQLite."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Gate(f"{url.database}-gate")
