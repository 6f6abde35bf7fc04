"""`huitong backfill` over a fhir-pull channel: the EMR's history over a `_lastUpdated` range, paged, checkpointed,
resumable, into the record."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from engine.runtime.backfill import STATE_KEY, State
from engine.store import source_state
from engine.store.database import migrate
from engine.store.schema import record_resources
from tests.support.corpus import CORPUS
from tests.support.daemon import HUITONG, huitong, wait_until, write_config
from tests.support.emr import RunningEmr
from tests.support.store_view import journal

PATIENTS = [
    json.loads(line)
    for line in (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()
]
# When the EMR last updated each of the 13 patients: the window 2026-01-01 .. 2026-06-30 holds the 3rd to the 10th,
# the first at its start (ge: in), two at the same instant, and the one at 2026-06-30 itself out (lt).
STAMPS = [
    "2025-11-15T08:00:00.000Z",
    "2025-12-31T23:59:59.999Z",
    "2026-01-01T00:00:00.000Z",
    "2026-01-20T09:30:00.000Z",
    "2026-02-14T10:00:00.000Z",
    "2026-03-03T11:00:00.000Z",
    "2026-03-03T11:00:00.000Z",
    "2026-04-18T16:45:00.000Z",
    "2026-05-30T07:15:00.000Z",
    "2026-06-29T23:59:59.000Z",
    "2026-06-30T00:00:00.000Z",
    "2026-07-02T12:00:00.000Z",
    "2026-08-09T12:00:00.000Z",
]
IN_WINDOW = sorted(p["id"] for p, stamp in zip(PATIENTS, STAMPS, strict=True) if "2026-01-01" <= stamp < "2026-06-30")
TOKEN = "emr-token"
WINDOW = ("--since", "2026-01-01", "--until", "2026-06-30")


@pytest.fixture
def emr() -> Iterator[RunningEmr]:
    with RunningEmr(token=TOKEN) as running:
        for patient, stamp in zip(PATIENTS, STAMPS, strict=True):
            running.call(lambda p=patient, at=stamp: running.sim.put(p, at=at))
        yield running


def setup(tmp_path: Path, store_url: str, log_dir: Path, emr: RunningEmr, **source: Any) -> Path:
    spec = {
        "type": "fhir-pull",
        "base_url": emr.base_url,
        "resource_types": ["Patient"],
        "page_size": 3,
        "token": TOKEN,
        "retry": {"max_attempts": 3, "initial_interval": "100ms"},
        **source,
    }
    return write_config(
        tmp_path,
        store_url,
        {"emr": {"source": spec, "destinations": [{"name": "record", "type": "record", "order_by": "person"}]}},
        log_dir / f"backfill-fhir-{tmp_path.name}.jsonl",
    )


def recorded(store_url: str, kind: str = "Patient") -> list[str]:
    """The source keys of the record's resources of a type, one per resource on file."""
    engine = create_engine(store_url)
    r = record_resources.c
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(select(r.source_key).where(r.type == kind)).scalars())
    finally:
        engine.dispose()


def checkpoint(store_url: str) -> State | None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            text = source_state.read(conn, "emr").get(STATE_KEY)
    finally:
        engine.dispose()
    return State.loads(text) if text else None


def fail_second_page(emr: RunningEmr, times: int) -> None:
    """The EMR answers 500 to the second page (after the count for the progress bar and the first page)."""

    def fail() -> None:
        emr.sim.fail_after, emr.sim.fail = 2, times

    emr.call(fail)


def journaled(config: Path) -> Counter[str]:
    return Counter(r["control_id"] for r in journal(config))


def test_a_window_files_exactly_its_resources_into_the_record(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    config = setup(tmp_path, store_url, log_dir, emr)
    done = huitong("backfill", "emr", *WINDOW, config=config)
    assert done.returncode == 0, done.stderr
    assert f"messages read      {len(IN_WINDOW)}" in done.stdout
    assert f"delivered          SENT {len(IN_WINDOW)}, SKIPPED 0, DEAD 0" in done.stdout
    assert journaled(config) == Counter(IN_WINDOW)
    assert recorded(store_url) == [f"Patient/{i}" for i in IN_WINDOW]
    searches = [r for r in emr.sim.requests if r.startswith("GET /fhir/Patient?")]
    assert all("_lastUpdated=ge2026-01-01" in r and "_lastUpdated=lt2026-06-30" in r for r in searches)
    assert any("_offset=6" in r for r in searches)  # 8 patients, 3 a page: the next links were followed
    progress = [json.loads(line) for line in done.stderr.splitlines() if '"task":"backfill emr"' in line]
    assert progress[-1]["event"] == "done" and progress[-1]["done"] == progress[-1]["total"] == len(IN_WINDOW)


def test_until_leaves_out_what_was_updated_at_or_after_it_and_the_next_window_takes_it(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    config = setup(tmp_path, store_url, log_dir, emr)
    assert huitong("backfill", "emr", *WINDOW, config=config).returncode == 0
    late = [p["id"] for p, stamp in zip(PATIENTS, STAMPS, strict=True) if stamp >= "2026-06-30"]
    assert not set(late) & set(journaled(config))
    rest = huitong("backfill", "emr", "--since", "2026-06-30", config=config)
    assert rest.returncode == 0, rest.stderr
    assert journaled(config) == Counter(IN_WINDOW + late)  # windows that meet neither overlap nor leave a gap
    assert recorded(store_url) == sorted(f"Patient/{i}" for i in IN_WINDOW + late)


def test_a_backfill_killed_mid_way_resumes_and_the_record_holds_each_resource_once(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    emr.sim.delay = 0.2  # each page takes a while: time to kill the backfill between pages
    config = setup(tmp_path, store_url, log_dir, emr)
    engine = create_engine(store_url)
    migrate(engine)  # the schema, so the test can look for the checkpoint
    engine.dispose()
    proc = subprocess.Popen(
        [HUITONG, "backfill", "emr", *WINDOW, "--batch", "1", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: checkpoint(store_url), step=0.01)
        proc.kill()
    finally:
        proc.wait(10)
    killed_at = checkpoint(store_url)
    assert killed_at is not None and not killed_at.done and killed_at.counts.read < len(IN_WINDOW)

    emr.sim.delay = 0
    again = huitong("backfill", "emr", "--resume", config=config)  # the recorded window
    assert again.returncode == 0, again.stderr
    assert f"messages read      {len(IN_WINDOW)}" in again.stdout
    assert journaled(config) == Counter(IN_WINDOW)  # nothing journaled twice, not even as a duplicate
    assert recorded(store_url) == [f"Patient/{i}" for i in IN_WINDOW]


def test_a_server_error_mid_way_is_retried_and_the_backfill_goes_on(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    config = setup(tmp_path, store_url, log_dir, emr)
    fail_second_page(emr, 2)  # fewer times than the retry policy's 3 attempts
    done = huitong("backfill", "emr", *WINDOW, config=config)
    assert done.returncode == 0, done.stderr
    assert "HTTP 500" in done.stderr  # the retry is logged
    assert journaled(config) == Counter(IN_WINDOW)
    assert recorded(store_url) == [f"Patient/{i}" for i in IN_WINDOW]


def test_a_server_that_keeps_failing_stops_the_backfill_naming_the_url_and_resume_finishes(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    config = setup(tmp_path, store_url, log_dir, emr)
    fail_second_page(emr, 3)  # as many times as the retry policy's attempts
    stopped = huitong("backfill", "emr", *WINDOW, "--batch", "2", config=config)
    assert stopped.returncode == 1
    assert "backfill stopped: GET http://127.0.0.1:" in stopped.stderr
    assert "/fhir/Patient?" in stopped.stderr and "HTTP 500 Internal Server Error (tried 3 times)" in stopped.stderr
    assert "--resume" in stopped.stderr
    first = journaled(config)
    assert 0 < sum(first.values()) < len(IN_WINDOW)

    again = huitong("backfill", "emr", "--resume", config=config)
    assert again.returncode == 0, again.stderr
    assert journaled(config) == Counter(IN_WINDOW)
    assert recorded(store_url) == [f"Patient/{i}" for i in IN_WINDOW]


def test_each_resource_type_the_channel_pulls_is_read_over_the_window_in_turn(
    store_url: str, tmp_path: Path, log_dir: Path, emr: RunningEmr
) -> None:
    inside, outside = PATIENTS[3]["id"], PATIENTS[0]["id"]
    visits = [(inside, "2026-02-01T08:00:00.000Z"), (outside, "2025-06-01T08:00:00.000Z")]
    for n, (subject, stamp) in enumerate(visits):
        encounter = {
            "resourceType": "Encounter",
            "id": f"enc-{n}",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{subject}"},
        }
        emr.call(lambda e=encounter, at=stamp: emr.sim.put(e, at=at))
    config = setup(tmp_path, store_url, log_dir, emr, resource_types=["Patient", "Encounter"])
    done = huitong("backfill", "emr", *WINDOW, config=config)
    assert done.returncode == 0, done.stderr
    assert journaled(config) == Counter([*IN_WINDOW, "enc-0"])
    assert [r["message_type"] for r in journal(config)] == ["Patient"] * len(IN_WINDOW) + ["Encounter"]
    encounters = [r for r in emr.sim.requests if r.startswith("GET /fhir/Encounter?")]
    assert encounters and all("_lastUpdated=ge2026-01-01" in r and "_lastUpdated=lt2026-06-30" in r for r in encounters)
