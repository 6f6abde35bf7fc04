"""`huitong prune`: the journal pruned as each channel's `retention:` says."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import load, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("prune", parents=[common], help="prune the journal as each channel's retention: says")
    p.add_argument("--dry-run", action="store_true", help="count what would be pruned, change nothing")
    p.add_argument("--channel", help="only this channel")
    p.set_defaults(func=cmd_prune)


def cmd_prune(args: argparse.Namespace) -> int:
    """Old messages of channels with `retention:` lose their content, then their rows (docs/retention.md)."""
    from engine.runtime.retention import prune
    from engine.store.audit import who

    config = load(args)
    if args.channel is not None and args.channel not in config.channels:
        print(f"no channel named {args.channel!r}; channels: {', '.join(sorted(config.channels))}", file=sys.stderr)
        return 1
    specs = [s for s in config.channels.values() if s.retention and args.channel in (None, s.channel)]
    if not specs:
        print("no channel has retention: (the journal keeps everything)")
        return 0
    done = prune(store(args, config), specs, dry_run=args.dry_run, actor=who())
    verb = "would prune" if args.dry_run else "pruned"
    for p in done:
        print(f"{p.channel:<24} {verb}: content of {p.content} messages, {p.messages} messages")
    return 0
