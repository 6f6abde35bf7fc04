"""The CLI as an engineer uses it: validate, refusing bad config, send, messages, stats."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from engine.connectors.mllp.client import exchange
from engine.store.database import open_engine
from engine.store.schema import audit
from tests.support.corpus import CORPUS
from tests.support.daemon import HUITONG, SHIPPED_ENV, Daemon, free_port, huitong, wait_until, write_config
from tests.support.messages import adt
from tests.support.store_view import destination_statuses

MISTAKES = {
    "unknown key": (
        "source:\n  type: mllp\n  listn: 127.0.0.1:2575\n",
        r"channel\.yaml:4:3: source\.listn: unknown key",
    ),
    "wrong type": (
        "source:\n  type: mllp\n  listen: 127.0.0.1:2575\n  max_frame_bytes: lots\n",
        r"channel\.yaml:5:20: source\.max_frame_bytes: expected a whole number",
    ),
    "missing field": ("source:\n  type: mllp\n", r"channel\.yaml:3:3: source\.listen: missing required key"),
    "bad port": (
        "source:\n  type: mllp\n  listen: 127.0.0.1:70000\n",
        r"channel\.yaml:4:11: source\.listen: the port must be from 1 to 65535",
    ),
    "unknown env var": (
        "source:\n  type: mllp\n  listen: ${NO_SUCH_HUITONG_VAR}\n",
        r"channel\.yaml:4:11: source\.listen: environment variable NO_SUCH_HUITONG_VAR is not set",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_validate_names_file_line_column_and_field_for_each_kind_of_mistake(tmp_path: Path, mistake: str) -> None:
    body, pattern = MISTAKES[mistake]
    (tmp_path / "channels").mkdir()
    (tmp_path / "channels" / "channel.yaml").write_text("channel: broken\n" + body)
    (tmp_path / "engine.yaml").write_text("store: sqlite:///store.db\nchannels: channels\n")
    done = huitong("validate", config=tmp_path / "engine.yaml")
    assert done.returncode == 1
    assert re.search(pattern, done.stdout), done.stdout


def test_the_daemon_refuses_to_start_on_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "channels").mkdir()
    (tmp_path / "channels" / "bad.yaml").write_text("channel: bad\nsource: {type: mllp, listen: ':0'}\n")
    (tmp_path / "engine.yaml").write_text("store: sqlite:///store.db\nchannels: channels\n")
    done = huitong("daemon", config=tmp_path / "engine.yaml")
    assert done.returncode == 1
    assert "bad.yaml:2:" in done.stderr and "nothing was started" in done.stderr
    assert not (tmp_path / "store.db").exists()


def test_the_shipped_configuration_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SHIPPED_ENV.items():
        monkeypatch.setenv(name, value)
    done = huitong("validate", "--no-environment", config=Path(__file__).parents[2] / "config" / "engine.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_send_messages_show_and_stats_tell_what_happened(tmp_path: Path, log_dir: Path) -> None:
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "cli": {
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
                "filter": {"message_types": ["ADT^A01"]},
                "destinations": [{"name": "archive", "type": "file", "path": str(tmp_path / "out")}],
            },
        },
        log_dir / "cli.jsonl",
    )
    good, other = tmp_path / "good.hl7", tmp_path / "other.hl7"
    good.write_bytes(adt("CLI0001"))
    other.write_bytes(adt("CLI0002").replace(b"ADT^A01^ADT_A01", b"ADT^A08^ADT_A01"))
    with Daemon(config, ports=(port,)):
        sent = huitong("send", str(good), str(other), "--to", f"127.0.0.1:{port}")
        assert sent.returncode == 0, sent.stderr
        assert [line.split()[0] for line in sent.stdout.splitlines()] == ["AA", "AA"]
        wait_until(lambda: destination_statuses(config) == ["SENT"])
        stats = json.loads(huitong("stats", "--json", config=config).stdout)
    assert stats["cli"] == {
        "received": 2,
        "processed": 1,
        "filtered": 1,
        "errored": 0,
        "duplicates": 0,
        "pending": 0,
        "queued": 0,
        "retrying": 0,
        "sent": 1,
        "dead": 0,
        "skipped": 0,
    }
    rows = json.loads(huitong("messages", "list", "--json", config=config).stdout)
    assert [(r["control_id"], r["status"]) for r in rows] == [("CLI0002", "FILTERED"), ("CLI0001", "PROCESSED")]
    assert set(rows[1]) >= {"id", "channel", "status", "control_id", "message_type", "received_at", "destinations"}
    assert rows[1]["destinations"] == [
        {
            "name": "archive",
            "status": "SENT",
            "attempts": 1,
            "last_error": None,
            "next_attempt_at": None,
            "sent_at": rows[1]["destinations"][0]["sent_at"],
        }
    ]
    shown = huitong("messages", "show", str(rows[1]["id"]), config=config)
    assert "archive SENT attempts=1" in shown.stdout and "MSH|" in shown.stdout
    listed = huitong("messages", "list", "--status", "filtered", "--since", "1h", config=config)
    assert "CLI0002" in listed.stdout and "CLI0001" not in listed.stdout


def test_reprocess_by_id_and_by_filter_runs_messages_again_and_is_audited(tmp_path: Path, log_dir: Path) -> None:
    port = free_port()
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "again": {
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
                "filter": {"message_types": ["ORU^R01"]},
            }
        },
        log_dir / "reprocess.jsonl",
    )
    with Daemon(config, ports=(port,)):
        list(exchange("127.0.0.1", port, [adt("REP0001"), adt("REP0002")]))
        rows = json.loads(huitong("messages", "list", "--json", config=config).stdout)
        assert {r["status"] for r in rows} == {"FILTERED"}
    channel = tmp_path / "channels" / "again.yaml"
    spec = yaml.safe_load(channel.read_text())
    spec["filter"] = {"message_types": ["ADT^A01"]}
    spec["destinations"] = [{"name": "archive", "type": "file", "path": str(out)}]
    channel.write_text(yaml.safe_dump(spec))
    first = str(min(r["id"] for r in rows))
    by_id = huitong("messages", "reprocess", first, "--reason", "filter fixed", config=config)
    assert by_id.stdout.startswith("reprocessing 1 message(s)"), by_id.stdout + by_id.stderr
    by_filter = huitong("messages", "reprocess", "--channel", "again", "--status", "filtered", config=config)
    assert by_filter.stdout.startswith("reprocessing 1 message(s)"), by_filter.stdout
    with Daemon(config, ports=(port,)):
        wait_until(lambda: len(list(out.glob("*.hl7"))) == 2)
    assert sorted(p.name.split("_")[-1] for p in out.glob("*.hl7")) == ["REP0001.hl7", "REP0002.hl7"]
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        reasons = [json.loads(r.detail)["reason"] for r in conn.execute(select(audit).order_by(audit.c.id))]
    engine.dispose()
    assert reasons == ["filter fixed", ""]


def test_run_starts_only_the_named_channel(tmp_path: Path, log_dir: Path) -> None:
    wanted, other = free_port(), free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "wanted": {"source": {"type": "mllp", "listen": f"127.0.0.1:{wanted}"}},
            "other": {"source": {"type": "mllp", "listen": f"127.0.0.1:{other}"}},
        },
        log_dir / "run-one.jsonl",
    )
    with Daemon(config, ports=(wanted,), command=("run", "wanted")):
        assert b"MSA|AA|" in next(exchange("127.0.0.1", wanted, [adt("RUN0001")]))
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", other), timeout=1).close()
    unknown = huitong("run", "nosuch", config=config)
    assert unknown.returncode == 1 and "no channel named 'nosuch'" in unknown.stderr


def test_a_refused_message_keeps_the_answer_its_sender_got(tmp_path: Path, log_dir: Path) -> None:
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {"refusing": {"source": {"type": "mllp", "listen": f"127.0.0.1:{port}"}}},
        log_dir / "refused.jsonl",
    )
    no_control_id = adt("").replace(b"ADT^A01^ADT_A01||", b"ADT^A01^ADT_A01||")
    with Daemon(config, ports=(port,)):
        answer = next(exchange("127.0.0.1", port, [no_control_id]))
        [row] = json.loads(huitong("messages", "list", "--json", config=config).stdout)
        shown = json.loads(huitong("messages", "show", str(row["id"]), "--json", config=config).stdout)
    assert row["status"] == "ERROR" and "MSH-10" in row["error"]
    assert shown["content"]["ack"] == answer.decode() and "MSA|AR|" in shown["content"]["ack"]


def test_a_port_already_taken_stops_the_daemon_with_the_channel_named(tmp_path: Path, log_dir: Path) -> None:
    free, taken = free_port(), free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "a-first": {"source": {"type": "mllp", "listen": f"127.0.0.1:{free}"}},
            "b-second": {"source": {"type": "mllp", "listen": f"127.0.0.1:{taken}"}},
        },
        log_dir / "port-taken.jsonl",
    )
    with socket.create_server(("127.0.0.1", taken)):
        done = huitong("daemon", config=config)
    assert done.returncode == 1
    assert "b-second.yaml: channel b-second cannot listen on 127.0.0.1:" in done.stderr
    assert "address already in use" in done.stderr and "nothing is running" in done.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", free), timeout=1).close()


def test_sending_a_file_that_is_not_there_names_it_without_a_traceback(tmp_path: Path) -> None:
    done = huitong("send", str(tmp_path / "nothere.hl7"), "--to", f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert f"cannot read {tmp_path / 'nothere.hl7'}: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_read_command_on_a_store_that_is_not_there_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, log_dir: Path
) -> None:
    store = tmp_path / "var" / "huitong.db"
    config = write_config(tmp_path, f"sqlite:///{store}", {}, log_dir / "no-store.jsonl")
    for command in (["messages", "list"], ["stats"], ["mpi", "search", "--name", "张三"]):
        done = huitong(*command, config=config)
        assert done.returncode == 1, command
        assert f"no store at {store}" in done.stderr and "Traceback" not in done.stderr
    assert not store.exists()


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    lines = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text().splitlines()
    entries = [{"resource": json.loads(line)} for line in lines] * 3  # more than a pipe holds
    bundle = tmp_path / "patients.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    run = subprocess.Popen(
        [HUITONG, "convert", str(bundle), "--from", "fhir"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert run.stdout is not None and run.stdout.readline()
    run.stdout.close()  # as `| head -1` does
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_validate_shows_the_store_url_without_its_password(tmp_path: Path, log_dir: Path) -> None:
    url = "postgresql+psycopg://huitong:s3cret-pw@127.0.0.1:5432/huitong"
    config = write_config(tmp_path, url, {}, log_dir / "validate-password.jsonl")
    done = huitong("validate", "--no-environment", config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "huitong:***@127.0.0.1" in done.stdout


def test_the_store_and_the_log_file_are_readable_by_the_engines_user_only(tmp_path: Path) -> None:
    store, log = tmp_path / "var" / "huitong.db", tmp_path / "var" / "log" / "huitong.jsonl"
    config = write_config(tmp_path, f"sqlite:///{store}", {"his": {"source": {"type": "file", "path": "in"}}}, log)
    (tmp_path / "archive").mkdir()
    done = huitong("backfill", "his", "--path", str(tmp_path / "archive"), config=config)
    assert done.returncode == 0, done.stderr
    assert store.stat().st_mode & 0o777 == 0o600
    assert log.stat().st_mode & 0o777 == 0o600
    assert store.parent.stat().st_mode & 0o777 == 0o700
