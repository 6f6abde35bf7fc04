"""Alert rules as logic (pure): whether a measured value breaks a rule, and which alerts fire or clear.

An alert is one rule about one subject (a channel, a destination, a certificate file, a volume), keyed
``rule|subject``. What holds now is compared with what is active (fired and not cleared): a condition that holds
and is not active fires, an active one that no longer holds clears, so each fires once and clears once. Texts name
the rule, the subject and numbers, never a message's content, so no personal data reaches a robot or a mailbox.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_LOOKBACK = timedelta(days=31)  # silence longer than any working-time limit: no need to walk further back


@dataclass(frozen=True, slots=True)
class Hours:
    """Working hours: weekdays (0 = Monday) and minutes after midnight (local time)."""

    days: frozenset[int]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule that holds for a subject now, with what to tell people."""

    rule: str
    subject: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.rule}|{self.subject}"


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    rule: str
    subject: str
    firing: bool  # True: fires now; False: clears now
    text: str


def working_seconds(since: datetime, until: datetime, hours: Hours) -> float:
    """Seconds of working time between two local times."""
    since = max(since, until - _MAX_LOOKBACK)
    total = 0.0
    day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= until:
        if day.weekday() in hours.days:
            begin = max(since, day + timedelta(minutes=hours.start))
            end = min(until, day + timedelta(minutes=hours.end))
            total += max(0.0, (end - begin).total_seconds())
        day += timedelta(days=1)
    return total


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def inactive(
    rule: str, channel: str, last: datetime | None, started: datetime, now: datetime, after: float, hours: Hours
) -> Condition | None:
    """Nothing received for ``after`` seconds of working time (counted from the daemon's start when never)."""
    silent = working_seconds(max(last, started) if last else started, now, hours)
    if silent < after:
        return None
    return Condition(
        rule, channel, f"channel {channel} received nothing for {_minutes(silent)} of working hours "
        f"(limit {_minutes(after)})"
    )


def error_rate(
    rule: str, channel: str, received: int, errors: int, over: float, minimum: int, window: float
) -> Condition | None:
    if received < minimum or errors / received <= over:
        return None
    return Condition(
        rule, channel, f"channel {channel}: {errors} of {received} messages in error in the last {_minutes(window)} "
        f"({errors / received:.0%}, limit {over:.0%})"
    )


def queue(
    rule: str, destination: str, depth: int, oldest_age: float | None, depth_over: int | None, oldest_over: float | None
) -> Condition | None:
    reasons = []
    if depth_over is not None and depth > depth_over:
        reasons.append(f"{depth} deliveries waiting (limit {depth_over})")
    if oldest_over is not None and oldest_age is not None and oldest_age > oldest_over:
        reasons.append(f"the oldest waiting {_minutes(oldest_age)} (limit {_minutes(oldest_over)})")
    return Condition(rule, destination, f"destination {destination}: {'; '.join(reasons)}") if reasons else None


def dead_letters(rule: str, destination: str, dead: int, over: int) -> Condition | None:
    if dead <= over:
        return None
    return Condition(rule, destination, f"destination {destination}: {dead} dead letters waiting for an operator")


def certificate(rule: str, file: str, not_after: float, now: float, within: float) -> Condition | None:
    left = not_after - now
    if left > within:
        return None
    when = "expired" if left <= 0 else f"expires in {left / 86400:.0f} days"
    return Condition(rule, file, f"certificate {file} {when} (warning {within / 86400:.0f} days ahead)")


def disk(rule: str, path: str, free: int, total: int, free_under: float) -> Condition | None:
    share = 100.0 * free / total if total else 0.0
    if share >= free_under:
        return None
    return Condition(
        rule, path, f"volume of {path}: {share:.1f}% free ({free / 2**30:.1f} GiB; limit {free_under:g}%)"
    )


def transitions(
    holding: Iterable[Condition], active: Mapping[str, str], failed: Collection[str] = ()
) -> list[Transition]:
    """What fires (holds, not active) and what clears (active, no longer holds), given the active alerts' rules by
    key. An active alert of a rule in ``failed`` (its measurement failed this time) stays: a failed look is no
    all-clear. An active alert of a rule no longer configured clears."""
    now = {c.key: c for c in holding}
    fired = [Transition(c.key, c.rule, c.subject, True, c.text) for key, c in now.items() if key not in active]
    cleared = [
        Transition(key, rule, key.partition("|")[2], False, f"{rule}: {key.partition('|')[2]} is back to normal")
        for key, rule in active.items()
        if key not in now and rule not in failed
    ]
    return fired + cleared
