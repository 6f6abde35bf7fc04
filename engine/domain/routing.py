"""Which messages a channel accepts and which destinations want them. Pure: message type in, decision out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def type_matches(patterns: Iterable[str] | None, message_type: str) -> bool:
    """`ADT^A01` (or `ADT^A01^ADT_A01`) matches `ADT^A01`, `ADT^*` and `ADT`; None (no filter) matches all."""
    if patterns is None:
        return True
    code, _, rest = message_type.partition("^")
    trigger = rest.partition("^")[0]
    for pattern in patterns:
        p_code, sep, p_trigger = pattern.partition("^")
        if p_code == code and (not sep or p_trigger in ("*", trigger)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Route:
    destination: str
    message_types: tuple[str, ...] | None = None
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class ChannelRoutes:
    channel: str
    accepts: tuple[str, ...] | None
    routes: tuple[Route, ...]

    @property
    def needs_person_key(self) -> bool:
        return any(r.ordered for r in self.routes)


@dataclass(frozen=True, slots=True)
class Decision:
    filtered: bool
    routes: Sequence[Route] = ()
    reason: str = ""


def decide(channel: ChannelRoutes, message_type: str) -> Decision:
    if not type_matches(channel.accepts, message_type):
        return Decision(True, reason=f"message type {message_type or '(none)'} is not in the channel filter")
    return Decision(False, [r for r in channel.routes if type_matches(r.message_types, message_type)])
