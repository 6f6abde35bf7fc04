"""`huitong record show|export|assess`: one person's unified health record, read back."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from cli.common import PERSON_HELP, date_arg, print_json, settings, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    record = sub.add_parser("record", help="the unified health record of one person").add_subparsers(
        dest="record_command", required=True
    )
    p = record.add_parser("show", parents=[common], help="360° view: demographics with their sources, then history")
    p.add_argument("person", metavar="PERSON", help=PERSON_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_record_show)
    p = record.add_parser("export", parents=[common], help="FHIR searchset Bundle, like Patient/$everything")
    p.add_argument("person", metavar="PERSON", help=PERSON_HELP)
    p.add_argument("--output", metavar="FILE", help="write the Bundle here instead of standard output")
    p.add_argument("--base", default="https://huitong.invalid/fhir", metavar="URL", help="base of each entry's fullUrl")
    p.set_defaults(func=cmd_record_export)
    p = record.add_parser("assess", parents=[common], help="health assessment from the record: labels, control, tasks")
    p.add_argument("person", metavar="PERSON", help=PERSON_HELP)
    p.add_argument("--on", type=date_arg, metavar="DATE", help="assess as of this date (default today)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object")
    output.add_argument("--fhir", action="store_true", help="FHIR R4 collection Bundle (Composition first)")
    p.set_defaults(func=cmd_record_assess)


def person_view(args: argparse.Namespace, build: Any = None) -> Any:
    """What `build(conn, person, settings)` makes of the person args.person names (default: the person view);
    prints why and exits 1 when there is no such person (or several)."""
    from engine.pipeline.record_view import PersonNotFound, find_person
    from engine.pipeline.record_view import person_view as view_of

    found = settings(args)
    with store(args, found).connect() as conn:
        try:
            person = find_person(conn, args.person)
        except PersonNotFound as exc:
            print(exc, file=sys.stderr)
            raise SystemExit(1) from None
        if build is not None:
            return build(conn, person, found)
        return view_of(conn, person, found.record.precedence)


def _sources(sources: Sequence[str]) -> str:
    return ", ".join(sources)


def cmd_record_show(args: argparse.Namespace) -> int:
    from engine.domain.record.summary import SECTIONS, demographic_order, describe

    view = person_view(args)
    patient = view.patient
    fields = demographic_order([k for k in patient.body if k not in ("resourceType", "id")])
    if args.json:
        print_json(
            {
                "person": view.person,
                "merged_from": view.merged_from,
                "demographics": {k: {"value": patient.body[k], "sources": patient.sources[k]} for k in fields},
                "sections": {
                    name: [
                        {
                            "date": e.date,
                            "summary": e.text,
                            "type": e.resource.type,
                            "id": e.resource.id,
                            "sources": e.sources,
                        }
                        for e in view.section(name)
                    ]
                    for name, _ in SECTIONS
                },
            }
        )
        return 0
    print(f"person {view.person}" + (f" (merged from {', '.join(view.merged_from)})" if view.merged_from else ""))
    width = max((len(k) for k in fields), default=0)
    for k in fields:
        print(f"  {k:<{width}}  {describe(patient.body[k])}  [{_sources(patient.sources[k])}]")
    for name, _ in SECTIONS:
        entries = view.section(name)
        if not entries:
            continue
        print(f"\n{name}")
        for e in entries:
            print(f"  {e.date or '(no date)':<25}  {e.text}  [{_sources(e.sources)}]")
    return 0


def cmd_record_export(args: argparse.Namespace) -> int:
    from engine.pipeline.record_view import bundle

    data = orjson.dumps(bundle(person_view(args), args.base.rstrip("/")), option=orjson.OPT_INDENT_2) + b"\n"
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_record_assess(args: argparse.Namespace) -> int:
    from engine.pipeline.assessment import as_fhir, as_json, as_text, assess_person

    on = args.on or datetime.now().date()
    report = person_view(
        args, lambda conn, person, settings: assess_person(
            conn, person, settings.record.precedence, Path(settings.mappings), on
        )
    )
    if args.fhir:
        sys.stdout.buffer.write(orjson.dumps(as_fhir(report), option=orjson.OPT_INDENT_2) + b"\n")
    elif args.json:
        print_json(as_json(report))
    else:
        sys.stdout.write(as_text(report))
    return 0
