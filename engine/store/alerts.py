"""The alerts that are active (fired, not cleared): what ``engine/runtime/alerts.py`` compares each look with."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from engine.store.schema import alerts


def active(conn: Connection) -> dict[str, str]:
    """rule by key of every active alert."""
    return {r.key: r.rule for r in conn.execute(select(alerts.c.key, alerts.c.rule))}


def fired(conn: Connection, key: str, rule: str, text: str, at: float) -> None:
    conn.execute(insert(alerts).values(key=key, rule=rule, fired_at=at, text=text))


def cleared(conn: Connection, key: str) -> bool:
    """Whether the alert was active (and is no more)."""
    return conn.execute(delete(alerts).where(alerts.c.key == key)).rowcount == 1
