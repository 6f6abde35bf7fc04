"""Applying contract events: pure, idempotent, and safe against events that arrive twice or out of order.

Every event carries the whole contract after the change, so the receiver keeps the newest version and never
replays history. What may follow what (the kind's rule, checked against the status held now):

=========== ============================ ==========================
event       status before                status after
=========== ============================ ==========================
SIGNED      none, PENDING                PENDING, ACTIVE
RENEWED     none, PENDING, ACTIVE,       ACTIVE
            EXPIRED
UPDATED     any (none too)               the same status
TERMINATED  none, ACTIVE                 TERMINATED
EXPIRED     none, ACTIVE                 EXPIRED
CANCELLED   none, PENDING, ACTIVE        CANCELLED
=========== ============================ ==========================

- TERMINATED and CANCELLED are final: only corrections (UPDATED, same status) follow. A resident who comes back
  signs a new contract (policy: renew or sign with another team, §2.1).
- EXPIRED can be renewed: a late renewal of the same contract (Bsoft marks 续约 on the record itself) is a
  RENEWED event whose period must end later than before. A renewal as a new contract arrives with no before
  (or SIGNED as PENDING first, then RENEWED when it takes effect); a renewal never takes a contract in force
  back to PENDING, so the resident stays contracted while it is confirmed.
- A contract that never took effect (PENDING) is cancelled, not terminated; CANCELLED from ACTIVE covers Yihu's
  患者已取消 and a voided payment, where the contract is treated as never in force.
- "None" before means the receiver has not seen this contract: the event is accepted as its first knowledge
  (a receiver that starts late, or a lost SIGNED), as long as kind and status agree.
- When versions were skipped (held 2, event 5) the kind's rule is not checked against the held status, only
  that the new status can be reached from it at all: the missed events may explain the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .model import Contract, ContractEvent, EventKind, Status

__all__ = ["Change", "Outcome", "Result", "apply", "contract_end", "contracted", "diff", "kind_of", "renewal_is_due"]

_ANY = frozenset({None, *Status})
_RULES: dict[EventKind, tuple[frozenset[Status | None], frozenset[Status]]] = {
    EventKind.SIGNED: (frozenset({None, Status.PENDING}), frozenset({Status.PENDING, Status.ACTIVE})),
    EventKind.RENEWED: (
        frozenset({None, Status.PENDING, Status.ACTIVE, Status.EXPIRED}),
        frozenset({Status.ACTIVE}),
    ),
    EventKind.UPDATED: (_ANY, frozenset(Status)),
    EventKind.TERMINATED: (frozenset({None, Status.ACTIVE}), frozenset({Status.TERMINATED})),
    EventKind.EXPIRED: (frozenset({None, Status.ACTIVE}), frozenset({Status.EXPIRED})),
    EventKind.CANCELLED: (frozenset({None, Status.PENDING, Status.ACTIVE}), frozenset({Status.CANCELLED})),
}


def _steps() -> dict[Status, frozenset[Status]]:
    """One-step status graph from the rules, then its transitive closure: what can follow, however many steps."""
    step: dict[Status, set[Status]] = {s: {s} for s in Status}
    for kind, (before, after) in _RULES.items():
        if kind is EventKind.UPDATED:
            continue
        for b in before - {None}:
            step[b] |= after  # type: ignore[index]
    changed = True
    while changed:
        changed = False
        for nxt in step.values():
            wider = set().union(*(step[n] for n in nxt))
            if not wider <= nxt:
                nxt |= wider
                changed = True
    return {s: frozenset(n) for s, n in step.items()}


REACHABLE = _steps()
FINAL = frozenset({Status.TERMINATED, Status.CANCELLED})


class Result(StrEnum):
    APPLIED = "APPLIED"  # the event's contract is now the current one
    DUPLICATE = "DUPLICATE"  # same version, same content: already applied; nothing to do, nothing to push
    STALE = "STALE"  # older than what is held: arrived late; dropped
    CONFLICT = "CONFLICT"  # same version, different content: the sender broke its versioning; held one kept
    REJECTED = "REJECTED"  # not a valid step (kind and status disagree, or the move is impossible)


class Change(StrEnum):
    """What downstream pushes care about; in the order a HIS would show it."""

    STATUS = "status"
    PERIOD = "period"
    DOCTOR = "doctor"
    TEAM = "team"
    ORGANISATION = "organisation"
    PACKAGES = "packages"
    RENEWAL_DUE = "renewal_due"
    TERMINATION = "termination"
    RESIDENT = "resident"
    LABELS = "labels"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    contract: Contract | None  # the contract held after the event (unchanged unless APPLIED)
    changes: tuple[Change, ...] = ()
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.result is Result.APPLIED


_FIELDS: dict[str, Change] = {
    "status": Change.STATUS,
    "period": Change.PERIOD,
    "doctor": Change.DOCTOR,
    "team": Change.TEAM,
    "organisation_code": Change.ORGANISATION,
    "packages": Change.PACKAGES,
    "renewal_due": Change.RENEWAL_DUE,
    "termination": Change.TERMINATION,
    "resident": Change.RESIDENT,
    "labels": Change.LABELS,
}


def diff(before: Contract | None, after: Contract) -> tuple[Change, ...]:
    """What changed, in Change order; against nothing, every field that has a value counts as changed."""
    changed = {
        change
        for name, change in _FIELDS.items()
        if (getattr(after, name) not in (None, ()) if before is None else getattr(before, name) != getattr(after, name))
    }
    return tuple(c for c in Change if c in changed)


def _check(current: Contract | None, event: ContractEvent) -> str:
    """Why the event is not a valid step from ``current``; "" when it is."""
    new = event.contract
    if event.contract_id != new.contract_id or event.version != new.version:
        return "the event's contract id and version must be those of the contract it carries"
    if current is not None and (current.contract_id, current.source_system) != (new.contract_id, new.source_system):
        return "the event is for another contract than the one held"
    before_ok, after_ok = _RULES[event.kind]
    if new.status not in after_ok:
        return f"a {event.kind} event cannot leave the contract {new.status}"
    if current is None:
        return ""
    if new.status not in REACHABLE[current.status]:
        return f"a contract cannot go from {current.status} to {new.status}"
    if event.version > current.version + 1:
        return ""  # versions were skipped: the missed events may explain the step
    if current.status not in before_ok:
        return f"a {event.kind} event cannot follow {current.status}"
    if event.kind is EventKind.UPDATED and new.status is not current.status:
        return f"an UPDATED event keeps the status; {current.status} to {new.status} needs its own event"
    renews_in_place = event.kind is EventKind.RENEWED and current.status is not Status.PENDING
    if renews_in_place and new.period.end <= current.period.end:
        return "a renewal of the same contract must end later than the period it renews"
    return ""


def apply(current: Contract | None, event: ContractEvent) -> Outcome:
    """The contract to hold after ``event``: only a newer version that is a valid step replaces ``current``."""
    if current is not None and event.version < current.version:
        return Outcome(Result.STALE, current, reason=f"version {event.version} is older than held {current.version}")
    if current is not None and event.version == current.version:
        if event.contract == current:
            return Outcome(Result.DUPLICATE, current, reason=f"version {event.version} already applied")
        return Outcome(Result.CONFLICT, current, reason=f"version {event.version} is held with other content")
    reason = _check(current, event)
    if reason:
        return Outcome(Result.REJECTED, current, reason=reason)
    return Outcome(Result.APPLIED, event.contract, diff(current, event.contract))


def contracted(contract: Contract, on: date) -> bool:
    """Was the resident contracted on ``on``: the HIS ``signFlag`` (discounts, fulfilment counting)."""
    if contract.status in (Status.PENDING, Status.CANCELLED):
        return False
    if contract.termination is not None and on >= contract.termination.on:
        return False
    return on in contract.period


def contract_end(contract: Contract) -> date | None:
    """The last day in force: the HIS ``sceEndDate``; None for a contract that never took effect."""
    if contract.status in (Status.PENDING, Status.CANCELLED):
        return None
    if contract.termination is not None:
        return min(contract.termination.on - timedelta(days=1), contract.period.end)
    return contract.period.end


def renewal_is_due(contract: Contract, on: date) -> bool:
    """待续约: still in force, and the renewal-due date (or, without one, the last day) has come."""
    if contract.status is not Status.ACTIVE or not contracted(contract, on):
        return False
    return on >= (contract.renewal_due or contract.period.end)


def kind_of(before: Contract | None, after: Contract) -> EventKind:
    """The event a new snapshot amounts to, for senders that send the record rather than an event."""
    renews = after.previous_contract_id is not None
    if after.status is Status.ACTIVE:
        if before is None or before.status is Status.PENDING:
            return EventKind.RENEWED if renews else EventKind.SIGNED
        if before.status is Status.EXPIRED or after.period.end > before.period.end:
            return EventKind.RENEWED
        return EventKind.UPDATED
    if after.status is Status.PENDING:
        return EventKind.SIGNED if before is None else EventKind.UPDATED
    if before is not None and before.status is after.status:
        return EventKind.UPDATED
    return EventKind(after.status.value)
