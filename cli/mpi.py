"""`huitong mpi ...`: the master patient index searched, explained, reviewed and changed by operators."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import load


def cmd_mpi(args: argparse.Namespace) -> int:
    from engine.runtime.mpi_commands import run

    return run(args, load(args))


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
