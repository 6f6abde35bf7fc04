"""huitong: the command line. Parses arguments, calls the engine, prints; nothing else lives here."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

DEFAULT_CONFIG = os.environ.get("HUITONG_CONFIG", "config/engine.yaml")


# -- helpers ------------------------------------------------------------------------------------------------
def _load(args: argparse.Namespace) -> Any:
    from engine.config import load_config

    result = load_config(args.config)
    if result.errors or result.config is None:
        for error in result.errors:
            print(error, file=sys.stderr)
        print(f"{len(result.errors)} configuration error(s); nothing was started", file=sys.stderr)
        raise SystemExit(1)
    return result.config


def _settings(args: argparse.Namespace) -> Any:
    """engine.yaml alone; channel files are not needed (or checked) to read the store."""
    from engine.config import load_engine_settings

    settings, errors = load_engine_settings(args.config)
    if settings is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        raise SystemExit(1)
    return settings


def _rules(settings: Any) -> Any:
    """The rule files beside the mappings (care, indicators), compiled; exits 1 on any error."""
    from engine.config.rules import load_rules

    rules, errors = load_rules(settings.mappings)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        raise SystemExit(1)
    return rules


def _care_rules(settings: Any) -> Any:
    care = _rules(settings).care
    if care is None:
        print(f"no care rules in {settings.mappings}", file=sys.stderr)
        raise SystemExit(1)
    return care


def _store(args: argparse.Namespace, settings: Any = None, *, create: bool = False) -> Any:
    """The store named by engine.yaml, migrated to the newest schema; only a command that fills it (`create`)
    makes a SQLite file that is not there."""
    from engine.store.database import migrate, missing_file, open_engine

    url = (settings or _settings(args)).store
    missing = None if create else missing_file(url)
    if missing is not None:
        print(no_store(missing, args.config), file=sys.stderr)
        raise SystemExit(1)
    engine = open_engine(url)
    migrate(engine)
    return engine


def no_store(path: Path, config: str) -> str:
    return (
        f"no store at {path} (store: in {config}): nothing has been received there yet; start the daemon or"
        " run a backfill, or point store: at the existing file"
    )


def _logging(config: Any, *, daemon: bool) -> None:
    from engine.runtime.logging import configure

    fmt = config.logging.format
    if fmt == "auto" and daemon and not sys.stderr.isatty():
        fmt = "json"
    configure(config.logging.level, fmt, str(config.logging.file) if config.logging.file else None)


def _iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")


def _time_arg(text: str) -> float:
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


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:2575, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


# -- commands -----------------------------------------------------------------------------------------------
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

    result = load_config(args.config, check_environment=not args.no_environment)
    for error in result.errors:
        print(error)
    if result.errors or result.config is None:
        print(f"{len(result.errors)} error(s)", file=sys.stderr)
        return 1
    config = result.config
    print(f"ok: {config.path}")
    print(f"  store     {make_url(config.store).render_as_string(hide_password=True)}")
    for name, spec in config.channels.items():
        source = spec.source
        where = _source_where(source)
        state = "" if spec.enabled else " (disabled)"
        dests = ", ".join(f"{d.name}:{d.type}" for d in spec.destinations) or "journal only"
        print(f"  channel   {name}{state}: {' '.join(filter(None, (source.type, where)))} -> {dests}")
    return 0


def cmd_daemon(args: argparse.Namespace, only: str | None = None) -> int:
    from engine.runtime.channels import ChannelStartError
    from engine.runtime.daemon import Daemon

    config = _load(args)
    if only is not None and only not in config.channels:
        print(f"no channel named {only!r}; channels: {', '.join(sorted(config.channels)) or '(none)'}", file=sys.stderr)
        return 1
    _logging(config, daemon=only is None)
    try:
        return asyncio.run(Daemon(config, only=only).run())
    except ChannelStartError as exc:
        print(f"{exc}; nothing is running", file=sys.stderr)
        return 1


def cmd_record_worker(args: argparse.Namespace) -> int:
    from engine.runtime import record_process

    config = _load(args)
    _logging(config, daemon=True)
    return asyncio.run(record_process.run(config, args.node, args.only))


def cmd_run(args: argparse.Namespace) -> int:
    return cmd_daemon(args, only=args.channel)


def cmd_send(args: argparse.Namespace) -> int:
    import ssl

    from engine.connectors.mllp.client import exchange
    from engine.domain.formats.hl7v2 import BatchError, read_ack, split_messages

    host, port = args.to
    context = None
    if args.tls:
        context = ssl.create_default_context(cafile=args.ca)
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if args.cert:
            context.load_cert_chain(args.cert, args.key)
    payloads: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:  # nothing is sent when one file cannot be read: say which, before connecting
            print(f"cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        try:
            parts = [data] if args.whole else split_messages(data)
        except BatchError:
            parts = [data]  # let the receiver judge it
        payloads.extend((name, part) for part in parts)
    worst = 0
    try:
        for (name, _), answer in zip(
            payloads, exchange(host, port, (p for _, p in payloads), ssl_context=context), strict=False
        ):
            ack = read_ack(answer)
            line = f"{ack.code or '??'}  {name}  {ack.control_id}"
            if ack.text:
                line += f"  {ack.text}"
            print(line)
            if ack.code not in ("AA", "CA"):
                worst = 1
    except OSError as exc:
        print(f"cannot talk to {host}:{port}: {exc}", file=sys.stderr)
        return 2
    return worst


def _message_json(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "channel": view.channel,
        "status": view.status,
        "control_id": view.control_id,
        "message_type": view.message_type,
        "received_at": _iso(view.received_at),
        "source": view.source,
        "error": view.error,
        "duplicate_of": view.duplicate_of,
        "destinations": [
            {
                "name": d.name,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "next_attempt_at": _iso(d.next_attempt_at) or None,
                "sent_at": _iso(d.sent_at) or None,
            }
            for d in view.destinations
        ],
    }


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def cmd_messages_list(args: argparse.Namespace) -> int:
    from engine.store import queries

    engine = _store(args)
    with engine.connect() as conn:
        ids = queries.find_ids(
            conn, channel=args.channel, status=args.status, since=args.since, until=args.until, limit=args.limit
        )
        views = queries.messages_by_id(conn, ids)
    if args.json:
        _print_json([_message_json(v) for v in views])
        return 0
    print(f"{'ID':>8}  {'RECEIVED':<29}  {'CHANNEL':<16} {'TYPE':<12} {'CONTROL ID':<22} {'STATUS':<10} DESTINATIONS")
    for v in views:
        dests = " ".join(f"{d.name}:{d.status}({d.attempts})" for d in v.destinations)
        print(
            f"{v.id:>8}  {_iso(v.received_at):<29}  {v.channel:<16} {v.message_type:<12} {v.control_id[:22]:<22} "
            f"{v.status:<10} {dests}"
        )
        if v.error:
            print(f"{'':>10}{v.error}")
    return 0


def cmd_messages_show(args: argparse.Namespace) -> int:
    from engine.store import queries

    engine = _store(args)
    with engine.connect() as conn:
        views = queries.messages_by_id(conn, [args.id], with_content=True)
    if not views:
        print(f"no message with id {args.id}", file=sys.stderr)
        return 1
    v = views[0]
    if args.json:
        out = _message_json(v)
        out["raw"] = (v.raw or b"").decode(v.charset or "utf-8", "replace")
        out["content"] = {k: b.decode("utf-8", "replace") for k, b in v.content.items()}
        for d, shown in zip(v.destinations, out["destinations"], strict=True):
            shown["response"] = d.response.decode("utf-8", "replace") if d.response else None
        _print_json(out)
        return 0
    for label, value in [
        ("id", v.id),
        ("channel", v.channel),
        ("source", v.source),
        ("received", _iso(v.received_at)),
        ("type", v.message_type),
        ("control id", v.control_id),
        ("charset", v.charset),
        ("status", v.status),
        ("error", v.error),
        ("duplicate of", v.duplicate_of),
    ]:
        if value not in (None, ""):
            print(f"{label:>13}: {value}")
    for d in v.destinations:
        line = f"{'destination':>13}: {d.name} {d.status} attempts={d.attempts}"
        if d.sent_at:
            line += f" sent={_iso(d.sent_at)}"
        if d.next_attempt_at:
            line += f" next={_iso(d.next_attempt_at)}"
        print(line)
        if d.last_error:
            print(f"{'':>15}{d.last_error}")
    print("\n--- message ---")
    print((v.raw or b"").decode(v.charset or "utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").rstrip())
    for stage, body in v.content.items():
        print(f"\n--- {stage} ---")
        print(body.decode("utf-8", "replace").replace("\r", "\n").rstrip())
    for d in v.destinations:
        if d.response:
            print(f"\n--- response from {d.name} ---")
            print(d.response.decode("utf-8", "replace").replace("\r", "\n").rstrip())
    return 0


def cmd_messages_reprocess(args: argparse.Namespace) -> int:
    from engine.pipeline.reprocess import reprocess
    from engine.store import queries

    if not args.ids and not (args.channel or args.status or args.dead):
        print("name message ids, or a filter (--channel, --status, --since, --until, --dead)", file=sys.stderr)
        return 1
    engine = _store(args)
    with engine.begin() as conn:
        if args.ids:
            ids = list(args.ids)
        elif args.dead:
            ids = queries.dead_message_ids(conn, args.channel)
        else:
            ids = queries.find_ids(
                conn, channel=args.channel, status=args.status, since=args.since, until=args.until, newest_first=False
            )
        messages, deliveries = reprocess(conn, ids, time.time(), reason=args.reason)
    print(
        f"reprocessing {messages} message(s), {deliveries} delivery(ies) queued again"
        + ("" if messages or deliveries else " (nothing matched)")
    )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Old messages of channels with `retention:` lose their content, then their rows (docs/retention.md)."""
    from engine.runtime.retention import prune
    from engine.store.audit import who

    config = _load(args)
    if args.channel is not None and args.channel not in config.channels:
        print(f"no channel named {args.channel!r}; channels: {', '.join(sorted(config.channels))}", file=sys.stderr)
        return 1
    specs = [s for s in config.channels.values() if s.retention and args.channel in (None, s.channel)]
    if not specs:
        print("no channel has retention: (the journal keeps everything)")
        return 0
    done = prune(_store(args, config), specs, dry_run=args.dry_run, actor=who())
    verb = "would prune" if args.dry_run else "pruned"
    for p in done:
        print(f"{p.channel:<24} {verb}: content of {p.content} messages, {p.messages} messages")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from engine.store import queries

    engine = _store(args)
    with engine.connect() as conn:
        table = queries.stats(conn)
    if args.json:
        _print_json(table)
        return 0
    columns = list(queries.MESSAGE_COUNTS) + list(queries.DELIVERY_COUNTS)
    print(f"{'CHANNEL':<20}" + "".join(f"{c.upper():>11}" for c in columns))
    for channel, counts in table.items():
        print(f"{channel:<20}" + "".join(f"{counts[c]:>11}" for c in columns))
    return 0


def _person_view(args: argparse.Namespace, build: Any = None) -> Any:
    """What `build(conn, person, settings)` makes of the person args.person names (default: the person view);
    prints why and exits 1 when there is no such person (or several)."""
    from engine.pipeline.record_view import PersonNotFound, find_person, person_view

    settings = _settings(args)
    with _store(args, settings).connect() as conn:
        try:
            person = find_person(conn, args.person)
        except PersonNotFound as exc:
            print(exc, file=sys.stderr)
            raise SystemExit(1) from None
        if build is not None:
            return build(conn, person, settings)
        return person_view(conn, person, settings.record.precedence)


def _sources(sources: Sequence[str]) -> str:
    return ", ".join(sources)


def cmd_record_show(args: argparse.Namespace) -> int:
    from engine.domain.record.summary import SECTIONS, demographic_order, describe

    view = _person_view(args)
    patient = view.patient
    fields = demographic_order([k for k in patient.body if k not in ("resourceType", "id")])
    if args.json:
        _print_json(
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

    data = orjson.dumps(bundle(_person_view(args), args.base.rstrip("/")), option=orjson.OPT_INDENT_2) + b"\n"
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_record_assess(args: argparse.Namespace) -> int:
    from engine.pipeline.assessment import as_fhir, as_json, as_text, assess_person

    on = args.on or datetime.now().date()
    report = _person_view(
        args, lambda conn, person, settings: assess_person(
            conn, person, settings.record.precedence, _care_rules(settings), on
        )
    )
    if args.fhir:
        sys.stdout.buffer.write(orjson.dumps(as_fhir(report), option=orjson.OPT_INDENT_2) + b"\n")
    elif args.json:
        _print_json(as_json(report))
    else:
        sys.stdout.write(as_text(report))
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    """Indicators of a period from the whole record; exit 2 for a period, institution or team that does not exist."""
    from engine.config.orgs import load_organisations, registry_file
    from engine.domain.indicators import compute, parse_period, to_csv, to_json
    from engine.domain.orgs import UnknownCode
    from engine.pipeline.indicators import residents_from_record

    try:
        period = parse_period(args.period)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    settings = _settings(args)
    registry = registry_file(Path(args.config))
    orgs, errors = load_organisations(registry)
    if orgs is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    rules = _rules(settings)
    inputs = rules.record_inputs
    if inputs is None:
        print(f"no indicator definitions and record inputs in {settings.mappings}", file=sys.stderr)
        return 1
    try:
        shown = orgs.rollup(args.org) if args.org else None
        team = orgs.team(args.team) if args.team else None
    except UnknownCode as exc:
        print(f"{exc} in {registry}", file=sys.stderr)
        return 2
    if team is not None and shown is not None and team.org not in shown:
        print(f"team {team.team_id!r} belongs to {team.org}, which is not {args.org} or below it", file=sys.stderr)
        return 2
    with _store(args, settings).connect() as conn:
        residents = residents_from_record(conn, settings.record.precedence, orgs, inputs, period)
        try:
            rows = compute(rules.indicators, residents, period, orgs)
        except UnknownCode as exc:
            print(f"the record names {exc}; add it to {registry}", file=sys.stderr)
            return 1
    rows = [r for r in rows if (shown is None or r.org in shown) and (team is None or r.team == team.team_id)]
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


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from engine.domain.care import TaskState
    from engine.domain.care.task_fhir import task_fields
    from engine.pipeline.record_view import PersonNotFound, find_person
    from engine.store import care_tasks

    with _store(args).connect() as conn:
        try:
            person = find_person(conn, args.person) if args.person else None
        except PersonNotFound as exc:
            print(exc, file=sys.stderr)
            return 1
        stored = care_tasks.listing(conn, state=TaskState(args.state) if args.state else None, person_id=person)
    if args.json:
        _print_json([{**task_fields(s.person_id, s.task), "updated_at": _iso(s.updated_at)} for s in stored])
        return 0
    print(f"{'PERSON':<32}  {'STATE':<8} {'WINDOW':<22}  {'RULE':<15} TASK")
    for s in stored:
        t = s.task
        how = f"  (done {t.evidence.on} by {t.evidence.resource})" if t.evidence else ""
        print(f"{s.person_id:<32}  {t.state.value:<8} {t.start.isoformat()}..{t.end.isoformat()}  {t.rule:<15} "
              f"{t.name}{how}")
    print(f"{len(stored)} task(s)")
    return 0


def cmd_tasks_refresh(args: argparse.Namespace) -> int:
    """Every person's tasks as of a date; changes go to the task-events channels like the daemon's own."""
    from engine.pipeline.care_loop import CareLoop
    from engine.runtime.progress import Progress
    from engine.store import care_tasks
    from engine.store.database import WRITER

    config = _load(args)
    _logging(config, daemon=False)  # progress lines go to standard error (and the log file), not into the counts
    care = CareLoop.of(config)
    if care.care_rules is None:
        print(f"no care rules in {config.mappings_dir}: no tasks to refresh", file=sys.stderr)
        return 1
    engine = _store(args, config)
    on = args.on or datetime.now().date()
    with engine.connect() as conn:
        persons = care_tasks.persons(conn)
    progress = Progress("tasks refresh", len(persons), unit="person")
    counts: dict[str, int] = {}
    for i in range(0, len(persons), 100):  # a transaction per 100 persons: a running daemon waits only that long
        part = persons[i : i + 100]
        with engine.connect().execution_options(**WRITER) as conn, conn.begin():
            changes = care.refresh_tasks(conn, part, on, time.time())
        for change in changes:
            counts[change.kind] = counts.get(change.kind, 0) + 1
        progress.update(len(part))
    progress.close()
    print(f"{len(persons)} person(s) on {on.isoformat()}: {sum(counts.values())} change(s)")
    for kind in sorted(counts):
        print(f"  {kind:<20} {counts[kind]:>6}")
    return 0


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None


def _batch_size(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of messages, 1 or more, got {text!r}")
    return int(text)


def _duration(text: str) -> float:
    from engine.config.values import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_backfill(args: argparse.Namespace) -> int:
    """History through the channel's pipeline, resumable; see docs/backfill.md."""
    from engine.runtime import backfill

    config = _load(args)
    if args.channel not in config.channels:
        names = ", ".join(sorted(config.channels)) or "(none)"
        print(f"no channel named {args.channel!r}; channels: {names}", file=sys.stderr)
        return 1
    _logging(config, daemon=False)  # progress lines go to standard error, the summary to standard output
    try:
        return backfill.run(
            config,
            None if args.dry_run else _store(args, config, create=True),
            args.channel,
            path=args.path,
            resume=args.resume,
            restart=args.restart,
            batch=args.batch,
            out=sys.stdout,
            since=args.since,
            until=args.until,
            max_wait=args.max_wait,
        )
    except backfill.Refused as exc:
        print(f"backfill refused: {exc}", file=sys.stderr)
        return 1


def cmd_mpi(args: argparse.Namespace) -> int:
    from engine.runtime.mpi_commands import run

    return run(args, _load(args))


# -- argument parsing ---------------------------------------------------------------------------------------
def _mpi_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    mpi = sub.add_parser("mpi", help="master patient index: search, review, link, merge, dedupe").add_subparsers(
        dest="mpi_command", required=True
    )
    person_help = "enterprise person id, resident ID, or a source MRN as system|value or value"
    operator = argparse.ArgumentParser(add_help=False)
    operator.add_argument("--reason", required=True, help="why: kept in the audit trail")
    operator.add_argument("--actor", help="who decides (default: the login name)")

    p = mpi.add_parser("search", parents=[common], help="persons matching a resident ID, name, birth date, phone")
    p.add_argument("--id", help="resident ID (15 or 18 digits)")
    p.add_argument("--name")
    p.add_argument("--birth-date", metavar="DATE")
    p.add_argument("--sex")
    p.add_argument("--phone")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--fhir", action="store_true", help="a searchset Bundle like Patient/$match, with match-grade")
    p = mpi.add_parser("show", parents=[common], help="a person's source records, merges and open reviews")
    p.add_argument("person", metavar="PERSON", help=person_help)
    p.add_argument("--json", action="store_true")
    p = mpi.add_parser("explain", parents=[common], help="why two records score what they score (a waterfall)")
    p.add_argument("a", metavar="A", help="MPI record id, or a person (its earliest record)")
    p.add_argument("b", metavar="B", help="MPI record id, or a person (its earliest record)")
    p.add_argument("--json", action="store_true")
    review = mpi.add_parser("review", help="the queue of doubtful matches").add_subparsers(
        dest="review_command", required=True
    )
    p = review.add_parser("list", parents=[common], help="open reviews, oldest first")
    p.add_argument("--all", action="store_true", help="decided ones too")
    p.add_argument("--json", action="store_true")
    for verb, text in (("accept", "the record is the candidate person"), ("reject", "never the same person")):
        p = review.add_parser(verb, parents=[common], help=text)
        p.add_argument("id", type=int)
        p.add_argument("--reason", help="kept in the audit trail")
        p.add_argument("--actor", help="who decides (default: the login name)")
    p = mpi.add_parser("merge", parents=[common, operator], help="merge the retired person into the surviving one")
    p.add_argument("surviving", metavar="SURVIVING", help=person_help)
    p.add_argument("retired", metavar="RETIRED", help=person_help)
    p = mpi.add_parser("unmerge", parents=[common, operator], help="undo a merge exactly (ids in `mpi show`)")
    p.add_argument("merge", type=int, metavar="MERGE")
    p = mpi.add_parser("link", parents=[common, operator], help="a source record is that person (sticky)")
    p.add_argument("record", metavar="RECORD", help="MPI record id (see `mpi show`)")
    p.add_argument("person", metavar="PERSON", help=person_help)
    p = mpi.add_parser("unlink", parents=[common, operator], help="a source record is not its person (sticky)")
    p.add_argument("record", metavar="RECORD", help="MPI record id (see `mpi show`)")
    p = mpi.add_parser("dedupe", parents=[common], help="batch: the store's records, or a CSV file (--input)")
    p.add_argument("--source", help="only merge groups that hold a record of this source system")
    p.add_argument("--input", metavar="CSV", help="source,local_id,name,sex,birth_date,id_number,phone,address")
    p.add_argument("--output", metavar="CSV", help="source,local_id,person_id,decision (with --input)")
    p.add_argument("--actor", help="recorded as who merged (default: the login name)")
    p = mpi.add_parser("train", parents=[common], help="re-estimate the model's m/u weights (EM) from the data")
    p.add_argument("--input", metavar="CSV", help="train on this file instead of the store's records")
    p.add_argument("--output", metavar="FILE", help="where to write the model (default: the file settings name)")
    for p in mpi.choices.values():
        p.set_defaults(func=cmd_mpi)
    for p in review.choices.values():
        p.set_defaults(func=cmd_mpi)


def _mappings(args: argparse.Namespace) -> Any:
    """The compiled mappings of the engine.yaml's mappings directory; exits 1 on any error."""
    from engine.config import load_engine_settings
    from engine.config.mappings import load_mappings

    settings, errors = load_engine_settings(args.config)
    if settings is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        raise SystemExit(1)
    mappings, problems = load_mappings(settings.mappings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} mapping error(s)", file=sys.stderr)
        raise SystemExit(1)
    return mappings


def cmd_convert(args: argparse.Namespace) -> int:
    from engine.domain.formats.hl7v2 import HL7Error
    from engine.domain.formats.xml import XmlError
    from engine.domain.mapping import MappingError
    from engine.domain.mapping.bundle import to_bundle
    from engine.pipeline.mapping import map_file

    mappings = _mappings(args)
    try:
        data = Path(args.file).read_bytes()
        results = map_file(
            mappings,
            [args.mapping] if args.mapping else None,
            data,
            format=args.format,
            charset=args.charset,
            source_system=args.source_system,
        )
    except OSError as exc:
        print(f"{args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (MappingError, XmlError, HL7Error) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    bundle = to_bundle(results)
    sys.stdout.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from engine.config import load_engine_settings
    from engine.runtime.mapping_tests import run_cases

    mappings = _mappings(args)
    only: set[str] | None = None
    if args.names:
        only = set()
        for name in args.names:
            if name in mappings.mappings:
                only.add(name)
                continue
            config = _load(args)
            spec = config.channels.get(name)
            if spec is None:
                print(f"{name}: neither a mapping nor a channel", file=sys.stderr)
                return 1
            only.update(spec.map or [m for m in mappings.mappings])
    settings, _ = load_engine_settings(args.config)
    assert settings is not None
    results = run_cases(settings.mappings, mappings, only)
    failed = 0
    for result in results:
        rel = os.path.relpath(result.file)
        if result.ok:
            print(f"ok    {rel}")
            continue
        failed += 1
        print(f"FAIL  {rel}")
        for problem in result.problems:
            print("      " + problem.replace("\n", "\n      "))
    print(f"{len(results)} case(s), {failed} failed")
    return 1 if failed or not results else 0


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

    p = sub.add_parser("validate", parents=[common], help="check the whole configuration; exit 1 on any error")
    p.add_argument("--no-environment", action="store_true", help="skip checks of files, directories and TLS keys")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("daemon", parents=[common], help="run every enabled channel until SIGTERM")
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser("run", parents=[common], help="run one channel in the foreground")
    p.add_argument("channel")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("send", parents=[common], help="send HL7 v2 files over MLLP and print each ACK")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--to", required=True, type=_host_port, metavar="HOST:PORT")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--ca", help="CA bundle that signs the server certificate")
    p.add_argument("--cert", help="client certificate (mutual TLS)")
    p.add_argument("--key", help="private key of --cert")
    p.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    p.add_argument("--whole", action="store_true", help="send each file as one frame, even a batch")
    p.set_defaults(func=cmd_send)

    messages = sub.add_parser("messages", help="what happened to each message").add_subparsers(
        dest="messages_command", required=True
    )
    p = messages.add_parser("list", parents=[common], help="newest first")
    p.add_argument("--channel")
    p.add_argument("--status", type=str.upper)
    p.add_argument("--since", type=_time_arg, metavar="TIME", help="ISO time or age (30m, 2h, 7d)")
    p.add_argument("--until", type=_time_arg, metavar="TIME")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_messages_list)
    p = messages.add_parser("show", parents=[common], help="one message: statuses, deliveries, content")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_messages_show)
    p = messages.add_parser("reprocess", parents=[common], help="run messages through the pipeline again")
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--channel")
    p.add_argument("--status", type=str.upper)
    p.add_argument("--since", type=_time_arg, metavar="TIME")
    p.add_argument("--until", type=_time_arg, metavar="TIME")
    p.add_argument("--dead", action="store_true", help="every message with a DEAD delivery")
    p.add_argument("--reason", default="", help="recorded in the audit trail")
    p.set_defaults(func=cmd_messages_reprocess)

    p = sub.add_parser("record-worker", parents=[common])  # started by the daemon (engine/runtime/record_process.py)
    p.add_argument("--node", required=True)
    p.add_argument("--only")
    p.set_defaults(func=cmd_record_worker)

    p = sub.add_parser("convert", parents=[common], help="print the FHIR Bundle the mappings make of one file")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--from", dest="format", choices=["hl7v2", "xml", "fhir"], help="input format (default: sniffed)")
    p.add_argument("--mapping", help="mapping name, e.g. hl7v2/adt (default: the first that takes the message)")
    p.add_argument("--charset", help="codec for HL7 v2 without MSH-18 (default utf-8), e.g. gb18030")
    p.add_argument("--source-system", default="", help="the value of $source_system")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("test", parents=[common], help="run the mapping test cases (mappings/tests)")
    p.add_argument("names", nargs="*", metavar="CHANNEL|MAPPING", help="only the cases of these (default: all)")
    p.set_defaults(func=cmd_test)

    record = sub.add_parser("record", help="the unified health record of one person").add_subparsers(
        dest="record_command", required=True
    )
    person_help = "enterprise person id, resident ID (18 digits), or a source MRN as system|value or value"
    p = record.add_parser("show", parents=[common], help="360° view: demographics with their sources, then history")
    p.add_argument("person", metavar="PERSON", help=person_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_record_show)
    p = record.add_parser("export", parents=[common], help="FHIR searchset Bundle, like Patient/$everything")
    p.add_argument("person", metavar="PERSON", help=person_help)
    p.add_argument("--output", metavar="FILE", help="write the Bundle here instead of standard output")
    p.add_argument("--base", default="https://huitong.invalid/fhir", metavar="URL", help="base of each entry's fullUrl")
    p.set_defaults(func=cmd_record_export)
    p = record.add_parser("assess", parents=[common], help="health assessment from the record: labels, control, tasks")
    p.add_argument("person", metavar="PERSON", help=person_help)
    p.add_argument("--on", type=_date_arg, metavar="DATE", help="assess as of this date (default today)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object")
    output.add_argument("--fhir", action="store_true", help="FHIR R4 collection Bundle (Composition first)")
    p.set_defaults(func=cmd_record_assess)

    p = sub.add_parser("indicators", parents=[common], help="family-doctor and public-health indicators of a period")
    p.add_argument("--period", required=True, metavar="PERIOD", help="2026 (a year), 2026Q3 (a quarter) or 2026-07")
    p.add_argument("--org", metavar="CODE", help="only this institution and those below it (organisations.yaml)")
    p.add_argument("--team", metavar="ID", help="only this family-doctor team")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_indicators)

    tasks = sub.add_parser("tasks", help="care tasks (follow-ups, checks) the record calls for").add_subparsers(
        dest="tasks_command", required=True
    )
    p = tasks.add_parser("list", parents=[common], help="stored tasks, by person and window")
    p.add_argument("--state", type=str.upper, choices=["PLANNED", "DUE", "OVERDUE", "DONE", "LOST"])
    p.add_argument("--person", metavar="PERSON", help=person_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tasks_list)
    p = tasks.add_parser("refresh", parents=[common], help="recompute every person's tasks; count what changed")
    p.add_argument("--on", type=_date_arg, metavar="DATE", help="as of this date (default today)")
    p.set_defaults(func=cmd_tasks_refresh)

    p = sub.add_parser("backfill", parents=[common], help="read a channel's history in bulk; resumable")
    p.add_argument("channel")
    p.add_argument("--path", type=Path, metavar="DIR", help="file source: directory tree to read (default its path)")
    p.add_argument(
        "--since", metavar="VALUE", help="database source: from this watermark on, as its query reads it"
    )
    p.add_argument("--until", metavar="VALUE", help="database source: rows up to this watermark, inclusive")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    start.add_argument("--restart", action="store_true", help="drop an unfinished backfill's checkpoint; start over")
    p.add_argument("--dry-run", action="store_true", help="read and map, write nothing, report what would happen")
    p.add_argument("--batch", type=_batch_size, default=200, metavar="N", help="messages per transaction (default 200)")
    p.add_argument(
        "--max-wait",
        type=_duration,
        default="60s",
        metavar="DURATION",
        help="at the end, leave deliveries to the daemon when none has settled for this long (default 60s)",
    )
    p.set_defaults(func=cmd_backfill)

    _mpi_parsers(sub, common)

    p = sub.add_parser("prune", parents=[common], help="prune the journal as each channel's retention: says")
    p.add_argument("--dry-run", action="store_true", help="count what would be pruned, change nothing")
    p.add_argument("--channel", help="only this channel")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("stats", parents=[common], help="per channel: received, filtered, errored, queued, sent, dead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "demo", help="the county scenario: the engine, the HIS, public-health and EMR simulators, a day of traffic"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.add_argument("--work", type=Path, help="work directory, emptied first (default var/demo)")
    p.set_defaults(func=cmd_demo)
    return top


def cmd_demo(args: argparse.Namespace) -> int:
    """samples/county_demo.py, which lives beside this file in the repository (it is a sample, not the engine)."""
    root = Path(__file__).resolve().parent
    sys.path.insert(0, str(root))
    from samples.county_demo import main as demo

    return demo([*(["--json"] if args.json else []), *(["--work", str(args.work)] if args.work else [])])


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


if __name__ == "__main__":
    sys.exit(main())
