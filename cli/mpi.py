"""`huitong mpi ...`: search, show, explain, review, link, unlink, merge, unmerge, dedupe, train.

Each command opens the store named by engine.yaml, does its work in one transaction, and prints for people
(or JSON / FHIR with --json / --fhir). Operator changes carry the operator's name and reason into the audit.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cli.common import iso, load, print_json

if TYPE_CHECKING:  # the engine is imported by the command that runs, not by every `huitong` start
    from sqlalchemy import Connection, Engine

    from engine.config import EngineConfig
    from engine.domain.mpi.matcher import Explanation, PersonScore
    from engine.domain.mpi.settings import Settings
    from engine.pipeline.mpi import MpiResolver


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
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


MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


class CommandError(Exception):
    """What the operator asked cannot be done; printed as is, exit status 1."""


def _engine(config: EngineConfig) -> Engine:
    from engine.store.database import migrate, missing_file, open_engine

    missing = missing_file(config.store)
    if missing is not None:
        raise CommandError(f"no store at {missing} (store: in {config.path}): nothing has been recorded there yet")
    engine = open_engine(config.store)
    migrate(engine)
    return engine


def _person(conn: Connection, text: str) -> str:
    from engine.views.record_view import PersonNotFound, find_person

    try:
        return find_person(conn, text)
    except PersonNotFound as exc:
        raise CommandError(str(exc)) from None


def _actor(args: argparse.Namespace) -> str:
    from engine.store.audit import who

    return args.actor or who()


# --- search ------------------------------------------------------------------------------------------------


def search(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.domain.mpi import features
    from engine.pipeline import mpi_search
    from engine.runtime.wiring import resolver_of
    from engine.views.record_view import person_view

    row = features.from_fields(
        name=args.name, sex=args.sex, birth_date=args.birth_date, id_number=args.id, phone=args.phone, address=None
    )
    resolver = resolver_of(config)
    with _engine(config).connect() as conn:
        if not any(row.get(c) for c in ("id_raw", "name", "phone")):
            raise CommandError("nothing to search by: give a resident ID, a name or a phone")
        scores = mpi_search.search(conn, resolver, row, args.limit)
        if args.fhir:
            print_json(_match_bundle(conn, config, scores))
            return 0
        if args.json:
            print_json([_score_json(s) for s in scores])
            return 0
        if not scores:
            print("no person matches")
            return 0
        for s in scores:
            view = person_view(conn, s.person_id, config.record.precedence)
            body = view.patient.body
            name = (body.get("name") or [{}])[0].get("text") or ""
            print(
                f"{s.person_id}  {s.grade_name:<13}  p={s.probability:.4f}  {name}  {body.get('gender', '')}"
                f"  {body.get('birthDate', '')}" + (f"  ({s.rule})" if s.rule else "")
            )
    return 0


def _score_json(s: PersonScore) -> dict[str, Any]:
    return {
        "person": s.person_id,
        "grade": s.grade_name,
        "probability": s.probability,
        "weight": s.weight,
        "closest_record": s.record_id,
        "rule": s.rule or None,
    }


def _match_bundle(conn: Connection, config: EngineConfig, scores: list[PersonScore]) -> dict[str, Any]:
    """Like FHIR Patient/$match: each person's merged Patient with its score and match-grade."""
    from engine.views.record_view import person_view

    entries = []
    for s in scores:
        view = person_view(conn, s.person_id, config.record.precedence)
        entries.append(
            {
                "fullUrl": f"Patient/{s.person_id}",
                "resource": view.patient.body,
                "search": {
                    "mode": "match",
                    "score": round(s.probability, 6),
                    "extension": [{"url": MATCH_GRADE, "valueCode": s.grade_name}],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


# --- show and explain --------------------------------------------------------------------------------------


def show(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.store import mpi as store
    from engine.store import record as record_store
    from engine.views.mpi_review import record_json

    with _engine(config).connect() as conn:
        person = _person(conn, args.person)
        records = store.of_persons(conn, [person])
        merges = record_store.merges_into(conn, person)
        reviews = [
            r for r in store.reviews(conn, "open") if r.candidate == person or r.record_id in {x.id for x in records}
        ]
    if args.json:
        print_json(
            {
                "person": person,
                "records": [record_json(r) for r in records],
                "merges": [
                    {"merge": m.id, "retired": m.retired, "at": iso(m.at), "undone_at": iso(m.undone_at) or None}
                    for m in merges
                ],
                "open_reviews": [r.id for r in reviews],
            }
        )
        return 0
    print(f"person {person}: {len(records)} record(s)")
    for r in records:
        p = f"p={r.probability:.4f}" if r.probability is not None else ""
        print(f"  {r.id}  {r.source_system:<28} {r.local_id:<40} {r.state:<6} {r.link_source:<6} {r.rule} {p}")
    for m in merges:
        state = f"undone {iso(m.undone_at)}" if m.undone_at else "in force"
        print(f"  merge {m.id}: {m.retired} merged in at {iso(m.at)} ({state})")
    for review in reviews:
        print(f"  open review {review.id}: record {review.record_id} may be person {review.candidate}")
    return 0


def explain(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.runtime.wiring import resolver_of
    from engine.views import mpi_review

    resolver = resolver_of(config)
    with _engine(config).connect() as conn:
        try:
            a, b = mpi_review.record_of(conn, args.a), mpi_review.record_of(conn, args.b)
        except LookupError as exc:  # no such person, or a person without an MPI record
            raise CommandError(str(exc)) from None
        result = mpi_review.explain(resolver, conn, a, b)
    if args.json:
        print_json({"a": a.id, "b": b.id, **mpi_review.explanation_json(result, resolver.settings)})
        return 0
    print(f"record {a.id} ({a.source_system}) vs record {b.id} ({b.source_system})")
    print(waterfall(result, resolver.settings))
    return 0


def waterfall(e: Explanation, settings: Settings) -> str:
    """Each comparison's contribution to the match weight, as a running total."""
    lines = [f"  {'':<14} {'level':<44} {'m':>8} {'u':>10} {'weight':>8} {'total':>8}"]
    total = e.prior_weight
    lines.append(f"  {'prior':<14} {'':<44} {'':>8} {'':>10} {e.prior_weight:>+8.2f} {total:>+8.2f}")
    for c in e.contributions:
        total += c.weight + c.tf_adjustment
        m = f"{c.m:.4f}" if c.m is not None else "-"
        u = f"{c.u:.6f}" if c.u is not None else "-"
        level = c.level + (f" (term frequency {c.tf_adjustment:+.2f})" if c.tf_adjustment else "")
        lines.append(
            f"  {c.comparison:<14} {level:<44} {m:>8} {u:>10} {c.weight + c.tf_adjustment:>+8.2f} {total:>+8.2f}"
        )
    t = settings.thresholds
    lines.append(f"  match weight {e.weight:+.2f}, probability {e.probability:.6f}: {e.grade}")
    if e.rule:
        lines.append(f"  identity rule: {e.rule}")
    paired = " + ".join(e.blocking_rule) if e.blocking_rule else "none (no blocking rule would compare them)"
    lines.append(f"  blocking rule that pairs them: {paired}")
    lines.append(f"  thresholds: link >= {t.link}, review >= {t.review}, possible >= {t.possible}")
    return "\n".join(lines)


# --- operator changes --------------------------------------------------------------------------------------


def _change(config: EngineConfig, work: Any) -> Any:
    from engine.pipeline.mpi import MpiError
    from engine.runtime.wiring import resolver_of
    from engine.store.database import writing

    resolver = resolver_of(config)
    with writing(_engine(config)) as conn:
        try:
            return work(conn, resolver)
        except MpiError as exc:
            raise CommandError(str(exc)) from None


def review(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.store import mpi as store
    from engine.views.mpi_review import review_json

    if args.review_command == "list":
        with _engine(config).connect() as conn:
            items = store.reviews(conn, None if args.all else "open")
            if args.json:
                print_json([review_json(r) for r in items])
                return 0
            if not items:
                print("no open reviews")
            for r in items:
                stored = store.by_ids(conn, [r.record_id])
                source = stored[0].source_system if stored else "?"
                print(
                    f"{r.id:>6}  {r.status:<8} record {r.record_id} ({source}) may be person {r.candidate}"
                    f"  p={r.probability:.4f}  {iso(r.created_at)}"
                )
        return 0
    reason = args.reason or ""
    now = time.time()
    if args.review_command == "accept":
        person = _change(config, lambda c, r: r.accept(c, args.id, actor=_actor(args), reason=reason, now=now))
        print(f"review {args.id} accepted: the record is person {person}")
    else:
        _change(config, lambda c, r: r.reject(c, args.id, actor=_actor(args), reason=reason, now=now))
        print(f"review {args.id} rejected: never matched automatically again")
    return 0


def merge(args: argparse.Namespace, config: EngineConfig) -> int:
    now = time.time()

    def work(conn: Connection, resolver: MpiResolver) -> tuple[int, str, str]:
        surviving, retired = _person(conn, args.surviving), _person(conn, args.retired)
        merge_id = resolver.merge_persons(conn, surviving, retired, actor=_actor(args), reason=args.reason, now=now)
        return merge_id, surviving, retired

    merge_id, surviving, retired = _change(config, work)
    print(f"merge {merge_id}: person {retired} merged into {surviving} (undo: huitong mpi unmerge {merge_id})")
    return 0


def unmerge(args: argparse.Namespace, config: EngineConfig) -> int:
    now = time.time()
    surviving, retired = _change(
        config, lambda c, r: r.unmerge(c, args.merge, actor=_actor(args), reason=args.reason, now=now)
    )
    print(f"merge {args.merge} undone: person {retired} separated again from {surviving}")
    return 0


def link(args: argparse.Namespace, config: EngineConfig) -> int:
    now = time.time()

    def work(conn: Connection, resolver: MpiResolver) -> str:
        person = _person(conn, args.person)
        resolver.link(conn, args.record, person, actor=_actor(args), reason=args.reason, now=now)
        return person

    person = _change(config, work)
    print(f"record {args.record} linked to person {person}")
    return 0


def unlink(args: argparse.Namespace, config: EngineConfig) -> int:
    now = time.time()
    person = _change(config, lambda c, r: r.unlink(c, args.record, actor=_actor(args), reason=args.reason, now=now))
    print(f"record {args.record} unlinked: it is now person {person}")
    return 0


# --- batch ---------------------------------------------------------------------------------------------------


def _people(path: Path) -> list[dict[str, str]]:
    """The rows of an MPI CSV file; a CommandError naming the file and line of the first problem."""
    from engine.pipeline import mpi_batch

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CommandError(f"{path}:{line}: not UTF-8 ({exc.reason})") from None
    try:
        return mpi_batch.read_people(text, str(path))
    except mpi_batch.InputError as exc:
        raise CommandError(str(exc)) from None


def dedupe(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.pipeline import mpi_batch
    from engine.runtime.progress import Progress
    from engine.runtime.wiring import resolver_of
    from engine.store import mpi as store
    from engine.store.database import writing

    if args.input:
        if not args.output:
            raise CommandError("--input needs --output (the clusters CSV to write)")
        rows = _people(Path(args.input))
        progress = Progress("mpi dedupe", len(rows))
        summary, out = mpi_batch.dedupe_rows(config.mpi, rows, progress.update)
        progress.close()
        with Path(args.output).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(out)
    else:
        resolver = resolver_of(config)
        with writing(_engine(config)) as conn:
            progress = Progress("mpi dedupe", store.count(conn))
            summary = mpi_batch.dedupe_store(
                conn, resolver, source=args.source, actor=_actor(args), now=time.time(), tick=progress.update
            )
            progress.close()
    print(
        f"{summary.records} records, {summary.pairs} pairs compared, {summary.persons} persons; "
        f"{summary.matched} linked, {summary.review} to review"
        + (f", {summary.merges} merges" if not args.input else "")
        + (f", {summary.kept_apart} kept apart by operator decisions" if summary.kept_apart else "")
        + f"; {summary.seconds:.1f} s"
    )
    return 0


def train(args: argparse.Namespace, config: EngineConfig) -> int:
    from engine.config.mpi import load_settings, model_path
    from engine.domain.mpi import features, training
    from engine.domain.mpi.compare import Table
    from engine.pipeline import mpi_batch

    settings_file = config.mpi_settings
    assert settings_file is not None
    settings, errors = load_settings(settings_file)
    if settings is None:
        raise CommandError("\n".join(str(e) for e in errors))
    if args.input:
        rows = [features.from_row(r) for r in _people(Path(args.input))]
    else:
        with _engine(config).connect() as conn:
            rows = [r.features for r in mpi_batch.all_records(conn, None)]
    if len(rows) < 100:
        raise CommandError(f"{len(rows)} records are too few to train on (at least 100)")
    model = training.train(settings, Table(rows, settings.columns))
    output = Path(args.output) if args.output else model_path(settings_file, settings)
    output.write_bytes(orjson.dumps(model.to_json(settings), option=orjson.OPT_INDENT_2) + b"\n")
    print(f"trained on {len(rows)} records ({model.trained['pairs']} pairs) in {model.trained['seconds']} s: {output}")
    if model.trained["untrained"]:
        print(f"no training session could learn: {', '.join(model.trained['untrained'])}", file=sys.stderr)
    return 0


COMMANDS = {
    "search": search,
    "show": show,
    "explain": explain,
    "review": review,
    "merge": merge,
    "unmerge": unmerge,
    "link": link,
    "unlink": unlink,
    "dedupe": dedupe,
    "train": train,
}


def cmd_mpi(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.mpi_command](args, load(args))
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return 1
