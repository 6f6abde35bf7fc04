"""Value parsers and helpers the runtime uses: durations, host:port, message types, retry delays."""

from __future__ import annotations

import pytest

from engine.config import parse_duration, parse_host_port


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
