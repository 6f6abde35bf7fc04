"""`huitong backfill CHANNEL`: a channel's history read in bulk, resumable (docs/backfill.md)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cli.common import configure_logging, load, no_channel, store

if TYPE_CHECKING:
    from engine.runtime.backfill import DryRun, Outcome


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("backfill", parents=[common], help="read a channel's history in bulk; resumable")
    p.add_argument("channel")
    p.add_argument("--path", type=Path, metavar="DIR", help="file source: directory tree to read (default its path)")
    p.add_argument(
        "--since",
        metavar="VALUE",
        help="database source: from this watermark on, as its query reads it; fhir-pull: _lastUpdated from this time",
    )
    p.add_argument(
        "--until",
        metavar="VALUE",
        help="database source: rows up to this watermark, inclusive; fhir-pull: _lastUpdated before this time",
    )
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
    from engine.sources import Unavailable

    config = load(args)
    if args.channel not in config.channels:
        print(no_channel(args.channel, config), file=sys.stderr)
        return 1
    configure_logging(config, daemon=False)  # progress lines go to standard error, the summary to standard output
    try:
        return backfill.run(
            config,
            # No sender waits on a backfill's commits, and each carries its own redo (a batch with its checkpoint,
            # records with their deliveries): no fsync each, so they hold a store shared with the daemon less long.
            None if args.dry_run else store(args, config, create=True, fsync_each_commit=False),
            args.channel,
            path=args.path,
            resume=args.resume,
            restart=args.restart,
            batch=args.batch,
            show=_show,
            since=args.since,
            until=args.until,
            max_wait=args.max_wait,
        )
    except backfill.Refused as exc:
        print(f"backfill refused: {exc}", file=sys.stderr)
        return 1
    except Unavailable as exc:
        print(f"backfill stopped: {exc}", file=sys.stderr)
        print("what was journaled is kept, with its checkpoint: --resume continues", file=sys.stderr)
        return 1


def _show(result: Outcome | DryRun) -> None:
    from engine.runtime.backfill import DryRun

    if isinstance(result, DryRun):
        print_dry_run(result, sys.stdout)
    else:
        print_summary(result, sys.stdout)


def print_summary(outcome: Outcome, out: IO[str]) -> None:
    from engine.domain.outcome import PENDING_DELIVERY, DeliveryStatus

    c = outcome.state.counts
    if outcome.already_done:
        print(f"backfill of {outcome.state.what} already finished: nothing to do", file=out)
    print(f"files              {c.files}", file=out)
    print(f"messages read      {c.read}", file=out)
    print(f"journaled          {c.journaled}", file=out)
    print(f"duplicates skipped {c.duplicates}", file=out)
    print(f"filtered           {c.filtered}", file=out)
    delivered = outcome.delivered
    dead = delivered.get(DeliveryStatus.DEAD, 0)
    print(f"errors             {c.errors + dead} ({c.errors} refused at intake, {dead} failed delivery)", file=out)
    for reason, n in sorted(c.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>6}  {reason}", file=out)
    if c.error_files:
        print(f"  in: {', '.join(c.error_files)}", file=out)
    _list_failures(outcome, DeliveryStatus.DEAD, out)
    skipped = delivered.get(DeliveryStatus.SKIPPED, 0)
    print(f"delivered          SENT {delivered.get('SENT', 0)}, SKIPPED {skipped}, DEAD {dead}", file=out)
    _list_failures(outcome, DeliveryStatus.SKIPPED, out)
    queued = sum(n for s, n in delivered.items() if s in PENDING_DELIVERY)
    if queued:
        print(f"still queued       {queued} (left to the daemon; why each is not done yet:)", file=out)
        for status in PENDING_DELIVERY:
            _list_failures(outcome, status, out)
    if outcome.paced:
        print(f"paced              {outcome.paced} transactions, live senders first", file=out)
    if outcome.interrupted:
        print("interrupted        at a checkpoint; the same command with --resume continues", file=out)
    print(f"time               {outcome.seconds:.1f}s", file=out)


def _list_failures(outcome: Outcome, status: str, out: IO[str]) -> None:
    for f in outcome.failures:
        if f.status == status:
            print(f"  {f.count:>6}  {f.destination}: {f.reason}", file=out)
            print(f"          in: {', '.join(f.files)}{' ...' if f.count > len(f.files) else ''}", file=out)


def print_dry_run(report: DryRun, out: IO[str]) -> None:
    print("dry run: nothing was written", file=out)
    print(f"files              {report.files}", file=out)
    print(f"messages           {report.messages}", file=out)
    for kind, n in sorted(report.types.items()):
        print(f"  {n:>6}  {kind}", file=out)
    print(f"filtered           {report.filtered}", file=out)
    if report.resources:
        print("resources          " + ", ".join(f"{k} {n}" for k, n in sorted(report.resources.items())), file=out)
    if report.skipped:
        print(f"skipped            {report.skipped.total()} (the record would not take them)", file=out)
        for reason, n in report.skipped.most_common():
            print(f"  {n:>6}  {reason}", file=out)
    if report.notes:
        print(f"left out           {report.note_counts.total()} values (recorded without them)", file=out)
        _by_file(report.notes, report.note_counts, out)
    print(f"errors             {report.error_counts.total()}", file=out)
    _by_file(report.errors, report.error_counts, out)


def _by_file(kept: dict[str, list[str]], counts: Counter[str], out: IO[str]) -> None:
    for origin, lines in kept.items():  # every file; its first few
        for line in lines:
            print(f"  {origin}: {line}", file=out)
        if counts[origin] > len(lines):
            print(f"  {origin}: ... and {counts[origin] - len(lines)} more", file=out)
