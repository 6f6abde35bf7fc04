"""`huitong record show|export|assess`: one person's unified health record, read back."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cli.common import PERSON_HELP, care_rules, date_arg, print_json, settings, store

if TYPE_CHECKING:
    from engine.views.assessment import Report


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
    from engine.views.record_view import PersonNotFound, find_person
    from engine.views.record_view import person_view as view_of

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
    from engine.views.record_view import view_json

    view = person_view(args)
    patient = view.patient
    fields = demographic_order([k for k in patient.body if k not in ("resourceType", "id")])
    if args.json:
        print_json(view_json(view))
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
    from engine.views.record_view import bundle

    data = orjson.dumps(bundle(person_view(args), args.base.rstrip("/")), option=orjson.OPT_INDENT_2) + b"\n"
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_record_assess(args: argparse.Namespace) -> int:
    from engine.views.assessment import as_fhir, as_json, assess_person

    on = args.on or datetime.now().date()
    report = person_view(
        args, lambda conn, person, settings: assess_person(
            conn, person, settings.record.precedence, care_rules(settings), on
        )
    )
    if args.fhir:
        sys.stdout.buffer.write(orjson.dumps(as_fhir(report), option=orjson.OPT_INDENT_2) + b"\n")
    elif args.json:
        print_json(as_json(report))
    else:
        sys.stdout.write(assessment_text(report))
    return 0


def assessment_text(report: Report) -> str:
    """The assessment for a doctor: who, labels with evidence, latest control readings, tasks, risks."""
    from engine.views.assessment import CONTROL_NAMES, target_text, values_text, verdict

    a = report.assessment
    age = f"{report.age} y" if report.age is not None else "age unknown"
    lines = [f"{report.name or '(no name)'}, {report.sex or 'sex unknown'}, {age}  "
             f"(person {report.person}; assessed on {a.on.isoformat()})", "", "labels"]
    for label in a.labels:
        lines.append(f"  {label.name} ({label.code})")
        for e in label.evidence:
            lines.append(f"    {e.on.isoformat() if e.on else '(no date)':<10}  {e.fact}  {e.resource}  "
                         f"[{e.source or 'unknown source'}]")
    lines += [] if a.labels else ["  (none)"]
    lines += ["", "control (latest visit day)"]
    for c in a.controls:
        name = CONTROL_NAMES.get(c.control, c.control)
        when = c.on.isoformat() if c.on else "-"
        target = target_text(c, report.targets.get(c.control, ()))
        lines.append(f"  {name:<16} {when:<10}  {values_text(c):<18} target {target}  {verdict(c)}")
    for title, tasks in (("tasks done", a.done), ("tasks overdue", a.overdue), ("tasks due", a.open)):
        lines += ["", title]
        for t in tasks:
            span = f"{t.start.isoformat()}..{t.end.isoformat()}"
            how = f"  done {t.evidence.on} by {t.evidence.resource}" if t.evidence else ""
            lines.append(f"  {span}  {t.name}  [{t.state.value}]{how}")
        lines += [] if tasks else ["  (none)"]
    lines += ["", "risk flags"] + [f"  {r.code}: {r.reason}" for r in a.risks] + ([] if a.risks else ["  (none)"])
    return "\n".join(lines) + "\n"
