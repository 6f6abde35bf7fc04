"""Value parsers and helpers the runtime uses: durations, host:port, message types, retry delays."""

from __future__ import annotations

import pytest

from engine.config import MessageFilter, RetryPolicy, message_type_matches, parse_duration, parse_host_port


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        (30, 30.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("1.5m", 90.0),
    ],
)
def test_durations_become_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-1s", "", "1w", True, None, "ms"])
def test_bad_durations_say_which_forms_are_accepted(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration such as 500ms, 5s, 10m, 1h, 1d"):
        parse_duration(text)


def test_host_port_round_trips_through_str() -> None:
    assert str(parse_host_port("his.example:2575")) == "his.example:2575"
    assert str(parse_host_port("[fe80::1]:2575")) == "[fe80::1]:2575"


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
    assert message_type_matches(pattern, message_type) is matches


def test_filter_accepts_listed_types_only() -> None:
    f = MessageFilter(message_types=("ADT^A01", "ORU^*"))
    assert f.accepts("ORU^R01") and f.accepts("ADT^A01") and not f.accepts("ADT^A04")


def test_exponential_retry_delay_grows_and_is_capped() -> None:
    retry = RetryPolicy(initial_interval=1, max_interval=10, multiplier=3)
    assert [retry.delay(n) for n in (1, 2, 3, 4)] == [1, 3, 9, 10]
    assert RetryPolicy(backoff="fixed", initial_interval=5).delay(7) == 5
