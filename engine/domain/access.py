"""SMART-style scopes of the FHIR API's bearer tokens: what a token may read (pure).

``system/*.read`` reads every resident's record (the data centre, a hospital's EMR); ``patient/*.read`` reads one
resident's, the patient the token is bound to (a resident's app, a referral's receiving doctor). A type may
stand for ``*`` (``system/Observation.read``). Nothing writes through the API, so ``.read`` is the only access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SCOPE = re.compile(r"^(system|patient)/(\*|[A-Z][A-Za-z]{1,63})\.read$")


class BadScope(ValueError):
    """A scope this server does not grant, or scopes that do not fit the token's patient binding."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token lets its holder read: types per context, and the person a patient scope is bound to."""

    token_id: str
    scopes: tuple[str, ...]
    patient: str | None

    def may_read(self, kind: str) -> bool:
        context = "patient" if self.patient is not None else "system"
        return any(s in (f"{context}/*.read", f"{context}/{kind}.read") for s in self.scopes)


def check(scopes: Iterable[str], patient: str | None) -> tuple[str, ...]:
    """The scopes, each one valid; patient scopes need the token bound to a patient, system scopes forbid it."""
    out = tuple(dict.fromkeys(scopes))
    if not out:
        raise BadScope("give at least one scope, e.g. system/*.read")
    for scope in out:
        m = _SCOPE.match(scope)
        if m is None:
            raise BadScope(f"{scope!r} is no scope this server grants: system/*.read, patient/*.read, or a type")
        if (m.group(1) == "patient") != (patient is not None):
            need = "needs --patient, the one patient it reads" if patient is None else "cannot be bound to a patient"
            raise BadScope(f"{scope}: {m.group(1)} scope {need}")
    return out
