"""The store writer: one thread that owns every write of this process.

SQLite allows one writer at a time and its busy handler sleeps in milliseconds, so concurrent writers would
wreck ACK latency. Instead all writes queue here: intake batches first (group commit: everything that
arrived while the previous commit was in flight goes into the next one), then background jobs (delivery
claims and results, CLI-style maintenance). Messages journaled in one commit are processed in the next
one, so processing shares the intake's fsync instead of paying its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from engine.domain.outcome import MessageStatus
from engine.domain.routing import ChannelRoutes
from engine.pipeline.process import process
from engine.runtime.logging import get_logger
from engine.store import journal
from engine.store.journal import JournalEntry

T = TypeVar("T")
log = get_logger("huitong.writer")

IntakeDone = Callable[[Exception | None], None]
Woken = Callable[[set[tuple[str, str]]], None]


@dataclass(slots=True)
class _Intake:
    entries: list[JournalEntry]
    done: IntakeDone


class StoreWriter:
    PROCESS_BATCH = 256
    IDLE_PROCESS_DELAY = 0.005  # wait this long for more intake to share a commit with before processing alone

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, ChannelRoutes],
        *,
        node: str,
        on_woken: Woken,
        sweep_age: float | None,
    ) -> None:
        self._engine = engine
        self.node = node
        self.channels = dict(channels)
        self._on_woken = on_woken
        self._sweep_age = sweep_age
        self._cv = threading.Condition()
        self._intake: list[_Intake] = []
        self._jobs: deque[tuple[Callable[[Connection], Any], Future[Any]]] = deque()
        self._backlog: deque[JournalEntry] = deque()
        self._backlog_since = 0.0
        self._sweep_wanted = True
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="huitong-store-writer", daemon=True)

    # -- called from other threads ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, process the backlog, then end the thread."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join(timeout)

    def append(self, entries: list[JournalEntry], done: IntakeDone) -> None:
        """Journal entries in the next commit; `done` runs on the writer thread once they are durable."""
        with self._cv:
            self._intake.append(_Intake(entries, done))
            self._cv.notify()

    def submit(self, job: Callable[[Connection], T]) -> Future[T]:
        """Run job(connection) in its own transaction on the writer thread."""
        future: Future[T] = Future()
        with self._cv:
            if self._stopping and not self._thread.is_alive():
                future.set_exception(RuntimeError("store writer stopped"))
                return future
            self._jobs.append((job, future))
            self._cv.notify()
        return future

    def recover(self) -> int:
        """Process this node's RECEIVED messages left by an earlier run before new intake starts.

        Doing this first keeps a resent message behind its original, and a person's messages in order.
        """
        total = 0
        while True:

            def batch(conn: Connection) -> tuple[int, set[tuple[str, str]]]:
                found = self._leftovers(conn)
                return len(found), process(conn, found, self.channels, time.time()) if found else set()

            count, woken = self.submit(batch).result()
            total += count
            if woken:
                self._on_woken(woken)
            if count < self.PROCESS_BATCH:
                return total

    def request_sweep(self) -> None:
        """Look for RECEIVED messages left by a crash, another node or a reprocess request."""
        with self._cv:
            self._sweep_wanted = True
            self._cv.notify()

    # -- the writer thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._intake or self._jobs:
                        break
                    if self._backlog and time.time() - self._backlog_since >= self.IDLE_PROCESS_DELAY:
                        break
                    if self._sweep_wanted and not self._backlog:
                        break
                    if self._stopping:
                        break
                    self._cv.wait(self.IDLE_PROCESS_DELAY if self._backlog else None)
                intake, self._intake = self._intake, []
                job = self._jobs.popleft() if not intake and self._jobs else None
                stopping = self._stopping
            if intake:
                self._commit_intake(intake)
            elif job is not None:
                self._run_job(*job)
            elif self._backlog:
                self._process(self._take_backlog(self.PROCESS_BATCH))
            elif self._sweep_wanted:
                self._sweep()
            elif stopping:
                return

    def _take_backlog(self, n: int) -> list[JournalEntry]:
        taken = [self._backlog.popleft() for _ in range(min(n, len(self._backlog)))]
        self._backlog_since = time.time()
        return taken

    def _commit_intake(self, intake: list[_Intake]) -> None:
        entries = [e for item in intake for e in item.entries]
        backlog = self._take_backlog(max(len(entries), 32)) if self._backlog else []
        woken: set[tuple[str, str]] = set()
        error: Exception | None = None
        try:
            with self._engine.begin() as conn:
                journal.append(conn, entries, self.node)
                if backlog:
                    woken = process(conn, backlog, self.channels, time.time())
        except Exception as exc:
            if backlog:  # never let processing cost the intake its commit: retry the intake alone
                log.warning("processing with intake failed; retrying intake alone", error=str(exc))
                self._backlog.extendleft(reversed(backlog))
                backlog, woken = [], set()
                try:
                    with self._engine.begin() as conn:
                        journal.append(conn, entries, self.node)
                except Exception as again:
                    error = again
            else:
                error = exc
        if error is not None:
            log.error("journal commit failed", error=str(error), messages=len(entries))
        else:
            if not self._backlog:
                self._backlog_since = time.time()
            self._backlog.extend(e for e in entries if e.status == MessageStatus.RECEIVED)
        for item in intake:
            item.done(error)
        if woken:
            self._on_woken(woken)

    def _process(self, entries: list[JournalEntry]) -> None:
        try:
            with self._engine.begin() as conn:
                woken = process(conn, entries, self.channels, time.time())
        except Exception as exc:
            # The entries stay RECEIVED in the journal; the periodic sweep retries them.
            log.error("processing failed; will retry", error=str(exc), messages=len(entries))
            return
        if woken:
            self._on_woken(woken)

    def _leftovers(self, conn: Connection) -> list[JournalEntry]:
        """RECEIVED messages nobody is processing: this node's, and (shared store) other nodes' older ones."""
        older = None if self._sweep_age is None else time.time() - self._sweep_age
        return journal.received(conn, list(self.channels), node=self.node, older_than=older, limit=self.PROCESS_BATCH)

    def _sweep(self) -> None:
        try:
            with self._engine.begin() as conn:
                found = self._leftovers(conn)
                woken = process(conn, found, self.channels, time.time()) if found else set()
        except Exception as exc:
            log.error("sweep failed", error=str(exc))
            self._sweep_wanted = False
            return
        self._sweep_wanted = len(found) == self.PROCESS_BATCH
        if woken:
            self._on_woken(woken)

    def _run_job(self, job: Callable[[Connection], Any], future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            with self._engine.begin() as conn:
                result = job(conn)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
