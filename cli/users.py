"""`huitong users create|list|set-role|disable|enable|password`: who may sign in to the console, with which roles
(docs/console.md). Passwords come from a prompt or one line on stdin (`--password-stdin`), never the command line;
the store keeps their argon2 hash. Every change is audited: who (the system user), what, before and after."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import Any

from cli.common import iso, print_json, store

MIN_PASSWORD = 10


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("users", help="who may sign in to the console, and their roles")
    usub = p.add_subparsers(dest="users_command", required=True)

    def password_source(q: argparse.ArgumentParser) -> None:
        q.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")

    def roles(q: argparse.ArgumentParser, *, required: bool) -> None:
        q.add_argument(
            "--role",
            action="append",
            default=[],
            required=required,
            help="viewer, operator, admin or clinical (repeatable)",
        )

    c = usub.add_parser("create", parents=[common], help="a new user (the first admin: users create NAME --admin)")
    c.add_argument("name", help="the sign-in name (letters, digits, . _ @ -; at most 48)")
    roles(c, required=False)
    c.add_argument("--admin", action="store_true", help="give the admin role (same as --role admin)")
    password_source(c)
    c.set_defaults(func=cmd_create)
    ls = usub.add_parser("list", parents=[common], help="every user: roles, state, failed sign-ins")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    r = usub.add_parser("set-role", parents=[common], help="replace a user's roles")
    r.add_argument("name")
    roles(r, required=True)
    r.set_defaults(func=cmd_set_role)
    for command, about in (("disable", "refuse sign-in and end the user's sessions"), ("enable", "allow it again")):
        d = usub.add_parser(command, parents=[common], help=about)
        d.add_argument("name")
        d.set_defaults(func=cmd_disable, disable=command == "disable")
    pw = usub.add_parser("password", parents=[common], help="set a new password (ends the user's sessions)")
    pw.add_argument("name")
    password_source(pw)
    pw.set_defaults(func=cmd_password)


def _roles(names: list[str]) -> Any:
    from engine.domain.roles import role_named

    return frozenset(role_named(n) for n in names)


def _password(args: argparse.Namespace) -> str | None:
    """The new password from stdin or a prompt (asked twice); None, said why, when it will not do."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ; nothing changed", file=sys.stderr)
            return None
    if len(password) < MIN_PASSWORD:
        print(f"a password needs at least {MIN_PASSWORD} characters; nothing changed", file=sys.stderr)
        return None
    return password


def _state(account: Any) -> dict[str, Any]:
    """What the audit trail records of a user: never the password or its hash."""
    return {"roles": sorted(r.value for r in account.roles), "disabled": account.disabled_at is not None}


def _no_user(name: str) -> int:
    print(f"no user {name!r} (huitong users list)", file=sys.stderr)
    return 1


def cmd_create(args: argparse.Namespace) -> int:
    from engine.domain.access import USER_NAME
    from engine.store import audit, users
    from engine.store.database import writing

    if not USER_NAME.match(args.name):
        print(f"user name {args.name!r}: at most 48 letters, digits or . _ @ -", file=sys.stderr)
        return 1
    try:
        roles = _roles(args.role + (["admin"] if args.admin else []))
    except ValueError as exc:
        print(f"--role: {exc}", file=sys.stderr)
        return 1
    if not roles:
        print("give the user a role: --role viewer|operator|admin|clinical, or --admin", file=sys.stderr)
        return 1
    password = _password(args)
    if password is None:
        return 1
    password_hash, now = users.hash_password(password), time.time()
    with writing(store(args, create=True)) as conn:
        if not users.create(conn, args.name, password_hash, roles, now):
            print(f"there is already a user {args.name!r}; nothing changed", file=sys.stderr)
            return 1
        account = users.get(conn, args.name)
        audit.record(conn, "users.create", f"user:{args.name}", {"before": None, "after": _state(account)}, at=now)
    print(f"user {args.name} created with roles {users.roles_text(roles)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from engine.store import users

    with store(args).connect() as conn:
        found = users.listed(conn)
    rows: list[dict[str, Any]] = [
        {
            "name": a.name,
            "roles": sorted(r.value for r in a.roles),
            "state": "disabled" if a.disabled_at is not None else "active",
            "failed_logins": a.failed_logins,
            "created_at": iso(a.created_at),
            "changed_at": iso(a.changed_at),
        }
        for a in found
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no users (huitong users create NAME --admin)")
        return 0
    print(f"{'name':<24}  {'state':<8}  {'failed':>6}  {'changed':<19}  roles")
    for row in rows:
        print(
            f"{row['name']:<24}  {row['state']:<8}  {row['failed_logins']:>6}  {row['changed_at'][:19]:<19}  "
            + " ".join(row["roles"])
        )
    return 0


def _change(args: argparse.Namespace, action: str, apply: Any, done: str) -> int:
    """Apply one change to a user in a transaction, audited with the user's state before and after."""
    from engine.store import audit, users
    from engine.store.database import writing

    now = time.time()
    with writing(store(args)) as conn:
        before = users.get(conn, args.name)
        if before is None:
            return _no_user(args.name)
        apply(conn, now)
        after = users.get(conn, args.name)
        detail = {"before": _state(before), "after": _state(after)}
        audit.record(conn, action, f"user:{args.name}", detail, at=now)
    print(done)
    return 0


def cmd_set_role(args: argparse.Namespace) -> int:
    from engine.store import users

    try:
        roles = _roles(args.role)
    except ValueError as exc:
        print(f"--role: {exc}", file=sys.stderr)
        return 1
    done = f"user {args.name} now has roles {users.roles_text(roles)}"
    return _change(args, "users.set_role", lambda conn, now: users.set_roles(conn, args.name, roles, now), done)


def cmd_disable(args: argparse.Namespace) -> int:
    from engine.store import users

    action, done = (
        ("users.disable", f"user {args.name} disabled: sign-in refused, sessions ended")
        if args.disable
        else ("users.enable", f"user {args.name} may sign in again")
    )
    return _change(args, action, lambda conn, now: users.set_disabled(conn, args.name, args.disable, now), done)


def cmd_password(args: argparse.Namespace) -> int:
    from engine.store import users

    with store(args).connect() as conn:
        if users.get(conn, args.name) is None:
            return _no_user(args.name)
    password = _password(args)
    if password is None:
        return 1
    password_hash = users.hash_password(password)
    done = f"password of {args.name} changed; the user's sessions have ended"
    return _change(
        args, "users.password", lambda conn, now: users.set_password(conn, args.name, password_hash, now), done
    )
