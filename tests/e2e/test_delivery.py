"""Destinations that are down, slow to appear, or refuse: retries, per-person order, dead letters, reprocess."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine

from engine.connectors.mllp.client import exchange
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config
from tests.support.faults import outage_of_delivery_results, set_outage
from tests.support.messages import adt, field
from tests.support.mllp_peer import MllpPeer
from tests.support.store_view import destination_statuses as statuses
from tests.support.store_view import messages


def setup(tmp_path: Path, store_url: str, log_dir: Path, peer_port: int, **dest: object) -> tuple[Path, int]:
    port = free_port()
    config = write_config(
        tmp_path,
        store_url,
        {
            "adt-out": {
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
                "destinations": [{"name": "lis", "type": "mllp", "target": f"127.0.0.1:{peer_port}", **dest}],
            },
        },
        log_dir / f"delivery-{tmp_path.name}.jsonl",
    )
    return config, port


def test_a_destination_that_appears_late_gets_everything_in_per_person_order(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    peer_port = free_port()
    config, port = setup(
        tmp_path,
        store_url,
        log_dir,
        peer_port,
        order_by="person",
        retry={"max_attempts": 1000, "initial_interval": "100ms", "max_interval": "300ms"},
    )
    sent = [adt(f"ORD{i:03d}", f"PERSON{i % 3}") for i in range(30)]
    with Daemon(config, ports=(port,)):
        acks = list(exchange("127.0.0.1", port, sent))
        assert all(b"MSA|AA|" in a for a in acks)
        wait_until(lambda: "ERROR" in statuses(config))  # attempts failed while nobody listened
        with MllpPeer(port=peer_port) as peer:
            wait_until(lambda: len(peer.received) >= 30)
            time.sleep(0.3)
            received = list(peer.received)
        wait_until(lambda: set(statuses(config)) == {"SENT"})
    assert sorted(received) == sorted(sent)  # everything, once
    for person in (b"PERSON0", b"PERSON1", b"PERSON2"):
        theirs = [field(m, b"MSH", 10) for m in received if field(m, b"PID", 3).startswith(person)]
        assert theirs == sorted(theirs), person


def test_after_the_last_attempt_a_delivery_is_dead_and_reprocessing_sends_it(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    peer_port = free_port()
    config, port = setup(
        tmp_path,
        store_url,
        log_dir,
        peer_port,
        retry={"max_attempts": 2, "initial_interval": "100ms", "max_interval": "100ms"},
    )
    message = adt("DEAD001")
    with Daemon(config, ports=(port,)):
        assert b"MSA|AA|" in next(exchange("127.0.0.1", port, [message]))
        wait_until(lambda: statuses(config) == ["DEAD"])
        with MllpPeer(port=peer_port) as peer:
            done = huitong("messages", "reprocess", "--dead", "--reason", "peer is back", config=config)
            assert done.returncode == 0 and "1 delivery" in done.stdout, done.stdout + done.stderr
            wait_until(lambda: statuses(config) == ["SENT"])
            assert peer.received == [message]


def test_an_AR_from_the_destination_is_dead_at_once_and_AE_is_retried(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    peer_port = free_port()
    config, port = setup(
        tmp_path,
        store_url,
        log_dir,
        peer_port,
        retry={"max_attempts": 3, "initial_interval": "100ms", "max_interval": "100ms"},
    )
    answers = {b"REJECT1": "AR", b"ERROR01": "AE"}
    with (
        MllpPeer(port=peer_port, answer=lambda m: answers.get(field(m, b"MSH", 10), "AA")) as peer,
        Daemon(config, ports=(port,)),
    ):
        list(exchange("127.0.0.1", port, [adt("REJECT1"), adt("ERROR01"), adt("GOOD001")]))
        wait_until(lambda: sorted(statuses(config)) == ["DEAD", "DEAD", "SENT"])
        rows = {
            r["control_id"]: r["destinations"][0]
            for r in messages(config)
        }
    assert rows["REJECT1"]["attempts"] == 1 and rows["REJECT1"]["last_error"].startswith("AR")
    assert rows["ERROR01"]["attempts"] == 3 and rows["ERROR01"]["last_error"].startswith("AE")
    assert [field(m, b"MSH", 10) for m in peer.received].count(b"ERROR01") == 3


def test_after_a_store_outage_in_a_round_the_live_node_takes_its_leases_back_at_once(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    peer_port = free_port()
    config, port = setup(tmp_path, store_url, log_dir, peer_port, order_by="person")
    with MllpPeer(port=peer_port) as peer, Daemon(config, ports=(port,)):
        store = create_engine(store_url)
        outage_of_delivery_results(store)
        set_outage(store, True)  # rounds claim and send, then cannot record what came of it
        acks = list(exchange("127.0.0.1", port, [adt(f"OUT{i:03d}", "PERSON1") for i in range(5)]))
        assert all(b"MSA|AA|" in a for a in acks)
        wait_until(lambda: len(peer.received) >= 1)
        set_outage(store, False)
        # the rows leased in the failed round are taken back by the same node, not left until their lease lapses
        wait_until(lambda: statuses(config) == ["SENT"] * 5, timeout=20)
        store.dispose()
