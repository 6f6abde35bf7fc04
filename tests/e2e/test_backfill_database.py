"""`huitong backfill` over a database channel: a watermark range of a HIS view through the whole pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_database_source import delivered, journal, visits_config
from tests.support.daemon import huitong
from tests.support.source_db import KINDS, SourceDb, open_source_db


@pytest.fixture(params=KINDS)
def his(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceDb]:
    yield from open_source_db(request.param, tmp_path)


def test_a_watermark_range_is_recorded_once_and_the_next_range_follows(
    his: SourceDb, tmp_path: Path, log_dir: Path
) -> None:
    for n in range(1, 6):
        his.add_visit(n, f"2026-11-20 10:0{n}:00", person=n % 2)
    before = his.snapshot()
    config = visits_config(tmp_path, his, log_dir)
    first = huitong("backfill", "his-visits", "--until", "2026-11-20 10:03:00", config=config)
    assert first.returncode == 0, first.stderr
    marks = [r["control_id"].replace("T", " ") for r in journal(config)]  # SQLite keeps text, the others times
    assert marks == [f"2026-11-20 10:0{n}:00" for n in (1, 2, 3)]
    assert delivered(config) == ["SENT"] * 3
    again = huitong("backfill", "his-visits", "--until", "2026-11-20 10:03:00", config=config)
    assert again.returncode == 0 and "nothing to do" in again.stdout + again.stderr
    rest = huitong("backfill", "his-visits", "--since", "2026-11-20 10:03:00", config=config)
    assert rest.returncode == 0, rest.stderr
    statuses = [r["status"] for r in journal(config)]
    # the query reads `>= :watermark`, so 10:03 comes again: a duplicate in the journal, not delivered twice
    assert sorted(statuses) == ["DUPLICATE"] + ["PROCESSED"] * 5
    assert delivered(config) == ["SENT"] * 5
    assert his.snapshot() == before  # read only
