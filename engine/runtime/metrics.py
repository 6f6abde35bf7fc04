"""The engine's Prometheus metrics (docs/console.md, "Metrics and health"): the objects the runtime counts into
where things happen, and what ``/metrics`` serves.

Two kinds of figure:
- counted as it happens, in this module's objects: messages journaled and their outcome, ACK latency, delivery
  attempts, deliveries gone DEAD, MPI decisions, store commit time;
- read from the store at scrape time: queue depth, oldest queued message and dead letters per destination, and
  the checkpoint of each channel's backfill (a backfill runs in its own ``huitong backfill`` process, but keeps
  its counts with its checkpoint in the store, so every node reports it).

The record process counts too (its deliveries, MPI decisions, commits). It is another process, so its counters
live in files: the daemon starts it with ``PROMETHEUS_MULTIPROC_DIR`` set to a private directory of its own
(prometheus_client's multiprocess mode), and the daemon's ``/metrics`` adds what those files hold to its own
counts, sample by sample. The files outlive a record process that is restarted, so its counts keep growing; the
daemon removes the directory when it stops (counters start again at zero with the daemon, as Prometheus expects).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from engine.config import ChannelSpec, FhirPushSource, MllpSource, XmlHttpSource
from engine.domain.outcome import MessageStatus
from engine.sources.journal import Durable, Journal
from engine.store import monitoring, source_state
from engine.store.journal import JournalEntry

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it when imported
BACKFILL_KEY = "backfill"  # the checkpoint's key in source_state (runtime/backfill.py)

disable_created_metrics()  # no *_created series: the record processes' files have none to add up with
REGISTRY = CollectorRegistry()
_LATENCY = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

RECEIVED = Counter(
    "huitong_messages_received", "Messages journaled from a channel's source", ["channel", "type"], registry=REGISTRY
)
PROCESSED = Counter(
    "huitong_messages_processed", "Messages routed to their destinations", ["channel", "type"], registry=REGISTRY
)
ERRORED = Counter(
    "huitong_messages_errored",
    "Messages refused at intake (AE/AR) or not routable (status ERROR)",
    ["channel", "type"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "huitong_ack_seconds",
    "From a message's arrival to its answer being ready (MLLP ACK, HTTP response), journal commit included",
    ["channel"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
ATTEMPTS = Counter(
    "huitong_delivery_attempts",
    "Delivery attempts by the status they left the delivery in (SENT, ERROR: to retry, DEAD, SKIPPED)",
    ["channel", "destination", "status"],
    registry=REGISTRY,
)
MPI_DECISIONS = Counter(
    "huitong_mpi_decisions",
    "Who an arriving patient record is: new person, matched to one, queued for review, or persons merged",
    ["outcome"],
    registry=REGISTRY,
)
COMMIT_SECONDS = Histogram(
    "huitong_store_commit_seconds",
    "Time of one store COMMIT (the fsync), by the process that wrote it",
    ["process"],
    buckets=_LATENCY,
    registry=REGISTRY,
)


# -- counted as it happens ----------------------------------------------------------------------------------------
def journaled(entries: Iterable[JournalEntry]) -> None:
    """Entries a source's intake committed: received, and the outcome each already has."""
    _outcomes(entries, received=True)


def routed(entries: Iterable[JournalEntry]) -> None:
    """Entries the sweep took a decision on (journaled RECEIVED earlier: internal events, reprocessing)."""
    _outcomes(entries, received=False)


def _outcomes(entries: Iterable[JournalEntry], *, received: bool) -> None:
    tally = Tally((e.channel, e.message_type or "", e.status) for e in entries)
    for (channel, kind, status), n in tally.items():
        if received:
            RECEIVED.labels(channel, kind).inc(n)
        if status == MessageStatus.PROCESSED:
            PROCESSED.labels(channel, kind).inc(n)
        elif status == MessageStatus.ERROR:
            ERRORED.labels(channel, kind).inc(n)


def attempts(channel: str, destination: str, statuses: Iterable[str]) -> None:
    for status, n in Tally(statuses).items():
        ATTEMPTS.labels(channel, destination, status).inc(n)


def mpi_decided(outcome: str) -> None:
    MPI_DECISIONS.labels(outcome).inc()


def committed(process: str, seconds: float) -> None:
    COMMIT_SECONDS.labels(process).observe(seconds)


def answers_senders(spec: ChannelSpec) -> bool:
    """Sources whose senders wait for an answer after the commit: MLLP, FHIR push, XML POSTs."""
    source = spec.source
    return isinstance(source, MllpSource | FhirPushSource) or (
        isinstance(source, XmlHttpSource) and source.mode == "listen"
    )


class TimedJournal:
    """The journal as an answering source sees it, timing each answer from the first entry's arrival."""

    def __init__(self, journal: Journal, channel: str) -> None:
        self._journal = journal
        self._latency = ACK_SECONDS.labels(channel)

    def append(self, entries: list[JournalEntry], done: Durable) -> None:
        def timed(error: Exception | None) -> None:
            done(error)
            if entries:
                self._latency.observe(max(0.0, time.time() - entries[0].received_at))

        self._journal.append(entries, timed)

    async def append_and_wait(self, entries: list[JournalEntry]) -> Exception | None:
        error = await self._journal.append_and_wait(entries)
        if entries:
            self._latency.observe(max(0.0, time.time() - entries[0].received_at))
        return error

    async def append_with_state(self, entries: list[JournalEntry], channel: str, state: Mapping[str, str]) -> None:
        await self._journal.append_with_state(entries, channel, state)

    async def read_state(self, channel: str) -> dict[str, str]:
        return await self._journal.read_state(channel)


# -- the record process's files -----------------------------------------------------------------------------------
def record_process_dir() -> Path:
    """A private directory for the record processes' counters (removed with ``forget``)."""
    return Path(tempfile.mkdtemp(prefix="huitong-metrics-"))


def record_process_env(directory: Path) -> dict[str, str]:
    return {**os.environ, MULTIPROCESS_DIR: str(directory)}


def forget(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


# -- what /metrics serves -----------------------------------------------------------------------------------------
class _Store(Collector):
    """Figures read from the store at scrape time."""

    def __init__(self, engine: Engine, destinations: Callable[[], Sequence[tuple[str, str]]]) -> None:
        self._engine = engine
        self._destinations = destinations

    def collect(self) -> Iterator[Metric]:
        labels = ["channel", "destination"]
        depth = GaugeMetricFamily(
            "huitong_queue_depth", "Deliveries waiting (QUEUED, or ERROR to retry)", labels=labels
        )
        oldest = GaugeMetricFamily(
            "huitong_queue_oldest_seconds", "Age of the oldest waiting delivery (0: none waits)", labels=labels
        )
        dead = GaugeMetricFamily("huitong_dead_letters", "Deliveries DEAD, waiting for an operator", labels=labels)
        now = time.time()
        with self._engine.connect() as conn:
            for channel, destination in self._destinations():
                q = monitoring.queue(conn, channel, destination)
                depth.add_metric([channel, destination], q.depth)
                oldest.add_metric([channel, destination], 0.0 if q.oldest is None else max(0.0, now - q.oldest))
                dead.add_metric([channel, destination], q.dead)
            checkpoints = source_state.of_key(conn, BACKFILL_KEY)
        yield from (depth, oldest, dead)
        yield from _backfills(checkpoints)


def _backfills(checkpoints: Mapping[str, str]) -> Iterator[Metric]:
    """Each channel's last backfill, from its checkpoint (counts since it began; see runtime/backfill.State)."""
    read = GaugeMetricFamily("huitong_backfill_read", "Messages the channel's backfill has read", labels=["channel"])
    journaled = GaugeMetricFamily(
        "huitong_backfill_journaled", "Messages the backfill journaled and routed", labels=["channel"]
    )
    errors = GaugeMetricFamily("huitong_backfill_errors", "Messages the backfill could not take", labels=["channel"])
    done = GaugeMetricFamily("huitong_backfill_done", "1 when the channel's backfill finished", labels=["channel"])
    for channel, text in sorted(checkpoints.items()):
        state = orjson.loads(text)
        counts = state.get("counts", {})
        read.add_metric([channel], counts.get("read", 0))
        journaled.add_metric([channel], counts.get("journaled", 0))
        errors.add_metric([channel], counts.get("errors", 0))
        done.add_metric([channel], 1 if state.get("done") else 0)
    yield from (read, journaled, errors, done)


def _merged(families: Iterable[Metric]) -> Iterator[Metric]:
    """Families of the same name (the daemon's and the record processes') as one: samples with the same name and
    labels added up, the others kept."""
    by_name: dict[str, Metric] = {}
    for family in families:
        kept = by_name.get(family.name)
        if kept is None:
            by_name[family.name] = family
            continue
        index = {(s.name, tuple(sorted(s.labels.items()))): i for i, s in enumerate(kept.samples)}
        for sample in family.samples:
            at = index.get((sample.name, tuple(sorted(sample.labels.items()))))
            if at is None:
                kept.samples.append(sample)
            else:
                kept.samples[at] = kept.samples[at]._replace(value=kept.samples[at].value + sample.value)
    yield from by_name.values()


class _Everything(Collector):
    def __init__(self, collectors: Sequence[Collector]) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        return _merged(f for c in self._collectors for f in c.collect())


def exposition(
    engine: Engine, destinations: Callable[[], Sequence[tuple[str, str]]], record_dir: Path | None
) -> Callable[[], bytes]:
    """What ``/metrics`` answers (blocking: it reads the store; call it off the event loop)."""
    collectors: list[Collector] = [REGISTRY, _Store(engine, destinations)]
    if record_dir is not None:
        collectors.append(MultiProcessCollector(None, path=str(record_dir)))  # type: ignore[arg-type]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Everything(collectors))
    return lambda: generate_latest(registry)
