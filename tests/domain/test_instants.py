from datetime import UTC, datetime, timedelta, timezone

from engine.domain.instants import local_iso


def test_a_moment_is_written_in_iso_8601_with_its_offset_to_the_second() -> None:
    ts = datetime(2026, 12, 6, 12, 41, 7, 654321, tzinfo=UTC).timestamp()
    assert local_iso(ts, timezone(timedelta(hours=8))) == "2026-12-06T20:41:07+08:00"
    assert local_iso(ts, UTC) == "2026-12-06T12:41:07+00:00"


def test_without_a_zone_the_machines_local_time_is_used() -> None:
    ts = datetime(2026, 12, 6, 12, 41, 7, tzinfo=UTC).timestamp()
    assert datetime.fromisoformat(local_iso(ts)).timestamp() == ts
