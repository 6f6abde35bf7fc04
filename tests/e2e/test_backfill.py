"""`huitong backfill CHANNEL`: an HL7 v2 archive through the whole pipeline, checkpointed, resumable, idempotent."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select

from engine.runtime.backfill import STATE_KEY, Refused, State, plan
from engine.store import message_text, source_state
from engine.store.database import migrate
from engine.store.schema import messages, outbox, record_resources, record_versions
from tests.support.archive import adt, flat_tree, mixed_tree, name, resident_id
from tests.support.daemon import HUITONG, free_port, huitong, wait_until, write_config
from tests.support.faults import REASON, refuse_record_versions


def setup(tmp_path: Path, store_url: str, log_dir: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return write_config(
        tmp_path,
        store_url,
        {
            "his": {
                "source_system": "his.county-hospital",
                "source": {"type": "file", "path": str(inbox), "glob": "*.hl7", "encoding": "gb18030"},
                "map": ["hl7v2/adt"],
                "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
            }
        },
        log_dir / f"backfill-{tmp_path.name}.jsonl",
    )


def counts(store_url: str) -> dict[str, object]:
    """What the store holds: journal rows per control ID and status, deliveries per status, record rows."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            journal = conn.execute(select(messages.c.control_id, messages.c.status)).all()
            deliveries = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            encounters = conn.execute(
                select(func.count()).select_from(record_resources).where(record_resources.c.type == "Encounter")
            ).scalar_one()
            versions = conn.execute(select(func.count()).select_from(record_versions)).scalar_one()
    finally:
        engine.dispose()
    return {
        "journal": sorted((c, s) for c, s in journal),
        "deliveries": dict(deliveries),
        "encounters": encounters,
        "versions": versions,
    }


def patient_names(store_url: str) -> list[str]:
    engine = create_engine(store_url)
    r, v = record_resources.c, record_versions.c
    try:
        with engine.connect() as conn:
            bodies = conn.execute(
                select(v.body).join(record_resources, r.id == v.resource_id).where(r.type == "Patient")
            ).scalars()
            return sorted(n["family"] + "".join(n.get("given", [])) for b in bodies for n in json.loads(b)["name"])
    finally:
        engine.dispose()


def left_to_index(store_url: str) -> int:
    """Journaled messages the text index does not hold (a content search scans them)."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            unindexed = select(func.count()).where(message_text.unindexed(conn), func.length(messages.c.raw) > 0)
            return conn.execute(unindexed).scalar_one()
    finally:
        engine.dispose()


def backfill_state(store_url: str) -> State | None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            text = source_state.read(conn, "his").get(STATE_KEY)
    except Exception:  # the schema is not there yet
        return None
    finally:
        engine.dispose()
    return State.loads(text) if text else None


def test_a_tree_of_gb18030_utf8_and_batch_files_lands_in_the_record(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)
    numbers = mixed_tree(tmp_path / "archive")
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    assert "journaled          7" in done.stdout
    assert "delivered          SENT 7, SKIPPED 0, DEAD 0" in done.stdout
    # GB 18030 with MSH-18, UTF-8, inside the batch file, without MSH-18 (the source's encoding): all read right
    assert patient_names(store_url) == sorted(name(n) for n in numbers)
    assert counts(store_url)["encounters"] == len(numbers)
    assert left_to_index(store_url) == 0  # no daemon needed for content search to find them by the index
    shown = huitong("record", "show", resident_id(6), "--json", config=config)
    assert shown.returncode == 0, shown.stderr
    assert name(6) in json.dumps(json.loads(shown.stdout), ensure_ascii=False)
    assert (tmp_path / "archive" / "2024" / "01" / "a.hl7").exists()  # an archive is read in place


def test_a_malformed_file_in_the_middle_is_reported_by_name_and_the_rest_goes_on(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)
    mixed_tree(tmp_path / "archive")
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    assert "errors             1 (1 refused at intake, 0 failed delivery)" in done.stdout
    assert "no MSH segment found" in done.stdout
    assert "2024/02/broken.hl7" in done.stdout
    journal = counts(store_url)["journal"]
    assert ("BF-0006", "PROCESSED") in journal and ("BF-0007", "PROCESSED") in journal  # the files after it


def test_killed_during_a_backfill_it_resumes_with_every_message_exactly_once(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)
    numbers = flat_tree(tmp_path / "archive", 40)
    engine = create_engine(store_url)
    migrate(engine)  # the schema, so the test can poll it
    engine.dispose()
    proc = subprocess.Popen(
        [HUITONG, "backfill", "his", "--path", str(tmp_path / "archive"), "--batch", "1", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = wait_until(lambda: backfill_state(store_url), step=0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    assert isinstance(first, State) and not first.done
    killed_at = backfill_state(store_url)
    assert killed_at is not None and not killed_at.done

    again = huitong("backfill", "his", "--resume", config=config)  # the recorded path
    assert again.returncode == 0, again.stderr
    assert f"messages read      {len(numbers)}" in again.stdout
    after = counts(store_url)
    assert after["journal"] == [(f"BF-{n:04d}", "PROCESSED") for n in numbers]
    assert after["deliveries"] == {"SENT": len(numbers)}
    assert after["encounters"] == len(numbers)


def test_a_finished_backfill_run_again_changes_nothing(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config = setup(tmp_path, store_url, log_dir)
    mixed_tree(tmp_path / "archive")
    archive = str(tmp_path / "archive")
    assert huitong("backfill", "his", "--path", archive, config=config).returncode == 0
    before = counts(store_url)
    for extra in (("--path", archive), ("--path", archive, "--resume"), ("--resume",)):
        again = huitong("backfill", "his", *extra, config=config)
        assert again.returncode == 0, again.stderr
        assert "already finished: nothing to do" in again.stdout
    assert counts(store_url) == before


def test_a_new_path_while_a_backfill_is_unfinished_is_refused(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config = setup(tmp_path, store_url, log_dir)
    mixed_tree(tmp_path / "archive")
    engine = create_engine(store_url)
    migrate(engine)
    unfinished = State(str(tmp_path / "older"), {"file": "x.hl7", "message": 1})
    with engine.begin() as conn:
        source_state.write(conn, "his", {STATE_KEY: unfinished.dumps()})
    engine.dispose()
    refused = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert refused.returncode == 1
    assert "unfinished" in refused.stderr and "--restart" in refused.stderr
    assert counts(store_url)["journal"] == []
    restarted = huitong("backfill", "his", "--path", str(tmp_path / "archive"), "--restart", config=config)
    assert restarted.returncode == 0, restarted.stderr
    assert "journaled          7" in restarted.stdout


def test_a_dry_run_writes_nothing_and_reports_types_values_left_out_and_errors_by_file(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)
    mixed_tree(tmp_path / "archive")
    bad = (tmp_path / "archive" / "2024" / "01" / "a.hl7").read_bytes().replace(b"||19900307|", b"||19901399|")
    (tmp_path / "archive" / "2024" / "01" / "bad_birth.hl7").write_bytes(bad.replace(b"BF-0001", b"BF-0099"))
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), "--dry-run", config=config)
    assert done.returncode == 0, done.stderr
    assert "nothing was written" in done.stdout
    assert "messages           9" in done.stdout
    assert "8  ADT^A04" in done.stdout
    assert "left out           1 values (recorded without them)" in done.stdout
    assert "2024/01/bad_birth.hl7: message 1:" in done.stdout and "birthDate" in done.stdout
    assert "19901399" not in done.stdout
    assert "2024/02/broken.hl7: message 1: no MSH segment found" in done.stdout
    assert "Encounter 8, Patient 8" in done.stdout
    if store_url.startswith("sqlite:///"):  # not even an empty store is made
        assert not Path(store_url.removeprefix("sqlite:///")).exists()
    assert backfill_state(store_url) is None  # nor a schema or a checkpoint on PostgreSQL


def test_progress_lines_are_written_when_not_on_a_terminal(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config = setup(tmp_path, store_url, log_dir)
    mixed_tree(tmp_path / "archive")
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    files = [line for line in lines if line.get("task") == "backfill his"]
    assert files and files[-1]["event"] == "done"
    assert files[-1]["done"] == files[-1]["total"] == 6
    assert "rate_per_s" in files[-1]


def test_with_a_destination_down_it_stops_and_leaves_the_queue_to_the_daemon(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)
    channel = tmp_path / "channels" / "his.yaml"
    spec = yaml.safe_load(channel.read_text())
    closed = f"http://127.0.0.1:{free_port()}/in"  # nothing listens there
    spec["destinations"].append({"name": "gateway", "type": "http", "url": closed, "retry": {"initial_interval": "5m"}})
    channel.write_text(yaml.safe_dump(spec, allow_unicode=True))
    mixed_tree(tmp_path / "archive")
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 3, done.stderr
    assert "delivered          SENT 7, SKIPPED 0, DEAD 0" in done.stdout  # the record
    assert "still queued       7 (left to the daemon; why each is not done yet:)" in done.stdout
    assert "gateway: " in done.stdout  # and the reason the gateway could not be reached
    deliveries = counts(store_url)["deliveries"]
    assert deliveries["SENT"] == 7 and deliveries.get("ERROR", 0) + deliveries.get("QUEUED", 0) == 7
    engine = create_engine(store_url)
    with engine.connect() as conn:  # not held by the stopped backfill: the daemon can take them at once
        assert conn.execute(select(func.count()).where(outbox.c.lease_until.is_not(None))).scalar_one() == 0
    engine.dispose()


def test_an_ndjson_export_is_read_line_by_line_and_a_bad_line_is_reported_with_its_file(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    inbox, export = tmp_path / "inbox", tmp_path / "export" / "2024"
    inbox.mkdir()
    export.mkdir(parents=True)
    patients = [{"resourceType": "Patient", "id": f"p{n}", "name": [{"text": f"王{n}"}]} for n in range(1, 5)]
    lines = [json.dumps(p, ensure_ascii=False) for p in patients]
    (export / "a.ndjson").write_text("\n".join(lines[:2]) + "\n")
    (export / "b.ndjson").write_text("\n".join([lines[2], "{not json", lines[3]]) + "\n")
    config = write_config(
        tmp_path,
        store_url,
        {"emr": {"source": {"type": "file", "path": str(inbox), "glob": "*.ndjson", "format": "ndjson"}}},
        log_dir / f"backfill-{tmp_path.name}.jsonl",
    )
    done = huitong("backfill", "emr", "--path", str(tmp_path / "export"), config=config)
    assert done.returncode == 0, done.stderr
    assert "messages read      5" in done.stdout
    assert "errors             1 (1 refused at intake, 0 failed delivery)" in done.stdout
    assert "2024/b.ndjson" in done.stdout
    journal = counts(store_url)["journal"]
    assert [c for c, s in journal if s == "PROCESSED"] == ["p1", "p2", "p3", "p4"]


def test_an_unfinished_backfill_of_the_same_path_asks_for_resume_or_restart() -> None:
    unfinished = State("/archive/his", {"file": "2024/a.hl7", "message": 1})
    with pytest.raises(Refused, match="--resume"):
        plan(unfinished, "/archive/his", resume=False, restart=False)
    assert plan(unfinished, "/archive/his", resume=True, restart=False) is unfinished
    assert plan(unfinished, "/archive/his", resume=False, restart=True).position == {}


def test_resume_over_another_path_than_the_unfinished_one_is_refused() -> None:
    unfinished = State("/archive/his", {"file": "2024/a.hl7", "message": 1})
    with pytest.raises(Refused, match="--resume alone"):
        plan(unfinished, "/archive/other", resume=True, restart=False)


def test_after_a_finished_backfill_another_path_starts_a_new_one() -> None:
    finished = State("/archive/his", {"file": "2024/z.hl7", "message": 3}, done=True, first_id=1)
    fresh = plan(finished, "/archive/2025", resume=False, restart=False)
    assert fresh.what == "/archive/2025" and fresh.position == {} and not fresh.done and fresh.first_id is None


def first_message_refused(tmp_path: Path, store_url: str, log_dir: Path, max_attempts: int) -> Path:
    """The mixed tree to backfill, the record retried `max_attempts` times a second apart, and a store that refuses
    to record the backfill's first message (2024/01/a.hl7); returns the configuration."""
    config = setup(tmp_path, store_url, log_dir)
    channel = tmp_path / "channels" / "his.yaml"
    spec = yaml.safe_load(channel.read_text())
    spec["destinations"][0]["retry"] = {"backoff": "fixed", "initial_interval": "1s", "max_attempts": max_attempts}
    channel.write_text(yaml.safe_dump(spec, allow_unicode=True))
    mixed_tree(tmp_path / "archive")
    engine = create_engine(store_url)
    migrate(engine)
    refuse_record_versions(engine, 1)
    engine.dispose()
    return config


def test_a_delivery_that_fails_on_the_data_is_counted_under_errors_with_its_reason_and_file(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = first_message_refused(tmp_path, store_url, log_dir, max_attempts=2)
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    assert "errors             2 (1 refused at intake, 1 failed delivery)" in done.stdout
    failed = done.stdout.split("in: 2024/02/broken.hl7")[1]
    assert f"record: cannot record: IntegrityError: {REASON}" in failed or REASON in failed
    assert "in: 2024/01/a.hl7" in failed
    assert "delivered          SENT 6, SKIPPED 0, DEAD 1" in done.stdout
    assert "a destination is down" not in done.stdout


def test_deliveries_that_keep_failing_leave_the_backfill_after_max_wait_with_their_reason(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = first_message_refused(tmp_path, store_url, log_dir, max_attempts=1000)
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), "--max-wait", "3s", config=config)
    assert done.returncode == 3, done.stderr
    assert "still queued       1 (left to the daemon; why each is not done yet:)" in done.stdout
    assert REASON in done.stdout.split("still queued")[1]


def test_ctrl_c_stops_at_a_checkpoint_with_the_summary_and_resume_finishes(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = first_message_refused(tmp_path, store_url, log_dir, max_attempts=1000)
    run = subprocess.Popen(
        [HUITONG, "backfill", "his", "--path", str(tmp_path / "archive"), "--max-wait", "10m", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # reading is done and the refused delivery keeps failing: the backfill waits on it
    wait_until(lambda: (s := backfill_state(store_url)) is not None and s.done, timeout=60)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted        at a checkpoint; the same command with --resume continues" in out
    engine = create_engine(store_url)
    with engine.begin() as conn:
        on = "" if engine.dialect.name == "sqlite" else " ON record_versions"
        conn.exec_driver_sql(f"DROP TRIGGER refuse_record_versions{on}")
    engine.dispose()
    again = huitong("backfill", "his", "--resume", config=config)
    assert again.returncode == 0, again.stderr
    assert "delivered          SENT 7, SKIPPED 0, DEAD 0" in again.stdout


def test_one_residents_backlog_is_recorded_in_order_without_a_pause_per_message(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    config = setup(tmp_path, store_url, log_dir)  # the record destination is ordered by person
    archive = tmp_path / "archive"
    archive.mkdir()
    for n in range(1, 31):  # thirty updates of one resident, each moving house
        text = adt(1, "UNICODE UTF-8").replace("BF-0001", f"UP-{n:04d}").replace("幸福路1号", f"幸福路{n}号")
        (archive / f"m{n:04d}.hl7").write_bytes(text.encode("utf-8"))
    done = huitong("backfill", "his", "--path", str(archive), config=config)
    assert done.returncode == 0, done.stderr
    assert "delivered          SENT 30, SKIPPED 0, DEAD 0" in done.stdout
    seconds = float(done.stdout.split("time")[1].split()[0].rstrip("s"))
    assert seconds < 15  # it was a second per message: the next row of a person waited for a look a second later
    engine = create_engine(store_url)
    r, v = record_resources.c, record_versions.c
    with engine.connect() as conn:
        bodies = conn.execute(
            select(v.body).join(record_resources, r.id == v.resource_id).where(r.type == "Patient").order_by(v.version)
        ).scalars()
        streets = [json.loads(b)["address"][0]["line"][0] for b in bodies]
    engine.dispose()
    assert streets == [f"幸福路{n}号" for n in range(1, 31)]
