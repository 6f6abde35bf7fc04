"""`huitong indicators`: family-doctor and public-health indicators of a period, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.common import rules, store
from cli.common import settings as engine_settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("indicators", parents=[common], help="family-doctor and public-health indicators of a period")
    p.add_argument("--period", required=True, metavar="PERIOD", help="2026 (a year), 2026Q3 (a quarter) or 2026-07")
    p.add_argument("--org", metavar="CODE", help="only this institution and those below it (organisations.yaml)")
    p.add_argument("--team", metavar="ID", help="only this family-doctor team")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_indicators)


def cmd_indicators(args: argparse.Namespace) -> int:
    """Indicators of a period from the whole record; exit 2 for a period, institution or team that does not exist."""
    from engine.config.orgs import load_organisations, registry_file
    from engine.domain.indicators import parse_period, to_csv, to_json
    from engine.domain.orgs import UnknownCode
    from engine.views.indicators import OutsideScope, indicator_rows, scope_of

    try:
        period = parse_period(args.period)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    settings = engine_settings(args)
    registry = registry_file(Path(args.config))
    orgs, errors = load_organisations(registry)
    if orgs is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    compiled = rules(settings)
    inputs = compiled.record_inputs
    if inputs is None:
        print(f"no indicator definitions and record inputs in {settings.mappings}", file=sys.stderr)
        return 1
    try:
        scope = scope_of(orgs, args.org, args.team)
    except UnknownCode as exc:
        print(f"{exc} in {registry}", file=sys.stderr)
        return 2
    except OutsideScope as exc:
        print(exc, file=sys.stderr)
        return 2
    with store(args, settings).connect() as conn:
        try:
            rows = indicator_rows(
                conn, settings.record.precedence, orgs, compiled.indicators, inputs, period, scope
            )
        except UnknownCode as exc:
            print(f"the record names {exc}; add it to {registry}", file=sys.stderr)
            return 1
    if args.format == "csv":
        sys.stdout.write(to_csv(rows, orgs))
    elif args.format == "json":
        sys.stdout.write(to_json(rows, orgs))
    else:
        sys.stdout.write(_indicator_table(rows, orgs, period))
    return 0


def _indicator_table(rows: Sequence[Any], orgs: Any, period: Any) -> str:
    """Aligned columns, names last: Chinese names are two columns wide on a terminal and would break alignment."""
    head = ("INDICATOR", "ORG/TEAM", "NUMERATOR", "DENOMINATOR", "RATE", "NAME")
    cells = [
        (
            r.indicator,
            r.team or r.org,
            str(r.numerator),
            str(r.denominator),
            "-" if r.rate is None else f"{100 * r.rate:.1f}%",
            orgs.team(r.team).name if r.team else orgs.get(r.org).name,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(5)]
    lines = [f"period {period.label} ({period.start.isoformat()}..{period.end.isoformat()})"]
    for c in [head, *cells]:
        lines.append(
            f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:>{widths[2]}}  {c[3]:>{widths[3]}}  "
            f"{c[4]:>{widths[4]}}  {c[5]}"
        )
    return "\n".join(lines) + "\n"
