"""`huitong audit`: the audit trail, newest first: who read or changed what, and when (docs/fhir-api.md).

The table masks personal data in the details (the queries FHIR clients sent hold resident IDs and names), as
the logs do: the target column names the resident by person id, which is what an audit follows. `--json` prints
the rows whole, for a tool or an investigation that needs the exact query.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from cli.common import PERSON_HELP, iso, print_json, store, time_arg


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", parents=[common], help="the audit trail: FHIR reads, MPI decisions, merges, tokens")
    p.add_argument("--patient", help=f"rows about this resident (and persons merged into it): {PERSON_HELP}")
    p.add_argument(
        "--actor", action="append", help="who: token:<id>, user:<name>, an operator's login, a channel (repeatable)"
    )
    p.add_argument("--action", action="append", help="e.g. fhir.read, mpi.merge, tokens.revoke (repeatable)")
    p.add_argument("--since", type=time_arg, help="from this time on: ISO time or an age (2h, 7d)")
    p.add_argument("--until", type=time_arg, help="before this time: ISO time or an age")
    p.add_argument("--limit", type=int, default=50, help="rows per page (default 50)")
    p.add_argument("--offset", type=int, default=0, help="rows to skip: the next page's offset is printed")
    p.add_argument("--json", action="store_true", help="print JSON, details unmasked")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from engine.store import audit, record
    from engine.views.record_view import PersonNotFound, find_person

    if args.limit < 1 or args.offset < 0:
        print("--limit is at least 1 and --offset at least 0", file=sys.stderr)
        return 1
    with store(args).connect() as conn:
        targets = None
        if args.patient is not None:
            try:
                persons = record.merged_persons(conn, find_person(conn, args.patient))
            except PersonNotFound as exc:
                print(exc, file=sys.stderr)
                return 1
            targets = [t for p in persons for t in (p, f"person:{p}")]
        total, rows = audit.search(
            conn,
            targets=targets,
            actors=args.actor,
            actions=args.action,
            since=args.since,
            until=args.until,
            limit=args.limit,
            offset=args.offset,
        )
    if args.json:
        print_json(
            {
                "total": total,
                "offset": args.offset,
                "rows": [
                    {
                        "id": r.id,
                        "at": iso(r.at),
                        "actor": r.actor,
                        "action": r.action,
                        "target": r.target,
                        "detail": r.detail,
                    }
                    for r in rows
                ],
            }
        )
        return 0
    if not rows:
        print(f"no audit rows match ({total} in all)" if total else "no audit rows match")
        return 0
    print(f"{'id':>8}  {'at':<19}  {'actor':<38}  {'action':<16}  {'target':<32}  detail")
    for r in rows:
        print(f"{r.id:>8}  {iso(r.at)[:19]:<19}  {r.actor:<38}  {r.action:<16}  {r.target:<32}  {_detail(r.detail)}")
    shown = args.offset + len(rows)
    more = f"; next page: --offset {shown}" if shown < total else ""
    print(f"rows {args.offset + 1}-{shown} of {total}{more}")
    return 0


def _detail(detail: dict[str, Any]) -> str:
    """One line, personal data masked: a FHIR read as its interaction and request, anything else as JSON."""
    from engine.domain.masking import mask_text

    if "interaction" in detail and "query" in detail:
        return mask_text(f"{detail['interaction']} {detail['query']}")
    return mask_text(orjson.dumps(detail).decode())
