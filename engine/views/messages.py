"""Messages as the CLI and the management API show them: the summary anyone watching operations may read, the
content (raw, ACK, each stage's body, each destination's response) only for those who may read residents' data,
and the searches and totals the console's dashboard and message browser are made of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from engine.domain.instants import local_iso
from engine.store import message_text, queries
from engine.store.queries import MessageView
from engine.views.record_view import find_person

# the charsets the shipped sources' messages come in: a content search looks for the text in each
SEARCH_CHARSETS = ("utf-8", "gb18030")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else local_iso(ts)


def summary(view: MessageView) -> dict[str, Any]:
    """A message without its content: statuses, times, where it came from, each destination's attempts."""
    return {
        "id": view.id,
        "channel": view.channel,
        "status": view.status,
        "control_id": view.control_id,
        "message_type": view.message_type,
        "received_at": _iso(view.received_at),
        "source": view.source,
        "error": view.error,
        "duplicate_of": view.duplicate_of,
        "destinations": [
            {
                "name": d.name,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "next_attempt_at": _iso(d.next_attempt_at),
                "sent_at": _iso(d.sent_at),
            }
            for d in view.destinations
        ],
    }


def detail(view: MessageView) -> dict[str, Any]:
    """The summary with every stage's content (the view was read ``with_content``): the raw message in its own
    charset, the stored stages (``ack``: the answer an AE or AR sender got), each destination's response."""
    out = summary(view)
    out["raw"] = (view.raw or b"").decode(view.charset or "utf-8", "replace")
    out["content"] = {k: b.decode("utf-8", "replace") for k, b in view.content.items()}
    for d, shown in zip(view.destinations, out["destinations"], strict=True):
        shown["response"] = d.response.decode("utf-8", "replace") if d.response else None
    return out


@dataclass(frozen=True, slots=True)
class Search:
    """What the message browser filters by; each field given must hold. ``patient``: an identifier the record
    knows (record_view.find_person); ``text``: text the message holds (the text index for MIN_TERM characters or
    more, else a scan of the raw messages the other filters leave)."""

    channel: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    message_type: str | None = None
    control_id: str | None = None
    patient: str | None = None
    text: str | None = None

    @property
    def reads_content(self) -> bool:
        """Whether the search looks into residents' data (so needs the clinical role, and is audited)."""
        return bool(self.patient or self.text)


@dataclass(frozen=True, slots=True)
class Found:
    """A page of messages, and how a text was looked for: "index", "scan" (a term shorter than the index
    takes, or PostgreSQL without pg_trgm), or None (no text)."""

    messages: list[MessageView]
    text_search: str | None = None


def search(conn: Connection, wanted: Search, *, limit: int, offset: int = 0) -> Found:
    """A page of matching messages, newest first (LookupError: the patient identifier names no one person)."""
    among = None
    if wanted.patient:
        among = queries.person_message_ids(conn, [find_person(conn, wanted.patient)])
        if not among:
            return Found([], "index" if wanted.text else None)
    how, text, containing = None, None, []
    if wanted.text:
        if len(wanted.text) >= message_text.MIN_TERM and message_text.indexed(conn):
            how, text = "index", wanted.text
        else:
            how, containing = "scan", sorted({wanted.text.encode(c, "ignore") for c in SEARCH_CHARSETS} - {b""})
    ids = queries.find_ids(
        conn,
        channel=wanted.channel,
        status=wanted.status,
        since=wanted.since,
        until=wanted.until,
        message_type=wanted.message_type,
        control_id=wanted.control_id,
        among=among,
        containing=containing,
        text=text,
        limit=limit,
        offset=offset,
    )
    return Found(queries.messages_by_id(conn, ids), how)


def channel_totals(conn: Connection, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per channel: messages and deliveries by status (huitong stats) and its newest message."""
    table = queries.stats(conn)
    out: dict[str, dict[str, Any]] = {}
    for name in channels:
        last = queries.last_message(conn, name)
        out[name] = {
            "counts": table.get(name, dict.fromkeys([*queries.MESSAGE_COUNTS, *queries.DELIVERY_COUNTS], 0)),
            "last_message": None
            if last is None
            else {"id": last.message_id, "received_at": local_iso(last.received_at), "source": last.source},
        }
    return out


def throughput(conn: Connection, channels: Sequence[str], minutes: int, now: float) -> dict[str, Any]:
    """Received, processed and errored per minute over the last ``minutes`` (summed over ``channels``), each
    series one value a minute, oldest first, for a chart."""
    first = int(now // 60) - minutes + 1
    series = {"received": [0] * minutes, "processed": [0] * minutes, "errored": [0] * minutes}
    for channel in channels:
        for minute, counts in queries.per_minute(conn, channel, first * 60.0).items():
            i = minute - first
            if 0 <= i < minutes:
                series["received"][i] += sum(counts.values())
                series["processed"][i] += counts.get("PROCESSED", 0)
                series["errored"][i] += counts.get("ERROR", 0)
    return {"minutes": [local_iso((first + i) * 60.0)[11:16] for i in range(minutes)], **series}


def queue_depths(conn: Connection, now: float) -> list[dict[str, Any]]:
    """Per destination: deliveries waiting (queued or retrying), the oldest one's age in seconds, dead letters."""
    return [
        {
            "channel": q.channel,
            "destination": q.destination,
            "waiting": q.waiting,
            "oldest_age_seconds": None if q.oldest is None else round(max(now - q.oldest, 0.0), 1),
            "dead": q.dead,
        }
        for q in queries.queues(conn)
    ]


def dead_letters(
    conn: Connection, *, channel: str | None, destination: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    return [
        {
            "message_id": d.message_id,
            "channel": d.channel,
            "destination": d.destination,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "created_at": local_iso(d.created_at),
        }
        for d in queries.dead_letters(conn, channel=channel, destination=destination, limit=limit, offset=offset)
    ]


def nodes(conn: Connection, channels: Sequence[str], now: float) -> list[dict[str, Any]]:
    """The engine nodes that journaled messages in the last hour, each with its latest."""
    return [
        {"node": n, "last_received_at": local_iso(at)} for n, at in queries.nodes(conn, channels, now - 3600).items()
    ]
