"""huitong: the command line. Parses arguments, calls the engine, prints; nothing else lives here.

One module per command group; each adds its parsers (`add_parsers`) and holds its commands and their output.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import (
    audit,
    backfill,
    demo,
    indicators,
    mappings,
    messages,
    mpi,
    prune,
    record,
    run,
    send,
    tasks,
    tokens,
    users,
    validate,
)
from cli.common import DEFAULT_CONFIG


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help=f"engine.yaml to use (default {DEFAULT_CONFIG}; env HUITONG_CONFIG)",
    )
    top = argparse.ArgumentParser(prog="huitong", description="Huitong health-data integration engine")
    sub = top.add_subparsers(dest="command", required=True)
    validate.add_parsers(sub, common)
    run.add_parsers(sub, common)
    send.add_parsers(sub, common)
    messages.add_parsers(sub, common)
    run.add_worker_parser(sub, common)
    mappings.add_parsers(sub, common)
    record.add_parsers(sub, common)
    indicators.add_parsers(sub, common)
    tasks.add_parsers(sub, common)
    backfill.add_parsers(sub, common)
    mpi.add_parsers(sub, common)
    prune.add_parsers(sub, common)
    messages.add_stats_parser(sub, common)
    demo.add_parsers(sub, common)
    tokens.add_parsers(sub, common)
    users.add_parsers(sub, common)
    audit.add_parsers(sub, common)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import OperationalError

    args = parser().parse_args(argv)
    # The store, logs and files the engine writes hold personal data: readable by the engine's own user only
    # (docs/security.md). A system that picks up a file destination's output runs as that user, or a group
    # share is made outside the engine.
    os.umask(0o077)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so that a reader who has gone is handled below, not at the interpreter's exit
        return code
    except OperationalError as exc:  # the store is unreachable or unusable: say so, not a traceback
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"cannot use the store named in {args.config}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the command's own work is transactional; no traceback
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`, which has gone: nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail too
        return 0
