"""Running retention (engine/pipeline/retention.py): `huitong prune` on its own connection, and the daemon's
hourly run through its store writer, batch by batch, so live intake never waits long."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import structlog
from sqlalchemy import Engine

from engine.config.models import ChannelSpec
from engine.pipeline.retention import Pruned, audited, step, would_prune
from engine.runtime.writer import StoreWriter
from engine.store.database import reclaim, writing

log = structlog.get_logger("huitong.retention")
EVERY = 3600.0  # seconds between the daemon's runs


def prune(engine: Engine, specs: Sequence[ChannelSpec], *, dry_run: bool, actor: str) -> list[Pruned]:
    """Every channel with `retention:` pruned to it now (or what would be, for a dry run); the space freed."""
    now = time.time()
    out = []
    for spec in specs:
        if dry_run:
            with engine.connect() as conn:
                out.append(would_prune(conn, spec, now))
            continue
        total = Pruned(spec.channel)
        while True:
            with writing(engine) as conn:
                done = step(conn, spec, now)
            total.add(done)
            if not (done.content or done.messages):
                break
        with writing(engine) as conn:
            audited(conn, total, spec, now, actor)
        out.append(total)
    if not dry_run:
        reclaim(engine)
    return out


async def prune_in_daemon(writer: StoreWriter, engine: Engine, specs: Sequence[ChannelSpec]) -> None:
    """The daemon's run: each batch a transaction of the writer's, after whatever intake is waiting."""
    now = time.time()
    for spec in specs:
        total = Pruned(spec.channel)
        while True:
            done = await writer.submit(functools.partial(step, spec=spec, now=now))
            total.add(done)
            if not (done.content or done.messages):
                break
        await writer.submit(functools.partial(audited, pruned=total, spec=spec, now=now, actor="retention"))
        if total.content or total.messages:
            log.info("journal pruned", channel=spec.channel, content=total.content, messages=total.messages)
    reclaim(engine)
