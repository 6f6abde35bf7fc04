"""File source: dropped files are journaled (batches split), moved to done/ or error/, and delivered."""

from __future__ import annotations

from pathlib import Path

from engine.domain.formats.hl7v2 import canonical, split_messages
from tests.support.corpus import one
from tests.support.daemon import Daemon, wait_until, write_config
from tests.support.store_view import messages


def test_dropped_files_are_journaled_moved_and_delivered(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    config = write_config(
        tmp_path,
        store_url,
        {
            "lab-files": {
                "source": {"type": "file", "path": str(inbox), "glob": "*.hl7", "poll_interval": "200ms"},
                "destinations": [{"name": "archive", "type": "file", "path": str(out)}],
            },
        },
        log_dir / f"file-source-{tmp_path.name}.jsonl",
    )
    batch = one("python-hl7/samples_py/sample_file.hl7")
    oru = one("cdc-trusted-intermediary/examples/CA/002_CA_ORU_R01.hl7")
    bad = one("python-hl7/samples_py/sample_bad_file.hl7")
    (inbox / "a_batch.hl7").write_bytes(batch)
    (inbox / "b_oru.hl7").write_bytes(oru)
    (inbox / "c_bad.hl7").write_bytes(bad)
    (inbox / "ignored.txt").write_bytes(oru)
    expected = [canonical(m) for m in split_messages(batch) + split_messages(oru)]
    with Daemon(config, command=("daemon",)):
        wait_until(lambda: len(list(out.glob("*.hl7"))) == len(expected))
        rows = messages(config)
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a_batch.hl7", "b_oru.hl7"]
    assert [p.name for p in (inbox / "error").iterdir()] == ["c_bad.hl7"]
    assert (inbox / "ignored.txt").exists()
    assert sorted(p.read_bytes() for p in out.glob("*.hl7")) == sorted(expected)
    errors = [r for r in rows if r["status"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["source"].endswith("c_bad.hl7") and errors[0]["error"]
