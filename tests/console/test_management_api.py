"""The management API (/api/v1) on a daemon that filed the county HIS samples and dead-lettered one message:
what `huitong messages|stats` and a running daemon's controls do, over HTTP, each action audited."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from engine.connectors.mllp.client import exchange
from engine.store import audit, message_text
from engine.store.database import open_engine
from engine.store.schema import messages
from tests.console.server import CHEN_ID, HIS_SAMPLES, REFUSED, Console, county_console
from tests.support.daemon import wait_until
from tests.support.messages import adt, field


@pytest.fixture(scope="module")
def api(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-api")
    with county_console(module_store_url, root, log_dir / f"console-api-{root.name}.jsonl") as console:
        yield console


def trail(console: Console, action: str) -> list[audit.Entry]:
    engine = open_engine(module_url(console))
    try:
        with engine.connect() as conn:
            return audit.search(conn, actions=[action], limit=100)[1]
    finally:
        engine.dispose()


def module_url(console: Console) -> str:
    import yaml

    return str(yaml.safe_load(console.config.read_text())["store"])


def chen_control_ids() -> set[str]:
    return {
        field(p.read_bytes().replace(b"\n", b"\r"), b"MSH", 10).decode()
        for p in HIS_SAMPLES.glob("*.hl7")
        if CHEN_ID.encode() in p.read_bytes()
    }


def test_the_channel_list_gives_each_channels_state_counts_and_last_message(api: Console) -> None:
    status, body = api.call("GET", "/channels")
    assert status == 200
    [his] = body["channels"]
    assert (his["name"], his["source"], his["state"], his["destinations"]) == (
        "his-adt",
        "mllp",
        "started",
        ["record", "lis"],
    )
    assert his["counts"]["received"] == api.samples and his["counts"]["dead"] >= 1
    assert his["last_message"]["source"].startswith("127.0.0.1")


def test_messages_are_found_by_control_id_and_by_type_page_by_page(api: Console) -> None:
    status, body = api.call("GET", f"/messages?control_id={REFUSED}")
    assert status == 200 and [m["control_id"] for m in body["messages"]] == [REFUSED]
    _, first = api.call("GET", "/messages?type=ORU&limit=2")
    _, second = api.call("GET", f"/messages?type=ORU&limit=2&offset={first['next_offset']}")
    found = first["messages"] + second["messages"]
    assert {m["message_type"].split("^")[0] for m in found} == {"ORU"}
    assert len({m["id"] for m in found}) == len(found) == 4 or second["next_offset"] is None


def test_a_patient_identifier_finds_the_messages_filed_in_that_residents_record(api: Console) -> None:
    status, body = api.call("GET", f"/messages?patient={CHEN_ID}&limit=100")
    assert status == 200
    assert {m["control_id"] for m in body["messages"]} == chen_control_ids()


def test_a_text_search_finds_the_messages_that_hold_it_in_their_own_charset(api: Console) -> None:
    status, body = api.call("GET", "/messages?text=陈桂兰&limit=100".replace("陈桂兰", "%E9%99%88%E6%A1%82%E5%85%B0"))
    assert status == 200
    assert {m["control_id"] for m in body["messages"]} == chen_control_ids()


def test_a_text_search_answers_whether_the_text_index_or_a_scan_looked_for_it(api: Console) -> None:
    _, indexed = api.call("GET", f"/messages?text={quote('陈桂兰')}&limit=100")
    _, scanned = api.call("GET", f"/messages?text={quote('桂兰')}&limit=100")  # under three characters
    _, plain = api.call("GET", "/messages?type=ORU")
    assert (indexed["text_search"], scanned["text_search"], plain["text_search"]) == ("index", "scan", None)
    assert {m["control_id"] for m in scanned["messages"]} == {m["control_id"] for m in indexed["messages"]}


def test_the_daemon_indexes_the_text_of_what_it_journaled(api: Console) -> None:
    def all_indexed() -> bool:
        engine = open_engine(module_url(api))
        try:
            with engine.connect() as conn:
                unindexed = select(func.count()).where(message_text.unindexed(conn), func.length(messages.c.raw) > 0)
                return conn.execute(unindexed).scalar_one() == 0
        finally:
            engine.dispose()

    wait_until(all_indexed)


def test_an_unknown_patient_or_a_bad_parameter_is_a_400_that_names_it(api: Console) -> None:
    assert api.call("GET", "/messages?patient=999999999999999999")[0] == 400
    status, body = api.call("GET", "/messages?since=yesterday")
    assert status == 400 and "since" in body["error"]
    status, body = api.call("GET", "/messages?limit=0")
    assert status == 400 and "limit" in body["error"]


def test_a_messages_content_has_its_raw_text_and_mapped_fhir_and_its_reading_is_audited(api: Console) -> None:
    _, found = api.call("GET", "/messages?control_id=HIS260708002")
    [message] = found["messages"]
    status, shown = api.call("GET", f"/messages/{message['id']}/content")
    assert status == 200
    assert "陈桂兰" in shown["raw"] and shown["raw"].startswith("MSH|")
    types = {e["resource"]["resourceType"] for e in shown["mapped"]["entry"]}
    assert {"Patient", "Observation"} <= types
    read = [e for e in trail(api, "read message") if e.target == f"message:{message['id']}"]
    assert read and read[0].actor == "anonymous"


def test_the_summary_of_a_message_holds_no_content(api: Console) -> None:
    _, found = api.call("GET", "/messages?control_id=HIS260708002")
    status, shown = api.call("GET", f"/messages/{found['messages'][0]['id']}")
    assert status == 200 and "raw" not in shown and "陈桂兰" not in str(shown)
    assert api.call("GET", "/messages/99999999")[0] == 404


def test_dead_letters_of_a_destination_are_reprocessed_in_bulk_and_sent(api: Console) -> None:
    _, queues = api.call("GET", "/queues")
    assert {"channel": "his-adt", "destination": "lis", "dead": 1}.items() <= queues["queues"][-1].items() or any(
        q["destination"] == "lis" and q["dead"] == 1 for q in queues["queues"]
    )
    status, dead = api.call("GET", "/dead-letters?destination=lis")
    assert status == 200 and [d["destination"] for d in dead["dead_letters"]] == ["lis"]
    api.lis.refusing = False
    status, done = api.call("POST", "/dead-letters/reprocess", {"destination": "lis", "reason": "LIS fixed"})
    assert status == 200 and done == {"messages": 1, "deliveries": 1}
    wait_until(lambda: not api.call("GET", "/dead-letters")[1]["dead_letters"])
    [entry] = [e for e in trail(api, "reprocess") if e.detail["reason"] == "LIS fixed"]
    assert entry.actor == "anonymous"
    assert next(iter(entry.detail["before"].values()))["deliveries"]["lis"] == "DEAD"


def test_a_paused_channel_takes_no_connection_and_takes_messages_again_when_resumed(api: Console) -> None:
    port = int(_listen_port(api))
    status, paused = api.call("POST", "/channels/his-adt/pause", {"reason": "HIS maintenance"})
    assert (status, paused["state"]) == (200, "paused")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert api.call("POST", "/channels/his-adt/pause")[0] == 409
    status, resumed = api.call("POST", "/channels/his-adt/resume")
    assert (status, resumed["state"]) == (200, "started")
    assert b"MSA|AA|" in next(exchange("127.0.0.1", port, [adt("AFTER001")]))
    entries = {e.action: e for e in trail(api, "channel pause") + trail(api, "channel resume")}
    assert entries["channel pause"].detail == {"before": "started", "after": "paused", "reason": "HIS maintenance"}
    assert entries["channel resume"].detail["after"] == "started"


def test_a_stopped_channel_stays_stopped_through_a_reload_until_started(api: Console) -> None:
    assert api.call("POST", "/channels/his-adt/stop")[1]["state"] == "stopped"
    status, outcome = api.call("POST", "/reload")
    assert status == 200 and "his-adt" not in outcome["started"]
    assert api.call("GET", "/channels/his-adt")[1]["state"] == "stopped"
    assert api.call("POST", "/channels/his-adt/start")[1]["state"] == "started"
    assert [e.detail["before"] for e in trail(api, "channel start")] == ["stopped"]


def test_messages_per_minute_add_up_to_what_was_received(api: Console) -> None:
    status, series = api.call("GET", "/throughput?minutes=120")
    assert status == 200 and len(series["minutes"]) == len(series["received"]) == 120
    _, channels = api.call("GET", "/channels")
    assert sum(series["received"]) == channels["channels"][0]["counts"]["received"]


def _listen_port(api: Console) -> str:
    import yaml

    channel = yaml.safe_load((api.config.parent / "channels" / "his-adt.yaml").read_text())
    return str(channel["source"]["listen"]).rsplit(":", 1)[1]
