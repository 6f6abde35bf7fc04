"""Run the real daemon in a subprocess against a temporary configuration, as an engineer would."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

HUITONG = str(Path(sys.executable).with_name("huitong"))
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"  # the shipped mappings
MPI_SETTINGS = Path(__file__).resolve().parents[2] / "config" / "mpi.yaml"  # the shipped MPI settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, step: float = 0.05) -> object:
    """Poll until `predicate()` is truthy (returns its value) or fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not reached within {timeout}s")


def write_config(root: Path, store_url: str, channels: dict[str, dict], log_file: Path) -> Path:
    """engine.yaml + one channel file per entry under root; returns the engine.yaml path."""
    (root / "channels").mkdir(parents=True, exist_ok=True)
    for name, body in channels.items():
        (root / "channels" / f"{name}.yaml").write_text(yaml.safe_dump({"channel": name, **body}, allow_unicode=True))
    config = root / "engine.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": store_url,
                "channels": "channels",
                "mappings": str(MAPPINGS),
                "mpi": str(MPI_SETTINGS),
                "logging": {"level": "info", "format": "json", "file": str(log_file)},
            }
        )
    )
    return config


def _migrated(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return bool(conn.execute("SELECT version_num FROM alembic_version").fetchall())
    except sqlite3.Error:  # being made: the table is not there yet, or the file is locked for the migration
        return False


class Daemon:
    def __init__(self, config: Path, *, ports: tuple[int, ...] = (), command: tuple[str, ...] = ("daemon",)) -> None:
        self.config = config
        self.ports = ports
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self.proc = subprocess.Popen(
            [HUITONG, *self.command, "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            for port in self.ports:
                wait_port(port)
            self._wait_for_the_store()
        except TimeoutError:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise RuntimeError(f"daemon did not start:\n{err.decode(errors='replace')}") from None
        return self

    def _wait_for_the_store(self, timeout: float = 20.0) -> None:
        """Until the daemon has made its SQLite store: the read commands a test polls with do not make one."""
        store = yaml.safe_load(self.config.read_text()).get("store", "")
        if not store.startswith("sqlite:///"):
            return
        path = Path(store.removeprefix("sqlite:///"))
        deadline = time.monotonic() + timeout
        while not _migrated(path):
            if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                raise TimeoutError(f"no store at {path}")
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.stderr = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def hup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


def huitong(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--config", str(config)] if config else []
    return subprocess.run([HUITONG, *args, *extra], capture_output=True, text=True, timeout=120)
