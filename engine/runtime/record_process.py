"""The record workers' process: mapping and record writes, on a core of their own.

Mapping a message and writing its resources costs several times what journaling it costs. In the daemon's
process that work would share one interpreter (one core, under the GIL) with the intake and delay ACKs, so
the daemon starts this process for the channels' ``record`` destinations. It claims their outbox rows from
the same store, as another node on a shared PostgreSQL would, under a node name of its own. The daemon
writes a line to its standard input when new rows are queued; it also looks every second on its own.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading

import structlog

from engine.config import EngineConfig
from engine.pipeline import stages
from engine.runtime import pacing
from engine.runtime.wiring import Wiring
from engine.store.database import open_engine

log = structlog.get_logger("huitong.record")

IDLE_LOOK = 1.0  # seconds between looks when the daemon has said nothing


def record_destinations(config: EngineConfig, only: str | None = None) -> list[tuple[str, str]]:
    """(channel, destination) of every stage (record, contracts) of the enabled channels (or of ``only``)."""
    return [
        (name, dest.name)
        for name, spec in config.channels.items()
        if spec.enabled and (only is None or name == only)
        for dest in spec.destinations
        if stages.is_stage(dest)
    ]


def freeze_startup() -> None:
    """Objects made at start-up (configuration, compiled mappings, the MPI model, SQLAlchemy: ~400,000) live as
    long as the process; out of the collector's sight, a full collection walks only what batches leave behind.
    Every batch's mapped resources survive enough young collections to be promoted, so full collections come
    often: walking the start-up objects each time cost ~1 ms per admission (bench/record_steps.py)."""
    gc.freeze()


async def run(config: EngineConfig, node: str, only: str | None = None) -> int:
    loop = asyncio.get_running_loop()
    engine = open_engine(config.store, fsync_each_commit=False)  # its transactions carry their own redo
    # No sender waits on these commits (and they do not fsync): commit inline, not on the commit thread.
    # Live intake first: while live senders are active its transactions are short and spaced (runtime/pacing.py).
    wiring = Wiring(config, engine, node=node, channels={}, pacer=pacing.of(engine))
    wiring.start(recover=False)  # takes back what this node held before a crash
    workers = [
        wiring.worker(config.channels[channel], config.channels[channel].destination(name))
        for channel, name in record_destinations(config, only)
    ]
    freeze_startup()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def wake_all() -> None:
        for worker in workers:
            worker.wake()

    def listen() -> None:  # the daemon's "rows queued" bytes; end of input means the daemon is gone
        while os.read(sys.stdin.fileno(), 4096):
            loop.call_soon_threadsafe(wake_all)
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=listen, name="huitong-record-wake", daemon=True).start()
    log.info("record workers started", destinations=len(workers), node=node)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), IDLE_LOOK)
        except TimeoutError:
            wake_all()
    await asyncio.gather(*(w.stop() for w in workers))
    await wiring.close()
    engine.dispose()
    log.info("record workers stopped")
    return 0
