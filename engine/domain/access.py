"""SMART-style scopes of the FHIR API's bearer tokens: what a token may read (pure).

A token has one context, given by what it is bound to:

- ``system/*.read`` reads every resident's record (the data centre, a hospital's EMR), bound to nothing;
- ``user/*.read`` is bound to a named user (a clinician or operator, ``--user``). There is no user model whose
  permissions could narrow it, so it reads what a system token reads; what it adds is the name: every read is
  audited under ``user:<name>``, so the trail says which person read, not only which token;
- ``patient/*.read`` reads one resident's record, the patient the token is bound to (a resident's app, a
  referral's receiving doctor).

A type may stand for ``*`` (``system/Observation.read``). ``*`` means the record's types; the audit trail
(``AuditEvent``) is not the record and is read only with ``<context>/AuditEvent.read`` named: the data centre's
token does not learn who read whom. Nothing writes through the API, so ``.read`` is the only access.

``console/<role>`` (``console/operator``) lets the token call the operators' listener (management API, /metrics)
with that role (engine/domain/roles.py); it reads nothing of the FHIR API and fits any binding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.domain.roles import CONSOLE_SCOPE, console_role

_SCOPE = re.compile(r"^(system|user|patient)/(\*|[A-Z][A-Za-z]{1,63})\.read$")
USER_NAME = re.compile(r"^[\w.@-]{1,48}$")  # a login or staff number: it becomes the audit's actor (64 characters)
AUDIT_TYPE = "AuditEvent"


class BadScope(ValueError):
    """A scope this server does not grant, or scopes that do not fit the token's binding (patient or user)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token lets its holder read: types in its context, and the person or user it is bound to."""

    token_id: str
    scopes: tuple[str, ...]
    patient: str | None
    user: str | None = None

    @property
    def context(self) -> str:
        return "patient" if self.patient is not None else "user" if self.user is not None else "system"

    @property
    def actor(self) -> str:
        """Who the audit trail names as the reader: the user of a user-level token, else the token."""
        return f"user:{self.user}" if self.user is not None else f"token:{self.token_id}"

    def may_read(self, kind: str) -> bool:
        named = f"{self.context}/{kind}.read" in self.scopes
        return named or (kind != AUDIT_TYPE and f"{self.context}/*.read" in self.scopes)


def check(scopes: Iterable[str], patient: str | None, user: str | None = None) -> tuple[str, ...]:
    """The scopes, each one valid and of the token's one context: patient scopes need the token bound to a
    patient, user scopes to a user, system scopes to neither."""
    out = tuple(dict.fromkeys(scopes))
    if not out:
        raise BadScope("give at least one scope, e.g. system/*.read")
    if patient is not None and user is not None:
        raise BadScope("a token is bound to a patient or to a user, not both")
    if user is not None and not USER_NAME.match(user):
        raise BadScope(f"--user {user!r}: a login name of at most 48 letters, digits or . _ @ -")
    context = "patient" if patient is not None else "user" if user is not None else "system"
    for scope in out:
        if scope.startswith(CONSOLE_SCOPE):  # the console's roles, whatever the token reads of the record
            try:
                console_role(scope)
            except ValueError as exc:
                raise BadScope(str(exc)) from None
            continue
        m = _SCOPE.match(scope)
        if m is None:
            raise BadScope(
                f"{scope!r} is no scope this server grants: system/*.read, user/*.read, patient/*.read, a type,"
                " or console/<role>"
            )
        if m.group(1) != context:
            need = {"patient": "needs --patient, the one patient it reads", "user": "needs --user, who reads"}
            raise BadScope(f"{scope}: {need.get(m.group(1), 'cannot be bound to a patient or a user')}")
    return out
