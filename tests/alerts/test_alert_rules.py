"""The alert rules' logic (engine/domain/alerts.py): working hours, limits, and fire once / clear once."""

from __future__ import annotations

from datetime import datetime

from engine.domain import alerts

WEEKDAYS = alerts.Hours(frozenset(range(5)), 8 * 60, 18 * 60)
HOUR = 3600.0


def test_silence_counts_only_working_hours_so_a_quiet_weekend_fires_nothing_on_monday_morning() -> None:
    friday_evening = datetime(2026, 3, 6, 17, 55)
    monday = datetime(2026, 3, 9, 8, 10)
    started = datetime(2026, 3, 1)
    assert alerts.working_seconds(friday_evening, monday, WEEKDAYS) == 15 * 60
    assert alerts.inactive("silent", "his", friday_evening, started, monday, 1800, WEEKDAYS) is None


def test_a_channel_silent_for_longer_than_its_limit_within_working_hours_fires() -> None:
    last = datetime(2026, 3, 9, 9, 0)
    fired = alerts.inactive("silent", "his", last, datetime(2026, 3, 1), datetime(2026, 3, 9, 9, 45), 1800, WEEKDAYS)
    assert fired is not None
    assert fired.key == "silent|his"
    assert fired.text == "channel his received nothing for 45 min of working hours (limit 30 min)"


def test_a_channel_that_never_sent_counts_its_silence_from_the_daemons_start() -> None:
    started = datetime(2026, 3, 9, 9, 0)
    assert alerts.inactive("silent", "his", None, started, datetime(2026, 3, 9, 9, 20), 1800, WEEKDAYS) is None


def test_an_error_rate_needs_enough_messages_and_more_errors_than_its_limit() -> None:
    assert alerts.error_rate("errors", "his", 5, 5, 0.1, 10, 900) is None  # too few to judge
    assert alerts.error_rate("errors", "his", 100, 10, 0.1, 10, 900) is None  # at the limit
    fired = alerts.error_rate("errors", "his", 100, 11, 0.1, 10, 900)
    assert fired is not None and "11 of 100" in fired.text


def test_a_condition_fires_once_and_clears_once() -> None:
    dead = alerts.dead_letters("dead", "his/lis", 3, 0)
    assert dead is not None
    first = alerts.transitions([dead], {})
    assert [(t.key, t.firing) for t in first] == [("dead|his/lis", True)]
    assert alerts.transitions([dead], {"dead|his/lis": "dead"}) == []  # still holding: nothing new
    cleared = alerts.transitions([], {"dead|his/lis": "dead"})
    assert [(t.key, t.firing) for t in cleared] == [("dead|his/lis", False)]


def test_an_active_alert_whose_measurement_failed_is_not_cleared() -> None:
    assert alerts.transitions([], {"dead|his/lis": "dead"}, failed={"dead"}) == []


def test_a_certificate_fires_within_its_warning_time_and_says_when_it_expired() -> None:
    now = 1_800_000_000.0
    assert alerts.certificate("cert", "tls/a.crt", now + 40 * 24 * HOUR, now, 30 * 24 * HOUR) is None
    soon = alerts.certificate("cert", "tls/a.crt", now + 10 * 24 * HOUR, now, 30 * 24 * HOUR)
    assert soon is not None and "expires in 10 days" in soon.text
    gone = alerts.certificate("cert", "tls/a.crt", now - 1, now, 30 * 24 * HOUR)
    assert gone is not None and "expired" in gone.text


def test_a_queue_fires_on_depth_or_age_and_a_disk_on_its_free_share() -> None:
    assert alerts.queue("q", "his/lis", 10, 30.0, 100, 600) is None
    deep = alerts.queue("q", "his/lis", 101, 700.0, 100, 600)
    assert deep is not None and "101 deliveries waiting" in deep.text and "oldest waiting 12 min" in deep.text
    assert alerts.disk("disk", "/var", 20, 100, 10) is None
    assert alerts.disk("disk", "/var", 5, 100, 10) is not None
