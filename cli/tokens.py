"""`huitong tokens create`: a bearer token for the FHIR API (docs/fhir-api.md), printed once, stored hashed."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
import uuid
from typing import Any

from cli.common import load, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tokens", help="bearer tokens of the FHIR API")
    tsub = p.add_subparsers(dest="tokens_command", required=True)
    c = tsub.add_parser("create", parents=[common], help="make a token; it is shown once and stored hashed")
    c.add_argument("--scope", action="append", required=True, help="system/*.read or patient/*.read (repeatable)")
    c.add_argument("--expires", required=True, help="how long it is valid, e.g. 30d, 12h")
    c.add_argument("--patient", help="patient scopes: the one patient it reads (person id, Patient id or resident ID)")
    c.set_defaults(func=cmd_create)


def cmd_create(args: argparse.Namespace) -> int:
    from engine.config.values import parse_duration
    from engine.domain.access import BadScope, check
    from engine.store import record, tokens
    from engine.views.fhir import person

    try:
        lasts = parse_duration(args.expires)
        scopes = check(args.scope, args.patient)
    except (BadScope, ValueError) as exc:
        print(f"cannot make the token: {exc}", file=sys.stderr)
        return 1
    now, token_id, secret = time.time(), uuid.uuid4().hex, secrets.token_urlsafe(32)
    with store(args, load(args)).begin() as conn:
        bound = None
        if args.patient is not None:
            bound = person(conn, args.patient) or next(iter(record.persons_by_identifier(conn, args.patient)), None)
            if bound is None:
                print(f"no patient {args.patient!r} in the record", file=sys.stderr)
                return 1
        tokens.create(conn, token_id, secret, scopes, bound, now, now + lasts)
    print(
        f"token id {token_id}, scopes {' '.join(scopes)}, expires in {args.expires}"
        + (f", patient {bound}" if bound else "")
    )
    print("the token (shown this once; send it as Authorization: Bearer <token>):")
    print(secret)
    return 0
