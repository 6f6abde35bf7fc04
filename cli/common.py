"""What every command shares: the configuration and store it opens, argument types, JSON output."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

DEFAULT_CONFIG = os.environ.get("HUITONG_CONFIG", "config/engine.yaml")
PERSON_HELP = "enterprise person id, resident ID (18 digits), or a source MRN as system|value or value"


def load(args: argparse.Namespace) -> Any:
    """The whole configuration; prints every error and exits 1 when there is one."""
    from engine.config import load_config

    result = load_config(args.config)
    if result.errors or result.config is None:
        for error in result.errors:
            print(error, file=sys.stderr)
        print(f"{len(result.errors)} configuration error(s); nothing was started", file=sys.stderr)
        raise SystemExit(1)
    return result.config


def settings(args: argparse.Namespace) -> Any:
    """engine.yaml alone; channel files are not needed (or checked) to read the store."""
    from engine.config import load_engine_settings

    found, errors = load_engine_settings(args.config)
    if found is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        raise SystemExit(1)
    return found


def rules(settings: Any) -> Any:
    """The rule files beside the mappings (care, indicators), compiled; exits 1 on any error."""
    from engine.config.rules import load_rules

    compiled, errors = load_rules(settings.mappings)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        raise SystemExit(1)
    return compiled


def care_rules(settings: Any) -> Any:
    care = rules(settings).care
    if care is None:
        print(f"no care rules in {settings.mappings}", file=sys.stderr)
        raise SystemExit(1)
    return care


def store(args: argparse.Namespace, config: Any = None, *, create: bool = False, fsync_each_commit: bool = True) -> Any:
    """The store named by engine.yaml, migrated to the newest schema; only a command that fills it (`create`)
    makes a SQLite file that is not there (``fsync_each_commit``: engine.store.database.open_engine)."""
    from engine.store.database import migrate, missing_file, open_engine

    url = (config or settings(args)).store
    missing = None if create else missing_file(url)
    if missing is not None:
        print(no_store(missing, args.config), file=sys.stderr)
        raise SystemExit(1)
    engine = open_engine(url, fsync_each_commit=fsync_each_commit)
    migrate(engine)
    return engine


def no_store(path: Path, config: str) -> str:
    return (
        f"no store at {path} (store: in {config}): nothing has been received there yet; start the daemon or"
        " run a backfill, or point store: at the existing file"
    )


def configure_logging(config: Any, *, daemon: bool) -> None:
    from engine.runtime.logging import configure

    fmt = config.logging.format
    if fmt == "auto" and daemon and not sys.stderr.isatty():
        fmt = "json"
    configure(config.logging.level, fmt, str(config.logging.file) if config.logging.file else None)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def no_channel(name: str, config: Any) -> str:
    return f"no channel named {name!r}; channels: {', '.join(sorted(config.channels)) or '(none)'}"


def iso(ts: float | None) -> str:
    """A moment as every command prints it (engine/domain/instants.py); "" for none."""
    from engine.domain.instants import local_iso

    return "" if ts is None else local_iso(ts)


# -- argument types -----------------------------------------------------------------------------------------
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")


def time_arg(text: str) -> float:
    """An ISO date/time (local time unless it has an offset) or an age such as 30m, 2h, 7d."""
    match = _RELATIVE.match(text.strip())
    if match:
        return time.time() - float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time (2026-11-22T08:00) or an age (30m, 2h), got {text!r}"
        ) from exc


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None
