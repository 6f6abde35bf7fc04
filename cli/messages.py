"""`huitong messages list|show|reprocess` and `huitong stats`: what happened to each message, and the counts."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from cli.common import iso, print_json, store, time_arg


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    messages = sub.add_parser("messages", help="what happened to each message").add_subparsers(
        dest="messages_command", required=True
    )
    p = messages.add_parser("list", parents=[common], help="newest first")
    p.add_argument("--channel")
    p.add_argument("--status", type=str.upper)
    p.add_argument("--since", type=time_arg, metavar="TIME", help="ISO time or age (30m, 2h, 7d)")
    p.add_argument("--until", type=time_arg, metavar="TIME")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_messages_list)
    p = messages.add_parser("show", parents=[common], help="one message: statuses, deliveries, content")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_messages_show)
    p = messages.add_parser("reprocess", parents=[common], help="run messages through the pipeline again")
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--channel")
    p.add_argument("--status", type=str.upper)
    p.add_argument("--since", type=time_arg, metavar="TIME")
    p.add_argument("--until", type=time_arg, metavar="TIME")
    p.add_argument("--dead", action="store_true", help="every message with a DEAD delivery")
    p.add_argument(
        "--destination", help="only this destination's deliveries start over (with --dead: its dead letters)"
    )
    p.add_argument("--reason", default="", help="recorded in the audit trail")
    p.set_defaults(func=cmd_messages_reprocess)


def add_stats_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("stats", parents=[common], help="per channel: received, filtered, errored, queued, sent, dead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)


def cmd_messages_list(args: argparse.Namespace) -> int:
    from engine.store import queries
    from engine.views import messages

    engine = store(args)
    with engine.connect() as conn:
        ids = queries.find_ids(
            conn, channel=args.channel, status=args.status, since=args.since, until=args.until, limit=args.limit
        )
        views = queries.messages_by_id(conn, ids)
    if args.json:
        print_json([messages.summary(v) for v in views])
        return 0
    print(f"{'ID':>8}  {'RECEIVED':<25}  {'CHANNEL':<16} {'TYPE':<12} {'CONTROL ID':<22} {'STATUS':<10} DESTINATIONS")
    for v in views:
        dests = " ".join(f"{d.name}:{d.status}({d.attempts})" for d in v.destinations)
        print(
            f"{v.id:>8}  {iso(v.received_at):<25}  {v.channel:<16} {v.message_type:<12} {v.control_id[:22]:<22} "
            f"{v.status:<10} {dests}"
        )
        if v.error:
            print(f"{'':>10}{v.error}")
    return 0


def cmd_messages_show(args: argparse.Namespace) -> int:
    from engine.store import queries

    engine = store(args)
    with engine.connect() as conn:
        views = queries.messages_by_id(conn, [args.id], with_content=True)
    if not views:
        print(f"no message with id {args.id}", file=sys.stderr)
        return 1
    v = views[0]
    if args.json:
        from engine.views import messages

        print_json(messages.detail(v))
        return 0
    for label, value in [
        ("id", v.id),
        ("channel", v.channel),
        ("source", v.source),
        ("received", iso(v.received_at)),
        ("type", v.message_type),
        ("control id", v.control_id),
        ("charset", v.charset),
        ("status", v.status),
        ("error", v.error),
        ("duplicate of", v.duplicate_of),
    ]:
        if value not in (None, ""):
            print(f"{label:>13}: {value}")
    for d in v.destinations:
        line = f"{'destination':>13}: {d.name} {d.status} attempts={d.attempts}"
        if d.sent_at:
            line += f" sent={iso(d.sent_at)}"
        if d.next_attempt_at:
            line += f" next={iso(d.next_attempt_at)}"
        print(line)
        if d.last_error:
            print(f"{'':>15}{d.last_error}")
    print("\n--- message ---")
    print((v.raw or b"").decode(v.charset or "utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").rstrip())
    for stage, body in v.content.items():
        print(f"\n--- {stage} ---")
        print(body.decode("utf-8", "replace").replace("\r", "\n").rstrip())
    for d in v.destinations:
        if d.response:
            print(f"\n--- response from {d.name} ---")
            print(d.response.decode("utf-8", "replace").replace("\r", "\n").rstrip())
    return 0


def cmd_messages_reprocess(args: argparse.Namespace) -> int:
    from engine.pipeline.reprocess import reprocess
    from engine.store import queries
    from engine.store.database import writing

    if not args.ids and not (args.channel or args.status or args.dead):
        print("name message ids, or a filter (--channel, --status, --since, --until, --dead)", file=sys.stderr)
        return 1
    with writing(store(args)) as conn:
        if args.ids:
            ids = list(args.ids)
        elif args.dead:
            ids = queries.dead_message_ids(conn, args.channel, args.destination)
        else:
            ids = queries.find_ids(
                conn, channel=args.channel, status=args.status, since=args.since, until=args.until, newest_first=False
            )
        messages, deliveries = reprocess(conn, ids, time.time(), reason=args.reason, destination=args.destination)
    print(
        f"reprocessing {messages} message(s), {deliveries} delivery(ies) queued again"
        + ("" if messages or deliveries else " (nothing matched)")
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from engine.store import queries

    engine = store(args)
    with engine.connect() as conn:
        table = queries.stats(conn)
    if args.json:
        print_json(table)
        return 0
    columns = list(queries.MESSAGE_COUNTS) + list(queries.DELIVERY_COUNTS)
    print(f"{'CHANNEL':<20}" + "".join(f"{c.upper():>11}" for c in columns))
    for channel, counts in table.items():
        print(f"{channel:<20}" + "".join(f"{counts[c]:>11}" for c in columns))
    return 0
