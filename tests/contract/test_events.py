"""Applying status events: versions decide, transitions are checked, and nothing is applied twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine.domain.contract import Change, Doctor, EventKind, Period, Result, Status, apply, diff, kind_of

from .conftest import contract, event

S, K = Status, EventKind


def test_a_signed_event_for_an_unknown_contract_is_applied() -> None:
    outcome = apply(None, event(K.SIGNED, contract(1)))
    assert outcome.result is Result.APPLIED
    assert outcome.contract == contract(1)


def test_the_same_event_twice_is_a_duplicate_and_changes_nothing() -> None:
    held = apply(None, event(K.SIGNED, contract(1))).contract
    again = apply(held, event(K.SIGNED, contract(1)))
    assert again.result is Result.DUPLICATE
    assert again.contract is held
    assert again.changes == ()


def test_an_older_event_after_a_newer_one_is_stale_and_changes_nothing() -> None:
    newer = contract(3, S.TERMINATED)
    late = apply(newer, event(K.UPDATED, contract(2, doctor=Doctor("D9", "王医生"))))
    assert late.result is Result.STALE
    assert late.contract is newer


def test_the_same_version_with_other_content_is_a_conflict_and_the_held_one_is_kept() -> None:
    held = contract(2)
    outcome = apply(held, event(K.UPDATED, contract(2, doctor=Doctor("D9", "王医生"))))
    assert outcome.result is Result.CONFLICT
    assert outcome.contract is held


def test_arrival_order_does_not_change_the_final_contract() -> None:
    events = [
        event(K.SIGNED, contract(1, S.PENDING)),
        event(K.SIGNED, contract(2)),
        event(K.TERMINATED, contract(3, S.TERMINATED)),
    ]
    in_order = out_of_order = None
    for e in events:
        in_order = apply(in_order, e).contract
    for e in reversed(events):
        out_of_order = apply(out_of_order, e).contract
    assert in_order == out_of_order == contract(3, S.TERMINATED)


@pytest.mark.parametrize(
    ("before", "kind", "after"),
    [
        (S.PENDING, K.SIGNED, S.ACTIVE),
        (S.PENDING, K.CANCELLED, S.CANCELLED),
        (S.ACTIVE, K.TERMINATED, S.TERMINATED),
        (S.ACTIVE, K.EXPIRED, S.EXPIRED),
        (S.ACTIVE, K.CANCELLED, S.CANCELLED),
        (S.ACTIVE, K.UPDATED, S.ACTIVE),
        (S.TERMINATED, K.UPDATED, S.TERMINATED),
    ],
)
def test_allowed_transitions_are_applied(before: Status, kind: EventKind, after: Status) -> None:
    assert apply(contract(1, before), event(kind, contract(2, after))).result is Result.APPLIED


@pytest.mark.parametrize(
    ("before", "kind", "after"),
    [
        (S.TERMINATED, K.RENEWED, S.ACTIVE),  # terminated is final
        (S.TERMINATED, K.SIGNED, S.ACTIVE),
        (S.CANCELLED, K.SIGNED, S.ACTIVE),  # cancelled is final
        (S.PENDING, K.TERMINATED, S.TERMINATED),  # a contract never in force is cancelled, not terminated
        (S.EXPIRED, K.TERMINATED, S.TERMINATED),
        (S.ACTIVE, K.UPDATED, S.EXPIRED),  # a status change needs its own event
        (S.ACTIVE, K.TERMINATED, S.ACTIVE),  # kind and status disagree
        (S.ACTIVE, K.RENEWED, S.PENDING),  # a renewal never takes a contract in force back to pending
    ],
)
def test_forbidden_transitions_are_rejected_and_change_nothing(before: Status, kind: EventKind, after: Status) -> None:
    held = contract(1, before)
    outcome = apply(held, event(kind, contract(2, after)))
    assert outcome.result is Result.REJECTED
    assert outcome.contract is held
    assert outcome.reason


def test_an_expired_contract_renewed_in_place_must_end_later() -> None:
    expired = contract(4, S.EXPIRED)
    later = contract(5, period=Period(date(2026, 1, 1), date(2026, 12, 31)))
    same = contract(5)
    assert apply(expired, event(K.RENEWED, later)).result is Result.APPLIED
    assert apply(expired, event(K.RENEWED, same)).result is Result.REJECTED


def test_skipped_versions_check_only_that_the_new_status_is_reachable() -> None:
    # held v1 ACTIVE; v2 TERMINATED was missed; v3 corrects the termination reason
    outcome = apply(contract(1), event(K.UPDATED, contract(3, S.TERMINATED)))
    assert outcome.result is Result.APPLIED
    # but nothing leaves a final status, however many versions were skipped
    assert apply(contract(1, S.CANCELLED), event(K.SIGNED, contract(5))).result is Result.REJECTED


def test_an_event_whose_version_differs_from_its_contract_is_rejected() -> None:
    e = replace(event(K.SIGNED, contract(1)), version=2)
    assert apply(None, e).result is Result.REJECTED


def test_an_event_for_another_contract_is_rejected() -> None:
    assert apply(contract(1), event(K.UPDATED, contract(2, contract_id="SC2"))).result is Result.REJECTED


def test_the_applied_outcome_names_what_changed() -> None:
    after = contract(2, S.TERMINATED, doctor=Doctor("D9", "王医生"))
    assert apply(contract(1), event(K.TERMINATED, after)).changes == (Change.STATUS, Change.DOCTOR, Change.TERMINATION)


def test_diff_of_equal_contracts_is_empty() -> None:
    assert diff(contract(1), contract(2)) == ()


def test_diff_names_period_team_and_packages() -> None:
    after = replace(contract(2), period=Period(date(2025, 1, 1), date(2026, 1, 1)), packages=())
    after = replace(after, team=replace(after.team, name="第二团队"))
    assert diff(contract(1), after) == (Change.PERIOD, Change.TEAM, Change.PACKAGES)


def test_diff_against_nothing_names_every_field_present() -> None:
    assert {Change.STATUS, Change.PERIOD, Change.DOCTOR, Change.PACKAGES} <= set(diff(None, contract(1)))


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (None, contract(1), K.SIGNED),
        (None, contract(1, previous_contract_id="SC0"), K.RENEWED),
        (contract(1, S.PENDING), contract(2), K.SIGNED),
        (contract(1, S.EXPIRED), contract(2, period=Period(date(2026, 1, 1), date(2026, 12, 31))), K.RENEWED),
        (contract(1), contract(2, doctor=Doctor("D9", "王医生")), K.UPDATED),
        (contract(1), contract(2, S.TERMINATED), K.TERMINATED),
        (contract(1), contract(2, S.EXPIRED), K.EXPIRED),
    ],
)
def test_kind_of_names_the_event_a_snapshot_amounts_to(before, after, kind) -> None:  # type: ignore[no-untyped-def]
    assert kind_of(before, after) is kind
    assert apply(before, event(kind, after)).result is Result.APPLIED
