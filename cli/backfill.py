"""`huitong backfill CHANNEL`: a channel's history read in bulk, resumable (docs/backfill.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.common import configure_logging, load, no_channel, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("backfill", parents=[common], help="read a channel's history in bulk; resumable")
    p.add_argument("channel")
    p.add_argument("--path", type=Path, metavar="DIR", help="file source: directory tree to read (default its path)")
    p.add_argument(
        "--since", metavar="VALUE", help="database source: from this watermark on, as its query reads it"
    )
    p.add_argument("--until", metavar="VALUE", help="database source: rows up to this watermark, inclusive")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    start.add_argument("--restart", action="store_true", help="drop an unfinished backfill's checkpoint; start over")
    p.add_argument("--dry-run", action="store_true", help="read and map, write nothing, report what would happen")
    p.add_argument("--batch", type=_batch_size, default=200, metavar="N", help="messages per transaction (default 200)")
    p.add_argument(
        "--max-wait",
        type=_duration,
        default="60s",
        metavar="DURATION",
        help="at the end, leave deliveries to the daemon when none has settled for this long (default 60s)",
    )
    p.set_defaults(func=cmd_backfill)


def _batch_size(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of messages, 1 or more, got {text!r}")
    return int(text)


def _duration(text: str) -> float:
    from engine.config.values import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_backfill(args: argparse.Namespace) -> int:
    """History through the channel's pipeline, resumable; see docs/backfill.md."""
    from engine.runtime import backfill

    config = load(args)
    if args.channel not in config.channels:
        print(no_channel(args.channel, config), file=sys.stderr)
        return 1
    configure_logging(config, daemon=False)  # progress lines go to standard error, the summary to standard output
    try:
        return backfill.run(
            config,
            None if args.dry_run else store(args, config, create=True),
            args.channel,
            path=args.path,
            resume=args.resume,
            restart=args.restart,
            batch=args.batch,
            out=sys.stdout,
            since=args.since,
            until=args.until,
            max_wait=args.max_wait,
        )
    except backfill.Refused as exc:
        print(f"backfill refused: {exc}", file=sys.stderr)
        return 1
