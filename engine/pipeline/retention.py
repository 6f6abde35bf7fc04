"""Retention: what of a channel's journal may go, one batch at a time (docs/retention.md).

A channel's `retention:` keeps raw content for `content` and journal rows for `metadata`. Each step prunes up to
`batch` messages of each kind in the caller's transaction, so a daemon's intake waits for one short transaction at
most; the caller repeats steps until one prunes nothing, then audits the run with `audited`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from engine.config.models import ChannelSpec, Retention
from engine.store import audit, retention

BATCH = 500  # messages per transaction and kind


@dataclass
class Pruned:
    channel: str
    content: int = 0  # messages whose raw content and stored stages were dropped
    messages: int = 0  # journal rows dropped

    def add(self, other: Pruned) -> None:
        self.content += other.content
        self.messages += other.messages


def cutoffs(rule: Retention, now: float) -> tuple[float, float]:
    """Received before these times (content, metadata), a done message loses its content, then its row."""
    return now - rule.content, now - rule.metadata


def step(conn: Connection, spec: ChannelSpec, now: float, batch: int = BATCH) -> Pruned:
    if spec.retention is None:
        return Pruned(spec.channel)
    content_before, rows_before = cutoffs(spec.retention, now)
    rows = retention.prunable(conn, spec.channel, 0.0, rows_before, with_content=False, limit=batch)
    retention.drop_messages(conn, rows)
    # Content only of the messages whose rows stay: the older ones go whole, in a later step.
    content = retention.prunable(conn, spec.channel, rows_before, content_before, with_content=True, limit=batch)
    retention.drop_content(conn, content)
    return Pruned(spec.channel, len(content), len(rows))


def would_prune(conn: Connection, spec: ChannelSpec, now: float) -> Pruned:
    """What a prune would do now (the dry run)."""
    if spec.retention is None:
        return Pruned(spec.channel)
    content_before, rows_before = cutoffs(spec.retention, now)
    rows = retention.count_prunable(conn, spec.channel, 0.0, rows_before, with_content=False)
    content = retention.count_prunable(conn, spec.channel, rows_before, content_before, with_content=True)
    return Pruned(spec.channel, content, rows)


def audited(conn: Connection, pruned: Pruned, spec: ChannelSpec, now: float, actor: str) -> None:
    """One audit row for a run that pruned something."""
    if not (pruned.content or pruned.messages) or spec.retention is None:
        return
    detail = {
        "content": pruned.content,
        "messages": pruned.messages,
        **dict(zip(("content_before", "rows_before"), cutoffs(spec.retention, now), strict=True)),
    }
    audit.record(conn, "journal.prune", f"channel:{spec.channel}", detail, actor=actor, at=now)
