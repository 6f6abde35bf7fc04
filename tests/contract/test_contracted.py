"""The HIS's denormalised pair: is the resident contracted on a day, and until when."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine.domain.contract import Status, contract_end, contracted, renewal_is_due

from .conftest import contract


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 12, 31), False),  # the day before it starts
        (date(2025, 1, 1), True),  # first day
        (date(2025, 12, 31), True),  # last day: the end is inclusive
        (date(2026, 1, 1), False),  # the day after
    ],
)
def test_an_active_contract_counts_on_every_day_of_its_period_and_no_other(day: date, expected: bool) -> None:
    assert contracted(contract(), day) is expected


def test_a_terminated_contract_counts_until_the_day_before_its_termination() -> None:
    terminated = contract(2, Status.TERMINATED)  # terminated on 2025-07-01
    assert contracted(terminated, date(2025, 6, 30))
    assert not contracted(terminated, date(2025, 7, 1))
    assert contract_end(terminated) == date(2025, 6, 30)


def test_an_expired_contract_counted_on_its_days_but_not_after() -> None:
    expired = contract(2, Status.EXPIRED)
    assert contracted(expired, date(2025, 12, 31))
    assert not contracted(expired, date(2026, 1, 1))
    assert contract_end(expired) == date(2025, 12, 31)


@pytest.mark.parametrize("status", [Status.PENDING, Status.CANCELLED])
def test_a_contract_never_in_force_never_counts_and_has_no_end(status: Status) -> None:
    assert not contracted(contract(1, status), date(2025, 6, 1))
    assert contract_end(contract(1, status)) is None


def test_renewal_is_due_from_the_renewal_due_date_while_in_force() -> None:
    c = replace(contract(), renewal_due=date(2025, 12, 1))
    assert not renewal_is_due(c, date(2025, 11, 30))
    assert renewal_is_due(c, date(2025, 12, 1))
    assert not renewal_is_due(c, date(2026, 1, 1))


def test_a_terminated_contract_needs_its_termination_and_only_it_has_one() -> None:
    with pytest.raises(ValueError, match="termination"):
        replace(contract(2, Status.TERMINATED), termination=None)
    with pytest.raises(ValueError, match="termination"):
        replace(contract(2), termination=contract(2, Status.TERMINATED).termination)
