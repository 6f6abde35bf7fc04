"""Who may do what on the operators' listener (console, management API): roles, ordered by what they allow (pure).

viewer reads the engine's state (channels, queues, messages without content); operator also acts on it
(reprocess, channel stop and start, MPI review); admin also manages users and configuration. clinical reads
residents' records (the 360° view, message content, the MPI's identities) and nothing of operations beyond
viewing: clinical read is granted apart from operations, as the county's data-protection rules ask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    CLINICAL = "clinical"


# what each role includes besides itself
_INCLUDES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset(),
    Role.OPERATOR: frozenset({Role.VIEWER}),
    Role.ADMIN: frozenset({Role.VIEWER, Role.OPERATOR, Role.CLINICAL}),
    Role.CLINICAL: frozenset({Role.VIEWER}),
}


@dataclass(frozen=True, slots=True)
class User:
    """The one a request acts for: a console login, an API token's owner, or ``anonymous`` under ``auth: none``."""

    name: str
    roles: frozenset[Role]

    def may(self, role: Role) -> bool:
        return any(role is held or role in _INCLUDES[held] for held in self.roles)


ANONYMOUS = User("anonymous", frozenset({Role.ADMIN}))  # auth: none: the config said the listener is open


CONSOLE_SCOPE = "console/"  # an API token's scope console/<role> gives it that role on the operators' listener


def role_named(name: str) -> Role:
    """The role called ``name``; ValueError naming the roles there are."""
    try:
        return Role(name)
    except ValueError:
        raise ValueError(f"no role {name!r}: the roles are {', '.join(r.value for r in Role)}") from None


def console_role(scope: str) -> Role:
    """The role a ``console/<role>`` scope grants."""
    return role_named(scope.removeprefix(CONSOLE_SCOPE))


def token_roles(scopes: Iterable[str]) -> frozenset[Role]:
    """The console roles among a token's scopes (its FHIR scopes grant none)."""
    return frozenset(console_role(s) for s in scopes if s.startswith(CONSOLE_SCOPE))
