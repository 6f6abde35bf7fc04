"""`huitong daemon`, `huitong run CHANNEL` and `huitong record-worker`: the engine running."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from cli.common import configure_logging, load, no_channel


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("daemon", parents=[common], help="run every enabled channel until SIGTERM")
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser("run", parents=[common], help="run one channel in the foreground")
    p.add_argument("channel")
    p.set_defaults(func=cmd_run)


def add_worker_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("record-worker", parents=[common])  # started by the daemon (engine/runtime/record_process.py)
    p.add_argument("--node", required=True)
    p.add_argument("--only")
    p.set_defaults(func=cmd_record_worker)


def cmd_daemon(args: argparse.Namespace, only: str | None = None) -> int:
    from engine.runtime.daemon import Daemon
    from engine.sources import ChannelStartError

    config = load(args)
    if only is not None and only not in config.channels:
        print(no_channel(only, config), file=sys.stderr)
        return 1
    configure_logging(config, daemon=only is None)
    try:
        return asyncio.run(Daemon(config, only=only).run())
    except ChannelStartError as exc:
        print(f"{exc}; nothing is running", file=sys.stderr)
        return 1


def cmd_record_worker(args: argparse.Namespace) -> int:
    from engine.runtime import record_process

    config = load(args)
    configure_logging(config, daemon=True)
    return asyncio.run(record_process.run(config, args.node, args.only))


def cmd_run(args: argparse.Namespace) -> int:
    return cmd_daemon(args, only=args.channel)
