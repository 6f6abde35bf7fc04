"""The writers of one SQLite file take turns at a lock file beside it, live intake first, and a waiting one is
woken at once.

SQLite's own wait for its write lock (busy_timeout) polls: it sleeps 1, 2, 5, 10 ... up to 100 ms between looks,
and a writer that commits and begins again at once wins over one asleep, so a bulk writer in another process (a
backfill, the record process) could keep the daemon's intake, and its senders' ACKs, waiting for a second. The
store writers of those processes take an exclusive ``flock`` on ``<file>-gate`` around each transaction instead:
the kernel wakes a waiter the moment the holder lets go. A writer that must wait for live intake's sake (one
that ``yields``) first looks at ``<file>-gate-want``, which live intake holds while it waits for the gate, and
waits until it is let go: while the intake waits, no bulk transaction begins, so it waits for one at most.
Locks go with the process that holds them, a killed one included. PostgreSQL has no single write lock, and no
gate.
"""

from __future__ import annotations

import fcntl
import os

from sqlalchemy import Engine


class Gate:
    def __init__(self, path: str, *, yields: bool) -> None:
        self.path = path
        self.yields = yields
        self._gate = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._want = os.open(f"{path}-want", os.O_RDWR | os.O_CREAT, 0o600)

    def enter_now(self) -> bool:
        """Take the gate if it is free (and, yielding, live intake does not want it); False otherwise."""
        if self.yields and not _try(self._want, fcntl.LOCK_SH):
            return False
        if self.yields:
            fcntl.flock(self._want, fcntl.LOCK_UN)
        return _try(self._gate, fcntl.LOCK_EX)

    def enter(self) -> None:
        """Wait for the gate and take it (blocks: call it off the event loop)."""
        if self.yields:  # after live intake, if it waits
            fcntl.flock(self._want, fcntl.LOCK_SH)
            fcntl.flock(self._want, fcntl.LOCK_UN)
            fcntl.flock(self._gate, fcntl.LOCK_EX)
            return
        fcntl.flock(self._want, fcntl.LOCK_EX)  # said while waiting: no yielding writer begins meanwhile
        try:
            fcntl.flock(self._gate, fcntl.LOCK_EX)
        finally:
            fcntl.flock(self._want, fcntl.LOCK_UN)

    def leave(self) -> None:
        fcntl.flock(self._gate, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._gate)
        os.close(self._want)


def _try(fd: int, how: int) -> bool:
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def of(engine: Engine, *, yields: bool) -> Gate | None:
    """The gate of a store that is an SQLite file; None for PostgreSQL and in-memory SQLite. ``yields``: a bulk
    writer's, which lets live intake go first."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Gate(f"{url.database}-gate", yields=yields)
