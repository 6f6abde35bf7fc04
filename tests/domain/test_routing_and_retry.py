"""Routing by message type and the retry schedule: pure rules, plain values."""

from __future__ import annotations

import pytest

from engine.domain.retry import RetryPolicy
from engine.domain.routing import ChannelRoutes, Route, decide, type_matches


@pytest.mark.parametrize(
    ("pattern", "message_type", "matches"),
    [
        ("ADT^A01", "ADT^A01", True),
        ("ADT^A01", "ADT^A01^ADT_A01", True),
        ("ADT^A01", "ADT^A04", False),
        ("ADT^*", "ADT^A40", True),
        ("ADT", "ADT^A08", True),
        ("ADT", "ORU^R01", False),
    ],
)
def test_message_type_patterns(pattern: str, message_type: str, matches: bool) -> None:
    assert type_matches([pattern], message_type) is matches


def test_no_filter_accepts_everything() -> None:
    assert type_matches(None, "ZZZ^Z99")


def test_a_filtered_message_says_why_and_goes_nowhere() -> None:
    channel = ChannelRoutes("his-adt", ("ADT^A01",), (Route("archive"),))
    decision = decide(channel, "ORU^R01")
    assert decision.filtered and "ORU^R01" in decision.reason and not decision.routes


def test_each_destination_gets_only_the_types_it_asks_for() -> None:
    channel = ChannelRoutes("his-adt", None, (Route("archive"), Route("lis", ("ADT^A01",), ordered=True)))
    assert [r.destination for r in decide(channel, "ADT^A08").routes] == ["archive"]
    assert [r.destination for r in decide(channel, "ADT^A01").routes] == ["archive", "lis"]


def test_exponential_retry_delay_grows_and_is_capped() -> None:
    retry = RetryPolicy(initial_interval=1, max_interval=10, multiplier=3)
    assert [retry.delay(n) for n in (1, 2, 3, 4)] == [1, 3, 9, 10]


def test_fixed_backoff_waits_the_same_each_time() -> None:
    assert RetryPolicy(backoff="fixed", initial_interval=5).delay(7) == 5


def test_attempts_run_out_at_max_attempts() -> None:
    assert not RetryPolicy(max_attempts=3).exhausted(2) and RetryPolicy(max_attempts=3).exhausted(3)
