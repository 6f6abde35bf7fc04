"""A polling source's durable position (e.g. a FHIR ``_lastUpdated`` watermark per resource type).

Written with the journal entries it accounts for, in one transaction: after a crash, the source resumes from
the last page that was committed, and nothing between is lost or journaled twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, insert, select, update

from engine.store.schema import source_state


def read(conn: Connection, channel: str) -> dict[str, str]:
    """Every key this channel's source has stored."""
    rows = conn.execute(select(source_state.c.key, source_state.c.value).where(source_state.c.channel == channel))
    return {r.key: r.value for r in rows}


def write(conn: Connection, channel: str, values: Mapping[str, str]) -> None:
    """Set keys (insert or replace). One poller per channel writes them, so update-then-insert is safe."""
    c = source_state.c
    for key, value in values.items():
        done = conn.execute(update(source_state).where(c.channel == channel, c.key == key).values(value=value))
        if done.rowcount == 0:
            conn.execute(insert(source_state).values(channel=channel, key=key, value=value))


def of_key(conn: Connection, key: str) -> dict[str, str]:
    """One key's value for every channel that stored it (e.g. each channel's backfill checkpoint)."""
    rows = conn.execute(select(source_state.c.channel, source_state.c.value).where(source_state.c.key == key))
    return {r.channel: r.value for r in rows}
