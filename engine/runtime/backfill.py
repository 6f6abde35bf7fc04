"""`huitong backfill CHANNEL`: history read in bulk through the same pipeline as live traffic, resumable.

A reader turns what the channel's source can read in bulk into journal entries, each with the position after it
(the source component's bulk reader: a file source over a directory tree, a database source over a range of its
watermark, a fhir-pull source over a ``_lastUpdated`` range). The entries go
through the store writer in small transactions — routing and outbox rows as for live traffic, paced to leave the
store to the daemon's live intake first (engine/runtime/pacing.py) — and each commit
also stores the position (source_state, key ``backfill``), so a backfill killed at any moment resumes after its last
commit: nothing lost, nothing journaled twice. Delivery workers of the channel's destinations run in this process
(record destinations included), under a node name of their own, and reading waits while more than a couple of
batches are queued for them: the outbox and memory stay flat. See docs/backfill.md.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import structlog
from sqlalchemy import Connection, Engine

from engine.config import ChannelSpec, EngineConfig, FhirDestination, RecordDestination
from engine.domain.mapping import NoMapping
from engine.domain.masking import mask_text
from engine.domain.outcome import PENDING_DELIVERY, DeliveryStatus, MessageStatus
from engine.domain.routing import type_matches
from engine.pipeline.mapping import map_message
from engine.runtime import pacing, text_index
from engine.runtime.delivery import DeliveryWorker
from engine.runtime.pacing import Paced
from engine.runtime.progress import Progress
from engine.runtime.wiring import Wiring, routes_of
from engine.runtime.writer import StoreWriter
from engine.sources import Bulk, Reader, Refused, component_of
from engine.sources.reading import Item, OriginDone, Position, Unreadable
from engine.store import outbox, source_state

log = structlog.get_logger("huitong.backfill")

BATCH = 200  # messages per transaction (fewer while the daemon has live senders: engine/runtime/pacing.py)
PAUSE = 0.02  # seconds between full batches (no pacer, or no live senders), so the daemon's own work goes on
AHEAD = 2  # batches of due deliveries that may queue before reading waits for the workers
DOWN_AFTER = 10.0  # at the end, deliveries whose next try is further away than this are left to the daemon
LOOK = 0.1  # seconds between looks at the queue while waiting for deliveries
INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C
MAX_WAIT = 60.0  # default: seconds without any delivery settling after which the rest is left to the daemon
STATE_KEY = "backfill"
LISTED = 20  # error reasons and files kept in the checkpoint and shown in the summary
PER_FILE = 5  # errors shown per file by a dry run


@dataclass
class Counts:
    """What a backfill did, since it began (kept with its checkpoint, so a resumed run reports the whole)."""

    files: int = 0
    read: int = 0
    journaled: int = 0  # PROCESSED: routed to the destinations
    filtered: int = 0
    duplicates: int = 0
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error_files: list[str] = field(default_factory=list)

    def error(self, origin: str, reason: str) -> None:
        self.errors += 1
        reason = reason[:160]
        if reason in self.reasons or len(self.reasons) < LISTED:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
        else:
            self.reasons["(other reasons)"] = self.reasons.get("(other reasons)", 0) + 1
        if origin not in self.error_files and len(self.error_files) < LISTED:
            self.error_files.append(origin)

    def add(self, items: list[Item]) -> None:
        for item in items:
            self.read += 1
            status = item.entry.status
            if status == MessageStatus.PROCESSED:
                self.journaled += 1
            elif status == MessageStatus.FILTERED:
                self.filtered += 1
            elif status == MessageStatus.DUPLICATE:
                self.duplicates += 1
            elif status == MessageStatus.ERROR:
                self.error(item.origin, item.entry.error or "rejected")

    def copy(self) -> Counts:
        return Counts(**{**asdict(self), "reasons": dict(self.reasons), "error_files": list(self.error_files)})


@dataclass
class State:
    what: str
    position: Position = field(default_factory=dict)
    done: bool = False
    first_id: int | None = None  # the backfill's first message: its deliveries are those of ids from here on
    counts: Counts = field(default_factory=Counts)

    def dumps(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def loads(cls, text: str) -> State:
        data = orjson.loads(text)
        return cls(data["what"], data["position"], data["done"], data["first_id"], Counts(**data["counts"]))


@dataclass(frozen=True)
class Failure:
    """Deliveries of the backfill's messages that share a status, a destination and a reason."""

    status: str
    destination: str
    reason: str
    count: int
    files: list[str]  # where the first few of them came from


@dataclass
class Outcome:
    state: State
    already_done: bool
    seconds: float
    delivered: dict[str, int]  # outbox status -> rows, for the backfill's messages
    left_queued: bool  # deliveries remain for the daemon (a destination down, or failing for max_wait)
    interrupted: bool = False  # stopped by SIGINT/SIGTERM at a checkpoint; --resume continues
    failures: list[Failure] = field(default_factory=list)  # deliveries not SENT, by status and reason
    paced: int = 0  # transactions that left the store to live senders first (engine/runtime/pacing.py)


def load_state(conn: Connection, channel: str) -> State | None:
    text = source_state.read(conn, channel).get(STATE_KEY)
    return State.loads(text) if text else None


def plan(state: State | None, what: str, *, resume: bool, restart: bool) -> State:
    """The state to start from: the checkpoint to resume, or a new backfill. Refused when that would leave an
    unfinished backfill behind (or resume one over another path)."""
    if state is None or restart:
        return State(what)
    if state.what == what and (state.done or resume):
        return state
    if state.done:
        return State(what)
    if resume:
        raise Refused(
            f"the unfinished backfill of this channel reads {state.what}, not {what}; resume it with "
            f"--resume alone, or start over with --restart"
        )
    raise Refused(
        f"a backfill of this channel over {state.what} is unfinished; continue it with --resume, or "
        f"start over with --restart (the journal's duplicate detection skips what it already has)"
    )


class Backfill:
    def __init__(
        self,
        config: EngineConfig,
        spec: ChannelSpec,
        reader: Reader,
        engine: Engine,
        *,
        batch: int,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.config, self.spec, self.reader, self.engine, self.batch = config, spec, reader, engine, batch
        self.max_wait = max_wait
        self.node = f"{config.node}/backfill"
        self.workers: list[DeliveryWorker] = []
        self.interrupted = False
        self.pacer = pacing.of(engine)
        self._paced = Paced(self.pacer, batch)

    def interrupt(self) -> None:
        """SIGINT/SIGTERM: stop at the next checkpoint (the batch being committed is kept)."""
        if not self.interrupted:
            log.warning("backfill interrupted: stopping at the next checkpoint", channel=self.spec.channel)
        self.interrupted = True

    async def run(self, state: State) -> Outcome:
        started = time.monotonic()
        already_done = state.done
        if already_done:
            with self.engine.connect() as conn:
                delivered = self._statuses(conn, state)
                failures = self._failures(conn, state)
            if not any(status in PENDING_DELIVERY for status in delivered):  # nothing to do: start nothing
                return Outcome(state, True, time.monotonic() - started, delivered, False, failures=failures)
        # No sender waits on these commits: commit inline.
        wiring = Wiring(
            self.config,
            self.engine,
            node=self.node,
            channels={self.spec.channel: self.spec},
            on_woken=self._woken,
            pacer=self.pacer,
        )
        wiring.start(recover=True)  # what a killed backfill held and had journaled
        writer = wiring.writer
        self.workers = [wiring.worker(self.spec, dest) for dest in self.spec.destinations]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.interrupt)
        try:
            if not already_done:
                await self._read(writer, state)
            left_queued = await self._drain(state)
        finally:
            await asyncio.gather(*(w.stop() for w in self.workers))
            await wiring.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        with self.engine.connect() as conn:
            delivered = self._statuses(conn, state)
            failures = self._failures(conn, state)
        seconds = time.monotonic() - started
        paced = self.pacer.paced if self.pacer else 0
        return Outcome(state, already_done, seconds, delivered, left_queued, self.interrupted, failures, paced)

    def _woken(self, _: object) -> None:
        for worker in self.workers:
            worker.wake()

    async def _read(self, writer: StoreWriter, state: State) -> None:
        total = self.reader.remaining(state.position)
        progress = Progress(f"backfill {self.spec.channel}", total, unit=self.reader.unit)
        batch: list[Item] = []
        try:
            for read in self.reader.read(state.position):
                if isinstance(read, Item):
                    batch.append(read)
                    if len(batch) >= self._paced.rows():
                        await self._commit(writer, state, batch)
                        batch = []
                        if self.interrupted:
                            return
                elif isinstance(read, Unreadable):
                    state.counts.error(read.origin, read.reason)
                else:
                    state.counts.files += 1
                    progress.update(1)
            state.done = True
            await self._commit(writer, state, batch)
        finally:
            progress.close()

    async def _commit(self, writer: StoreWriter, state: State, batch: list[Item]) -> None:
        """The batch and the position after it, in one transaction, in the pacer's turn (a full batch, with no
        live senders to pace for, is followed by a pause); then a wait for the workers while too much is queued
        for them."""
        position = batch[-1].position if batch else state.position
        after = State(state.what, position, state.done, state.first_id, state.counts.copy())

        def also(conn: Connection) -> None:  # after routing: the entries have their ids and statuses
            after.counts.add(batch)
            if after.first_id is None and batch:
                after.first_id = batch[0].entry.id
            source_state.write(conn, self.spec.channel, {STATE_KEY: after.dumps()})

        async with self._paced.turn(len(batch)):
            await writer.append_with([i.entry for i in batch], also)
            await text_index.catch_up(writer)  # a daemon may not be running: searches find the batch by the index
        state.position, state.first_id, state.counts = after.position, after.first_id, after.counts
        if not self._paced.active():
            await asyncio.sleep(PAUSE)
        if self.workers and state.first_id is not None:
            while not self.interrupted and await asyncio.to_thread(self._due, state, time.time()) > AHEAD * self.batch:
                await asyncio.sleep(LOOK)

    def _pending(self, conn: Connection, state: State, due_by: float | None = None) -> int:
        assert state.first_id is not None
        return outbox.node_pending(conn, self.spec.channel, self.node, state.first_id, due_by)

    def _due(self, state: State, now: float) -> int:
        with self.engine.connect() as conn:
            return self._pending(conn, state, now)

    def _failures(self, conn: Connection, state: State) -> list[Failure]:
        """The backfill's deliveries that are not SENT, grouped by status, destination and reason."""
        if state.first_id is None:
            return []
        rows = outbox.node_unsent(conn, self.spec.channel, self.node, state.first_id)
        counts: Counter[tuple[str, str, str]] = Counter()
        files: dict[tuple[str, str, str], list[str]] = {}
        for status, destination, error, source in rows:
            key = (status, destination, (error or ("not tried yet" if status == DeliveryStatus.QUEUED else ""))[:160])
            counts[key] += 1
            kept = files.setdefault(key, [])
            origin = self.reader.origin_of(source)
            if len(kept) < PER_FILE and origin not in kept:
                kept.append(origin)
        return [Failure(*key, n, files[key]) for key, n in counts.most_common()]

    def _statuses(self, conn: Connection, state: State) -> dict[str, int]:
        if state.first_id is None:
            return {}
        return outbox.node_statuses(conn, self.spec.channel, self.node, state.first_id)

    async def _drain(self, state: State) -> bool:
        """Wait until every delivery of the backfill is done (SENT, SKIPPED or DEAD); True when some are left for
        the daemon: their next try is more than DOWN_AFTER seconds away (a destination is down), none settled for
        max_wait seconds (they keep failing), or the backfill was interrupted."""
        if not self.workers or state.first_id is None:
            return False

        def look() -> tuple[int, int]:
            now = time.time()
            with self.engine.connect() as conn:
                return self._pending(conn, state), self._pending(conn, state, now + DOWN_AFTER)

        pending, soon = await asyncio.to_thread(look)
        if not pending:
            return False
        progress = Progress(f"backfill {self.spec.channel} deliveries", pending, unit="delivery")
        settled = time.monotonic()
        try:
            while pending:
                if not soon or self.interrupted or time.monotonic() - settled > self.max_wait:
                    return True
                await asyncio.sleep(LOOK)
                now_pending, soon = await asyncio.to_thread(look)
                if now_pending < pending:
                    progress.update(pending - now_pending)
                    settled = time.monotonic()
                pending = now_pending
            return False
        finally:
            progress.close()


def reader_of(config: EngineConfig, spec: ChannelSpec, bulk: Bulk) -> Reader:
    read = component_of(spec.source).reader
    if read is None:
        kind = spec.source.type
        raise Refused(
            f"channel {spec.channel} has a {kind} source; backfill reads file, database and fhir-pull sources"
        )
    return read(spec, config, bulk)


def start(engine: Engine, reader: Reader, *, resume: bool, restart: bool) -> State:
    with engine.connect() as conn:
        stored = load_state(conn, reader.channel)
    if resume and stored is None:
        log.info("nothing to resume; starting the backfill", channel=reader.channel)
    return plan(stored, reader.what, resume=resume, restart=restart)


def recorded(engine: Engine, channel: str) -> str | None:
    """What the channel's last backfill read (a path, or a database's since..until range), for `--resume` without
    saying it again (finished: nothing to do)."""
    with engine.connect() as conn:
        stored = load_state(conn, channel)
    return stored.what if stored is not None else None


# -- dry run --------------------------------------------------------------------------------------------------
@dataclass
class DryRun:
    files: int = 0
    messages: int = 0
    types: Counter[str] = field(default_factory=Counter)
    filtered: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    errors: dict[str, list[str]] = field(default_factory=dict)  # file -> its first reasons (intake and mapping)
    error_counts: Counter[str] = field(default_factory=Counter)  # file -> errors
    skipped: Counter[str] = field(default_factory=Counter)  # why the record would skip them -> messages
    notes: dict[str, list[str]] = field(default_factory=dict)  # file -> its first values the mapping leaves out
    note_counts: Counter[str] = field(default_factory=Counter)

    def error(self, origin: str, reason: str) -> None:
        _keep(self.errors, self.error_counts, origin, reason)

    def note(self, origin: str, note: str) -> None:
        _keep(self.notes, self.note_counts, origin, note)


def _keep(kept: dict[str, list[str]], counts: Counter[str], origin: str, text: str) -> None:
    counts[origin] += 1
    first = kept.setdefault(origin, [])
    if len(first) < PER_FILE:
        first.append(text)


def dry_run(config: EngineConfig, spec: ChannelSpec, reader: Reader) -> DryRun:
    """Read and map every message as the backfill would, writing nothing anywhere."""
    report = DryRun()
    accepts = routes_of(spec).accepts
    maps = bool(spec.map) or any(isinstance(d, (RecordDestination, FhirDestination)) for d in spec.destinations)
    kind = component_of(spec.source).format(spec.source)
    default_charset = getattr(spec.source, "encoding", None)
    progress = Progress(f"backfill {spec.channel} (dry run)", reader.remaining({}), unit=reader.unit)
    for read in reader.read({}):
        if isinstance(read, OriginDone):
            report.files += 1
            progress.update(1)
            continue
        if isinstance(read, Unreadable):
            report.error(read.origin, read.reason)
            continue
        entry = read.entry
        report.messages += 1
        report.types[entry.message_type or "(none)"] += 1
        if entry.status == MessageStatus.ERROR:
            report.error(read.origin, f"message {read.position.get('message', '?')}: {entry.error}")
            continue
        if not type_matches(accepts, entry.message_type):
            report.filtered += 1
            continue
        if not maps:
            continue
        try:
            mapped = map_message(
                config.mappings,
                spec.map,
                entry.raw,
                format=kind,
                charset=entry.charset or default_charset,
                source_system=spec.source_system,
            )
        except NoMapping as exc:
            report.skipped[str(exc)] += 1
            continue
        except Exception as exc:  # any mapping failure is reported, the next message is mapped as usual
            report.error(read.origin, f"message {read.position.get('message', '?')}: {mask_text(str(exc))}")
            continue
        report.resources.update(r.type for r in mapped.resources)
        for note in mapped.notes:
            report.note(read.origin, f"message {read.position.get('message', '?')}: {note}")
    progress.close()
    return report


# -- the command ----------------------------------------------------------------------------------------------
def run(
    config: EngineConfig,
    engine: Engine | None,
    channel: str,
    *,
    path: Path | None,
    resume: bool,
    restart: bool,
    batch: int,
    show: Callable[[Outcome | DryRun], None],
    since: str | None = None,
    until: str | None = None,
    max_wait: float = MAX_WAIT,
) -> int:
    """0: finished (messages the intake rejected and deliveries that failed are counted, not fatal); 3: read and
    journaled, but deliveries are left queued for the daemon; 130: interrupted at a checkpoint; 1: refused.
    `engine` is None for a dry run (nothing is opened); `show` prints the dry run's report or the outcome."""
    spec = config.channels[channel]
    bulk = Bulk(path, since, until)
    if engine is None:
        show(dry_run(config, spec, reader_of(config, spec, bulk)))
        return 0
    recall = component_of(spec.source).recall
    if resume and bulk == Bulk() and recall is not None:  # what the unfinished backfill was asked to read
        what = recorded(engine, channel)
        bulk = recall(what) if what is not None else bulk
    reader = reader_of(config, spec, bulk)
    state = start(engine, reader, resume=resume, restart=restart)
    outcome = asyncio.run(Backfill(config, spec, reader, engine, batch=batch, max_wait=max_wait).run(state))
    show(outcome)
    if outcome.interrupted:
        return INTERRUPTED
    return 3 if outcome.left_queued else 0
