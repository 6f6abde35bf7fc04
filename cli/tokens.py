"""`huitong tokens create|list|revoke`: bearer tokens of the FHIR API (docs/fhir-api.md). A token is printed once,
when it is made; the store keeps its hash, and `list` never shows more than its id."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
import uuid
from typing import Any

from cli.common import iso, load, print_json, store


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tokens", help="bearer tokens of the FHIR API")
    tsub = p.add_subparsers(dest="tokens_command", required=True)
    c = tsub.add_parser("create", parents=[common], help="make a token; it is shown once and stored hashed")
    c.add_argument(
        "--scope",
        action="append",
        required=True,
        help="system/*.read, user/*.read, patient/*.read, or console/<role> for the console (repeatable)",
    )
    c.add_argument("--expires", required=True, help="how long it is valid, e.g. 30d, 12h")
    c.add_argument("--patient", help="patient scopes: the one patient it reads (person id, Patient id or resident ID)")
    c.add_argument("--user", help="user scopes: the clinician or operator who reads (named in the audit trail)")
    c.set_defaults(func=cmd_create)
    ls = tsub.add_parser("list", parents=[common], help="every token: id, scopes, binding, expiry, revocation")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    r = tsub.add_parser("revoke", parents=[common], help="refuse a token from now on (audited)")
    r.add_argument("id", help="the token id (huitong tokens list)")
    r.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    from engine.config.values import parse_duration
    from engine.domain.access import BadScope, check
    from engine.store import audit, record, tokens
    from engine.store.database import writing
    from engine.views.fhir import person

    try:
        lasts = parse_duration(args.expires)
        scopes = check(args.scope, args.patient, args.user)
    except (BadScope, ValueError) as exc:
        print(f"cannot make the token: {exc}", file=sys.stderr)
        return 1
    now, token_id, secret = time.time(), uuid.uuid4().hex, secrets.token_urlsafe(32)
    with writing(store(args, load(args))) as conn:
        bound = None
        if args.patient is not None:
            bound = person(conn, args.patient) or next(iter(record.persons_by_identifier(conn, args.patient)), None)
            if bound is None:
                print(f"no patient {args.patient!r} in the record", file=sys.stderr)
                return 1
        tokens.create(conn, token_id, secret, scopes, bound, now, now + lasts, args.user)
        detail = {"scopes": list(scopes), "patient": bound, "user": args.user, "expires_at": now + lasts}
        audit.record(conn, "tokens.create", f"token:{token_id}", detail, at=now)
    print(
        f"token id {token_id}, scopes {' '.join(scopes)}, expires in {args.expires}"
        + (f", patient {bound}" if bound else "")
        + (f", user {args.user}" if args.user else "")
    )
    print("the token (shown this once; send it as Authorization: Bearer <token>):")
    print(secret)
    return 0


def _state(token: Any, now: float) -> str:
    return "revoked" if token.revoked_at is not None else "expired" if token.expires_at <= now else "active"


def cmd_list(args: argparse.Namespace) -> int:
    from engine.store import tokens

    now = time.time()
    with store(args).connect() as conn:
        found = tokens.listed(conn)
    if args.json:
        print_json(
            [
                {
                    "id": t.id,
                    "scopes": list(t.scopes),
                    "patient": t.patient,
                    "user": t.user,
                    "created_at": iso(t.created_at),
                    "expires_at": iso(t.expires_at),
                    "revoked_at": iso(t.revoked_at) or None,
                    "state": _state(t, now),
                }
                for t in found
            ]
        )
        return 0
    if not found:
        print("no tokens (huitong tokens create)")
        return 0
    print(f"{'id':<32}  {'state':<7}  {'expires':<19}  {'bound to':<38}  scopes")
    for t in found:
        bound = f"patient {t.patient}" if t.patient else f"user {t.user}" if t.user else "-"
        print(f"{t.id:<32}  {_state(t, now):<7}  {iso(t.expires_at)[:19]:<19}  {bound:<38}  {' '.join(t.scopes)}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from engine.store import audit, tokens
    from engine.store.database import writing

    now = time.time()
    with writing(store(args)) as conn:
        token = tokens.revoke(conn, args.id, now)
        if token is None:
            print(f"no token {args.id!r} (huitong tokens list)", file=sys.stderr)
            return 1
        if token.revoked_at is None:
            audit.record(conn, "tokens.revoke", f"token:{token.id}", {"scopes": list(token.scopes)}, at=now)
    if token.revoked_at is not None:
        print(f"token {token.id} was already revoked at {iso(token.revoked_at)}")
    else:
        print(f"token {token.id} revoked: the FHIR API refuses it from now on")
    return 0
