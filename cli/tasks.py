"""`huitong tasks list|refresh`: the care tasks (follow-ups, checks) the record calls for."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any

from cli.common import PERSON_HELP, configure_logging, date_arg, iso, load, print_json, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    tasks = sub.add_parser("tasks", help="care tasks (follow-ups, checks) the record calls for").add_subparsers(
        dest="tasks_command", required=True
    )
    p = tasks.add_parser("list", parents=[common], help="stored tasks, by person and window")
    p.add_argument("--state", type=str.upper, choices=["PLANNED", "DUE", "OVERDUE", "DONE", "LOST"])
    p.add_argument("--person", metavar="PERSON", help=PERSON_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tasks_list)
    p = tasks.add_parser("refresh", parents=[common], help="recompute every person's tasks; count what changed")
    p.add_argument("--on", type=date_arg, metavar="DATE", help="as of this date (default today)")
    p.set_defaults(func=cmd_tasks_refresh)


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from engine.domain.care import TaskState
    from engine.domain.care.task_fhir import task_fields
    from engine.store import care_tasks
    from engine.views.record_view import PersonNotFound, find_person

    with store(args).connect() as conn:
        try:
            person = find_person(conn, args.person) if args.person else None
        except PersonNotFound as exc:
            print(exc, file=sys.stderr)
            return 1
        stored = care_tasks.listing(conn, state=TaskState(args.state) if args.state else None, person_id=person)
    if args.json:
        print_json([{**task_fields(s.person_id, s.task), "updated_at": iso(s.updated_at)} for s in stored])
        return 0
    print(f"{'PERSON':<32}  {'STATE':<8} {'WINDOW':<22}  {'RULE':<15} TASK")
    for s in stored:
        t = s.task
        how = f"  (done {t.evidence.on} by {t.evidence.resource})" if t.evidence else ""
        print(
            f"{s.person_id:<32}  {t.state.value:<8} {t.start.isoformat()}..{t.end.isoformat()}  {t.rule:<15} "
            f"{t.name}{how}"
        )
    print(f"{len(stored)} task(s)")
    return 0


def cmd_tasks_refresh(args: argparse.Namespace) -> int:
    """Every person's tasks as of a date; changes go to the task-events channels like the daemon's own."""
    from engine.pipeline.care_loop import CareLoop
    from engine.runtime.progress import Progress
    from engine.store import care_tasks
    from engine.store.database import writing

    config = load(args)
    configure_logging(config, daemon=False)  # progress goes to standard error (and the log file), not into the counts
    care = CareLoop.of(config)
    if care.care_rules is None:
        print(f"no care rules in {config.mappings_dir}: no tasks to refresh", file=sys.stderr)
        return 1
    engine = store(args, config)
    on = args.on or datetime.now().date()
    with engine.connect() as conn:
        persons = care_tasks.persons(conn)
    progress = Progress("tasks refresh", len(persons), unit="person")
    counts: dict[str, int] = {}
    for i in range(0, len(persons), 100):  # a transaction per 100 persons: a running daemon waits only that long
        part = persons[i : i + 100]
        with writing(engine) as conn:
            changes = care.refresh_tasks(conn, part, on, time.time())
        for change in changes:
            counts[change.kind] = counts.get(change.kind, 0) + 1
        progress.update(len(part))
    progress.close()
    print(f"{len(persons)} person(s) on {on.isoformat()}: {sum(counts.values())} change(s)")
    for kind in sorted(counts):
        print(f"  {kind:<20} {counts[kind]:>6}")
    return 0
