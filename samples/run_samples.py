"""The main job on the embedded default: the shipped channels on SQLite, fed the sample messages.

Starts a stand-in LIS, starts the daemon with config/engine.yaml, sends samples/hl7v2/*.hl7 (HIS registrations)
over MLLP with `huitong send`, drops samples/lab/*.hl7 into the lab inbox and samples/phs/*.xml (a township
health centre's WS/T 500 document about the same resident) into the public-health inbox, waits until every
delivery is done, prints `huitong stats`, `huitong messages list` and the resident's unified health record
(`huitong record show`) and the source records the MPI joined (`huitong mpi show`), then stops everything with
SIGTERM.

    make run      (or: .venv/bin/python samples/run_samples.py --config config/engine.yaml)
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUITONG = str(Path(sys.executable).with_name("huitong"))
RESIDENT = "110101199003071233"  # the resident ID of samples/hl7v2 and samples/phs (invented)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing is listening on port {port} after {timeout}s")


def huitong(*args: str, config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUITONG, *args, "--config", config], capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "engine.yaml"))
    args = parser.parse_args()
    config = args.config

    checked = huitong("validate", config=config)
    print(checked.stdout, end="")
    if checked.returncode:
        print(checked.stderr, end="", file=sys.stderr)
        return 1
    lis = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "samples" / "lis_simulator.py"),
            "--listen",
            "127.0.0.1:2576",
            "--save",
            str(ROOT / "var" / "lis-received"),
        ]
    )
    (ROOT / "var").mkdir(exist_ok=True)
    with open(ROOT / "var" / "daemon.log", "ab") as log:
        daemon = subprocess.Popen([HUITONG, "daemon", "--config", config], stderr=log)
    try:
        wait_port(2575)
        wait_port(2576)
        samples = sorted(str(p) for p in (ROOT / "samples" / "hl7v2").glob("*.hl7"))
        print(f"\n== huitong send {len(samples)} sample files --to 127.0.0.1:2575")
        sent = huitong("send", *samples, "--to", "127.0.0.1:2575", config=config)
        print(sent.stdout, end="")
        inbox = ROOT / "var" / "inbox" / "lab"
        inbox.mkdir(parents=True, exist_ok=True)
        for lab in sorted((ROOT / "samples" / "lab").glob("*.hl7")):
            shutil.copy(lab, inbox / f"{time.strftime('%Y%m%d%H%M%S')}_{lab.name}")
        print(f"== dropped lab result files into {inbox}")
        phs_inbox = ROOT / "var" / "inbox" / "phs"
        phs_inbox.mkdir(parents=True, exist_ok=True)
        for doc in sorted((ROOT / "samples" / "phs").glob("*.xml")):
            shutil.copy(doc, phs_inbox / f"{time.strftime('%Y%m%d%H%M%S')}_{doc.name}")
        print(f"== dropped public-health documents into {phs_inbox}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = json.loads(huitong("stats", "--json", config=config).stdout or "{}")
            pending = sum(c["pending"] + c["queued"] + c["retrying"] for c in stats.values())
            received = all(stats.get(c, {}).get("received") for c in ("lab-files", "phs-documents"))
            if received and not pending:
                break
            time.sleep(0.5)
        print("\n== huitong stats")
        print(huitong("stats", config=config).stdout, end="")
        print("\n== huitong messages list --limit 15")
        print(huitong("messages", "list", "--limit", "15", config=config).stdout, end="")
        print(f"\n== huitong record show {RESIDENT}   (HIS registration + public-health follow-up, one person)")
        print(huitong("record", "show", RESIDENT, config=config).stdout, end="")
        print(f"\n== huitong mpi show {RESIDENT}   (the source records the master patient index joined)")
        print(huitong("mpi", "show", RESIDENT, config=config).stdout, end="")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        lis.send_signal(signal.SIGINT)
        lis.wait(10)
    print(f"\ndaemon stopped with exit code {code}; store: var/huitong.db, outputs: var/out/, log: var/daemon.log")
    return code


if __name__ == "__main__":
    sys.exit(main())
