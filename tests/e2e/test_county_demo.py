"""`huitong demo --json`: the county scenario through the real daemon, the shipped channels and the simulators.

One run (about 20 s) is shared by the module; each test asserts one step of the day. The demo then keeps the
engine serving the FHIR API until it is stopped: the module reads it with the URL and token the demo printed,
then stops the demo with SIGTERM.
"""

from __future__ import annotations

import http.cookiejar
import json
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERMINATED = "SC2026010401"  # 赵永福 moves out on 16 August
SIGNED = "SC2026010202"  # 孙国强 signs on 1 September
CONTRACTED = {"SC2026010101", "SC2026010102", "SC2026010201", "SC2026010301", "SC2026010103", TERMINATED, SIGNED}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo's JSON outcome, while the demo still serves the FHIR API; stopped (exit 0) afterwards."""
    work = tmp_path_factory.mktemp("demo")
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "cli"), "demo", "--json", "--work", str(work)],
        stdout=subprocess.PIPE,
        stderr=(work.parent / f"{work.name}-demo.err").open("w"),
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # the outcome is printed as indented JSON: it ends with a "}" line of its own
            lines.append(line)
            if line == "}\n":
                break
        assert lines and lines[-1] == "}\n", (work.parent / f"{work.name}-demo.err").read_text()
        yield dict(json.loads("".join(lines)))
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=120) == 0


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


def fhir_get(fhir: dict[str, Any], path: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{fhir['base']}/{path}", headers={"Authorization": f"Bearer {fhir['token']}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        return dict(json.loads(answer.read()))


def test_the_printed_fhir_url_and_token_read_a_residents_record(outcome: dict[str, Any]) -> None:
    from samples.county_demo import curl

    fhir = outcome["fhir_api"]
    assert fhir["scope"] == "system/*.read" and fhir["base"].startswith("http://127.0.0.1:")
    patients = fhir_get(fhir, f"Patient?identifier={fhir['resident_id']}")["entry"]
    assert patients and {p["resource"]["resourceType"] for p in patients} == {"Patient"}  # each source's Patient
    encounters = fhir_get(fhir, f"Encounter?patient={fhir['person']}")
    assert encounters["total"] >= 1
    everything = fhir_get(fhir, f"Patient/{fhir['person']}/$everything?_count=100")
    kinds = {e["resource"]["resourceType"] for e in everything["entry"]}
    assert everything["entry"][0]["resource"]["id"] == fhir["person"] and {"Encounter", "Observation"} <= kinds
    commands = curl(fhir)
    assert all(fhir["token"] in c and fhir["base"] in c for c in commands)
    assert any("$everything" in c for c in commands)


def test_the_printed_console_sign_in_shows_every_shipped_channel(outcome: dict[str, Any]) -> None:
    console = outcome["console"]
    url, base = console["url"], console["url"].removesuffix("/ui/")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(url, timeout=10) as page:  # not signed in: the login form
        assert page.url.startswith(f"{base}/login")
    form = urllib.parse.urlencode({"name": console["user"], "password": console["password"], "next": "/ui/"})
    with browser.open(f"{base}/login", data=form.encode(), timeout=10) as page:
        html = page.read().decode()
    assert page.status == 200 and 'id="throughput"' in html
    with browser.open(f"{base}/api/v1/channels", timeout=10) as answer:
        channels = {c["name"]: c for c in json.loads(answer.read())["channels"]}
    assert channels["his-adt"]["state"] == "started" and channels["his-adt"]["counts"]["received"] >= 1
    assert {p.stem for p in (ROOT / "channels").glob("*.yaml")} == set(channels)
