"""`huitong demo --json`: the county scenario through the real daemon, the shipped channels and the simulators.

One run (about 20 s) is shared by the module; each test asserts one step of the day.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERMINATED = "SC2026010401"  # 赵永福 moves out on 16 August
SIGNED = "SC2026010202"  # 孙国强 signs on 1 September
CONTRACTED = {"SC2026010101", "SC2026010102", "SC2026010201", "SC2026010301", "SC2026010103", TERMINATED, SIGNED}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli"), "demo", "--json", "--work", str(work)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_every_contract_change_is_applied_once(outcome: dict[str, Any]) -> None:
    events = [(e["contract"], e["version"], e["event"], e["status"]) for e in outcome["contract_events"]]
    assert sorted(events) == sorted(
        [(c, 1, "signed", "ACTIVE") for c in CONTRACTED] + [(TERMINATED, 2, "terminated", "TERMINATED")]
    )


def test_the_his_gets_each_change_once_and_in_order_after_being_down(outcome: dict[str, Any]) -> None:
    his = outcome["his_pushes"]
    assert (his["received"], his["acknowledged"], his["duplicates"]) == (8, 8, 0)
    zhao = [(m["version"], m["status"], m["contracted"]) for m in his["messages"] if m["contract"] == TERMINATED]
    assert zhao == [(1, "ACTIVE", True), (2, "TERMINATED", False)]


def test_the_emr_accepts_every_push(outcome: dict[str, Any]) -> None:
    emr = outcome["emr_pushes"]
    assert emr["transactions"] >= 8  # eight contract changes, plus the worklist's tasks
    assert (emr["accepted"], emr["duplicates"]) == (emr["transactions"], 0)


def test_hospital_services_of_contracted_residents_return_to_public_health(outcome: dict[str, Any]) -> None:
    services = outcome["services_returned"]
    assert services["duplicates"] == 0
    records = services["records"]
    assert {r["contract"] for r in records} <= CONTRACTED  # 周晓梅, not contracted, returns nothing
    assert ("SC2026010101", "20260706", "GXY-SF") in {(r["contract"], r["date"], r["item"]) for r in records}
    assert any(r["contract"] == SIGNED and r["date"] == "20260902" for r in records)  # the day after signing
    assert all(r["date"] < "20260816" for r in records if r["contract"] == TERMINATED)
    assert any(r["closed_task"] for r in records if r["item"] == "GXY-SF")  # the follow-up task it closed
    kinds = {r["service"] for r in records}
    assert {"outpatient-visit", "lab-result", "prescription"} <= kinds


def test_tasks_are_created_and_closed_by_hospital_services(outcome: dict[str, Any]) -> None:
    assert outcome["tasks_created"] > outcome["tasks_closed"] > 0
    assert outcome["tasks_overdue"] == outcome["tasks_by_state"].get("OVERDUE", 0) + outcome["tasks_by_state"].get(
        "LOST", 0
    )


def test_a_resident_with_a_different_local_id_in_each_system_is_one_person(outcome: dict[str, Any]) -> None:
    systems = [r["system"] for r in outcome["linked_resident"]]
    assert systems == ["emr.county-people-hospital", "his.county-people-hospital", "phs.county"]


def test_the_indicator_table_counts_the_contracted_key_population(outcome: dict[str, Any]) -> None:
    county = {r["indicator"]: r for r in outcome["indicators"] if r["org"] == "339901" and r["team"] is None}
    assert (county["key_population_contract"]["numerator"], county["key_population_contract"]["denominator"]) == (7, 7)
    assert county["hypertension_control"]["denominator"] == 4
