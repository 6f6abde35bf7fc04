"""The console's users: name, roles, an argon2id password hash (never the password), and whether they may sign in.

Hashing is slow on purpose (argon2's memory-hard work): callers hash and verify outside a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from engine.domain.roles import Role, User
from engine.store import dbapi

_HASHER = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106's low-memory choice)


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    roles: frozenset[Role]
    disabled_at: float | None
    failed_logins: int
    created_at: float
    changed_at: float
    password_hash: str = field(repr=False)

    @property
    def user(self) -> User:
        return User(self.name, self.roles)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@cache
def _stand_in() -> str:
    return _HASHER.hash("a password no account has")


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the hashed one. Without a hash (no such user) a stand-in is verified all the same,
    so a wrong name takes as long to refuse as a wrong password: the answer's time names no user."""
    try:
        return _HASHER.verify(password_hash or _stand_in(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_COLUMNS = "name, roles, disabled_at, failed_logins, created_at, changed_at, password_hash"


def roles_text(roles: frozenset[Role]) -> str:
    return " ".join(sorted(r.value for r in roles))


def _account(row: tuple[Any, ...]) -> Account:
    name, roles, disabled, failed, created, changed, password_hash = row
    return Account(name, frozenset(Role(r) for r in roles.split()), disabled, failed, created, changed, password_hash)


def create(conn: Connection, name: str, password_hash: str, roles: frozenset[Role], now: float) -> bool:
    """A new user; False when the name is taken."""
    if get(conn, name) is not None:
        return False
    dbapi.executemany(
        conn,
        f"INSERT INTO console_users ({_COLUMNS}) VALUES (?, ?, NULL, 0, ?, ?, ?)",
        [(name, roles_text(roles), now, now, password_hash)],
    )
    return True


def get(conn: Connection, name: str) -> Account | None:
    rows = dbapi.fetchall(conn, f"SELECT {_COLUMNS} FROM console_users WHERE name = ?", [name])
    return _account(rows[0]) if rows else None


def listed(conn: Connection) -> list[Account]:
    return [_account(r) for r in dbapi.fetchall(conn, f"SELECT {_COLUMNS} FROM console_users ORDER BY name", [])]


def set_roles(conn: Connection, name: str, roles: frozenset[Role], now: float) -> None:
    dbapi.executemany(
        conn, "UPDATE console_users SET roles = ?, changed_at = ? WHERE name = ?", [(roles_text(roles), now, name)]
    )


def set_disabled(conn: Connection, name: str, disabled: bool, now: float) -> None:
    """Disabled: sign-in refused, and the user's sessions end (they are looked up with the user each request)."""
    dbapi.executemany(
        conn,
        "UPDATE console_users SET disabled_at = ?, changed_at = ? WHERE name = ?",
        [(now if disabled else None, now, name)],
    )
    if disabled:
        dbapi.executemany(conn, "DELETE FROM console_sessions WHERE user_name = ?", [(name,)])


def set_password(conn: Connection, name: str, password_hash: str, now: float) -> None:
    """A new password ends every session signed in with the old one."""
    dbapi.executemany(
        conn,
        "UPDATE console_users SET password_hash = ?, failed_logins = 0, changed_at = ? WHERE name = ?",
        [(password_hash, now, name)],
    )
    dbapi.executemany(conn, "DELETE FROM console_sessions WHERE user_name = ?", [(name,)])


def count_failure(conn: Connection, name: str) -> None:
    dbapi.executemany(conn, "UPDATE console_users SET failed_logins = failed_logins + 1 WHERE name = ?", [(name,)])


def signed_in(conn: Connection, name: str) -> None:
    dbapi.executemany(conn, "UPDATE console_users SET failed_logins = 0 WHERE name = ?", [(name,)])
