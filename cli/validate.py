"""`huitong validate`: the whole configuration checked, and a summary of what it would run."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("validate", parents=[common], help="check the whole configuration; exit 1 on any error")
    p.add_argument("--no-environment", action="store_true", help="skip checks of files, directories and TLS keys")
    p.set_defaults(func=cmd_validate)


def _source_where(source: Any) -> str:
    """Where a source takes messages from, for `validate`'s summary."""
    if source.type == "file":
        return f"{source.path}/{source.glob}"
    if source.type == "database":  # its URL may hold a password (from ${ENV}): never shown
        from sqlalchemy import make_url

        return make_url(source.url).render_as_string(hide_password=True)
    return str(getattr(source, "listen", None) or getattr(source, "url", None) or getattr(source, "base_url", ""))


def cmd_validate(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from engine.config import load_config
    from engine.config.checks import open_listeners

    result = load_config(args.config, check_environment=not args.no_environment)
    for error in result.errors:
        print(error)
    if result.errors or result.config is None:
        print(f"{len(result.errors)} error(s)", file=sys.stderr)
        return 1
    config = result.config
    print(f"ok: {config.path}")
    for warning in open_listeners(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"  store     {make_url(config.store).render_as_string(hide_password=True)}")
    for name, spec in config.channels.items():
        source = spec.source
        where = _source_where(source)
        state = "" if spec.enabled else " (disabled)"
        dests = ", ".join(f"{d.name}:{d.type}" for d in spec.destinations) or "journal only"
        print(f"  channel   {name}{state}: {' '.join(filter(None, (source.type, where)))} -> {dests}")
    return 0

