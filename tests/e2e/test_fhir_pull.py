"""FHIR pull: every resource updated since the watermark is journaled once, page after page, across crashes."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from tests.support.corpus import CORPUS
from tests.support.daemon import Daemon, wait_until, write_config
from tests.support.emr import RunningEmr
from tests.support.store_view import journal

NDJSON = CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson"
IDS = [json.loads(line)["id"] for line in NDJSON.read_text(encoding="utf-8").splitlines()]
TOKEN = "emr-token"


def pull_config(tmp_path: Path, store_url: str, log_dir: Path, base_url: str, **source: object) -> Path:
    spec = {
        "type": "fhir-pull",
        "base_url": base_url,
        "resource_types": ["Patient", "Encounter"],
        "poll_interval": "300ms",
        "page_size": 4,
        "token": TOKEN,
        **source,
    }
    return write_config(tmp_path, store_url, {"emr-pull": {"source": spec}}, log_dir / f"pull-{tmp_path.name}.jsonl")


def test_every_page_of_every_type_is_journaled_one_message_per_resource(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    with RunningEmr(token=TOKEN, load=NDJSON) as emr:
        config = pull_config(tmp_path, store_url, log_dir, emr.base_url)
        with Daemon(config):
            wait_until(lambda: len(journal(config)) >= len(IDS))
            pages = [r for r in emr.sim.requests if r.startswith("GET /fhir/Patient")]
            added = {"resourceType": "Patient", "id": "late-1", "gender": "female"}
            emr.call(lambda: emr.sim.put(added))  # changed after the first poll: the next one brings only it
            wait_until(lambda: len(journal(config)) == len(IDS) + 1)
            time.sleep(1.0)  # a few more polls: nothing new
            rows = journal(config)
    assert len(pages) >= 4  # 13 patients, 4 per page
    assert sorted(r["control_id"] for r in rows) == sorted([*IDS, "late-1"])
    assert {(r["message_type"], r["status"]) for r in rows} == {("Patient", "PROCESSED")}


def test_a_daemon_killed_mid_pull_resumes_without_loss_or_second_copy(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    with RunningEmr(token=TOKEN, load=NDJSON) as emr:
        emr.sim.delay = 0.25  # each page takes a while: time to kill the daemon between pages
        config = pull_config(tmp_path, store_url, log_dir, emr.base_url, page_size=2)
        daemon = Daemon(config).start()
        try:
            wait_until(lambda: 2 <= len(journal(config)) < len(IDS), step=0.02)
        finally:
            daemon.kill()  # SIGKILL: no chance to finish the page in hand
        seen_before = len(journal(config))
        emr.sim.delay = 0
        with Daemon(config):
            wait_until(lambda: len(journal(config)) >= len(IDS))
            time.sleep(1.0)
            rows = journal(config)
    assert seen_before < len(IDS)
    assert Counter(r["control_id"] for r in rows) == Counter(IDS)  # every resource, once
    assert {r["status"] for r in rows} == {"PROCESSED"}


def test_a_failing_server_is_retried_at_the_next_poll_and_never_stops_the_daemon(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    with RunningEmr(token="another-token", load=NDJSON) as emr:  # 401 for our token
        config = pull_config(tmp_path, store_url, log_dir, emr.base_url)
        with Daemon(config) as daemon:
            wait_until(lambda: len([r for r in emr.sim.requests if "Patient" in r]) >= 2)  # polled again
            emr.sim.token = TOKEN  # the EMR's operator fixes the token
            wait_until(lambda: len(journal(config)) == len(IDS))
            assert daemon.proc is not None and daemon.proc.poll() is None
    log = (log_dir / f"pull-{tmp_path.name}.jsonl").read_text(encoding="utf-8")
    assert "HTTP 401" in log
