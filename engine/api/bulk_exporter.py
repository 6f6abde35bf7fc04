"""The daemon's Bulk Data exporter: runs export jobs one at a time in a thread, and removes expired ones.

A job reads the record a page at a time (engine/store/bulk_read.py) and appends each resource, as a read answers
it, to ``<export_dir>/<job>/<Type>-<n>.ndjson``; memory holds one page. It reports progress into the job's row
every few seconds, and a report that finds the row gone (DELETE) stops it and removes its files. A daemon that
stops leaves its job running; the next start accepts it again and it starts over (it reads the record as of its
transaction time, so the files come out the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Engine

from engine.domain.bulk_export import FILE_LINES, file_name, is_job_id
from engine.store import bulk_exports, bulk_read
from engine.store.bulk_exports import Job
from engine.store.database import writing
from engine.views import fhir, fhir_bulk

log = structlog.get_logger("huitong.fhir_bulk")
PAGE = 500  # resources read at a time
PERSONS = 500  # persons of a Group asked for at a time
REPORT_EVERY = 2.0  # seconds between progress reports (each one a write transaction)
SWEEP_EVERY = 60.0  # longest sleep of the exporter with no job (it wakes earlier for a kick-off or an expiry)
RETRY = 5.0  # seconds before the exporter tries again after the store failed it


class _Cancelled(Exception):
    """The job's row is gone: DELETE cancelled it."""


class _Stopping(Exception):
    """The daemon stops; the job stays running and starts over at the next start."""


class Exporter:
    def __init__(self, store: Engine, directory: Path, keep: float) -> None:
        self.store = store
        self.directory = directory
        self.keep = keep
        self._wake = asyncio.Event()
        self.stopping = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def folder(self, job_id: str) -> Path:
        return self.directory / job_id

    def remove_files(self, job_id: str) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    async def running(self, _app: web.Application) -> AsyncIterator[None]:
        """The exporter's life as an aiohttp cleanup context: it runs while the FHIR API listens."""
        task = asyncio.create_task(self._loop())
        yield
        self.stopping.set()
        self._wake.set()
        await task

    async def _loop(self) -> None:
        await asyncio.to_thread(self._tidy)
        while not self.stopping.is_set():
            self._wake.clear()  # before the work: a wake (a kick-off, the stop) that comes during it is kept
            pause = SWEEP_EVERY
            try:
                pause = min(pause, await asyncio.to_thread(self._sweep))
                job = await asyncio.to_thread(self._claim)
                if job is not None:
                    await asyncio.to_thread(self._export, job)
                    continue
            except Exception:  # the store could not be reached: try again soon
                log.exception("bulk export exporter failed")
                pause = RETRY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    def _tidy(self) -> None:
        """At start: jobs left running start over, and folders without a job are removed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with writing(self.store) as conn:
            for job_id in bulk_exports.requeue_running(conn):
                self.remove_files(job_id)
        folders = [p.name for p in self.directory.iterdir() if p.is_dir() and is_job_id(p.name)]
        with self.store.connect() as conn:
            kept = bulk_exports.known(conn, folders)
        for name in set(folders) - kept:
            self.remove_files(name)

    def _claim(self) -> Job | None:
        # it reads, then writes: on SQLite the write lock is taken first (a WAL read snapshot cannot be upgraded)
        with writing(self.store) as conn:
            return bulk_exports.claim(conn)

    def _sweep(self) -> float:
        """Remove expired jobs and their files; the seconds until the next one expires (inf: none)."""
        with writing(self.store) as conn:
            gone = bulk_exports.expired(conn, time.time())
            for job_id in gone:
                bulk_exports.remove(conn, job_id)
            following = bulk_exports.next_expiry(conn)
        for job_id in gone:
            self.remove_files(job_id)
        if gone:
            log.info("bulk exports expired", jobs=len(gone))
        return float("inf") if following is None else max(0.0, following - time.time())

    def _export(self, job: Job) -> None:
        self.remove_files(job.id)
        self.folder(job.id).mkdir(parents=True)
        started = time.monotonic()
        try:
            output = _Writer(self, job).run()
        except _Stopping:
            return
        except _Cancelled:
            self.remove_files(job.id)
            log.info("bulk export cancelled", job=job.id)
            return
        except Exception as exc:
            if self._cancelled(job.id):  # DELETE removed the folder under the writer
                self.remove_files(job.id)
                return
            log.exception("bulk export failed", job=job.id)
            self.remove_files(job.id)
            self._finish(job.id, [], f"the export failed ({type(exc).__name__}); ask again")
            return
        self._finish(job.id, output, None)
        log.info(
            "bulk export completed",
            job=job.id,
            files=len(output),
            resources=sum(o["count"] for o in output),
            seconds=round(time.monotonic() - started, 3),
        )

    def _cancelled(self, job_id: str) -> bool:
        with self.store.connect() as conn:
            return bulk_exports.get(conn, job_id) is None

    def _finish(self, job_id: str, output: Sequence[dict[str, Any]], error: str | None) -> None:
        with writing(self.store) as conn:
            kept = bulk_exports.finish(conn, job_id, output, error, time.time() + self.keep)
        if not kept:  # cancelled while finishing
            self.remove_files(job_id)


class _Writer:
    """One job's files: each type's resources, FILE_LINES to a file."""

    def __init__(self, exporter: Exporter, job: Job) -> None:
        self.exporter = exporter
        self.job = job
        self.output: list[dict[str, Any]] = []
        self.file: IO[bytes] | None = None
        self.total = 0
        self.kind = ""
        self.reported = time.monotonic()

    def run(self) -> list[dict[str, Any]]:
        persons: list[str] | None = None
        if self.job.level == "group":
            with self.exporter.store.connect() as conn:
                team = fhir_bulk.team(conn, self.job.group_id or "")
            persons = sorted(team.members) if team is not None else []
        for kind in self.job.types:
            self.kind = kind
            try:
                for chunk in _chunks(persons):
                    self._type(kind, chunk)
            finally:
                self._close()
        return self.output

    def _type(self, kind: str, persons: list[str] | None) -> None:
        after = ""
        while True:
            self._check()
            with self.exporter.store.connect() as conn:
                found = bulk_read.page(
                    conn,
                    kind,
                    until=self.job.transaction_time,
                    since=self.job.since,
                    persons=persons,
                    after=after,
                    limit=PAGE,
                )
            for stored in found:
                self._write(kind, orjson.dumps(fhir.resource(stored)) + b"\n")
            if len(found) < PAGE:
                return
            after = found[-1].id

    def _write(self, kind: str, line: bytes) -> None:
        current = self.output[-1] if self.output else None
        if self.file is None or current is None or current["type"] != kind or current["count"] >= FILE_LINES:
            self._close()
            part = 1 + sum(o["type"] == kind for o in self.output)
            name = file_name(kind, part)
            self.file = (self.exporter.folder(self.job.id) / name).open("xb")
            self.output.append({"type": kind, "name": name, "count": 0})
        self.file.write(line)
        self.output[-1]["count"] += 1
        self.total += 1

    def _close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _check(self) -> None:
        """Stop when the daemon stops; every REPORT_EVERY seconds, report progress and notice a cancellation."""
        if self.exporter.stopping.is_set():
            raise _Stopping
        if time.monotonic() - self.reported < REPORT_EVERY:
            return
        self.reported = time.monotonic()
        with writing(self.exporter.store) as conn:
            if not bulk_exports.report(conn, self.job.id, f"{self.total} resources written; now {self.kind}"):
                raise _Cancelled


def _chunks(persons: list[str] | None) -> list[list[str] | None]:
    """A Group's persons PERSONS at a time; everyone (None) in one go."""
    if persons is None:
        return [None]
    return [persons[i : i + PERSONS] for i in range(0, len(persons), PERSONS)]
