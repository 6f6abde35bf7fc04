"""Run the real daemon in a subprocess against a temporary configuration, as an engineer would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

HUITONG = str(Path(sys.executable).with_name("huitong"))
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"  # the shipped mappings
MPI_SETTINGS = Path(__file__).resolve().parents[2] / "config" / "mpi.yaml"  # the shipped MPI settings
# What the shipped channels need from the environment that has no default: secrets (a POST endpoint's token).
SHIPPED_ENV = {"PHS_CONTRACTS_POST_TOKEN": "shipped-channels-test-token"}


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


def write_config(
    root: Path, store_url: str, channels: dict[str, dict], log_file: Path, engine: dict | None = None
) -> Path:
    """engine.yaml (with the further keys in ``engine``) + one channel file per entry under root; returns the
    engine.yaml path."""
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
                **(engine or {}),
            }
        )
    )
    return config


def _migrated(url: str) -> bool:
    """Whether the store has its tables; a SQLite file is opened read-only, so asking does not make one."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return False
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall())
    except SQLAlchemyError:  # being made: the table is not there yet, or the file is locked for the migration
        return False
    finally:
        engine.dispose()


class Daemon:
    def __init__(
        self,
        config: Path,
        *,
        ports: tuple[int, ...] = (),
        command: tuple[str, ...] = ("daemon",),
        own_group: bool = False,
    ) -> None:
        """``own_group``: the daemon and its record processes in a process group of their own, so that
        ``signal_group`` reaches the whole node at once (kill -9 of a machine's engine)."""
        self.config = config
        self.ports = ports
        self.command = command
        self.own_group = own_group
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        return self.launch().wait_ready()

    def launch(self) -> Daemon:
        """Start the process without waiting for it (several daemons started at the same moment)."""
        self.proc = subprocess.Popen(
            [HUITONG, *self.command, "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=self.own_group,
        )
        return self

    def wait_ready(self) -> Daemon:
        """Until it listens on its ports and its store is migrated."""
        assert self.proc is not None
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
        """Until the daemon has migrated its store, so that a test reading it finds the tables."""
        store = yaml.safe_load(self.config.read_text()).get("store", "")
        deadline = time.monotonic() + timeout
        while not _migrated(store):
            if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                raise TimeoutError(f"no store at {store}")
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

    def signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the daemon and its record processes (started with ``own_group``)."""
        assert self.proc is not None and self.own_group
        os.killpg(self.proc.pid, sig)

    def hup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


def huitong(*args: str, config: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """A CLI command as an operator runs it: the shipped configuration's secrets set (without --config, the
    command reads the shipped engine.yaml and its channels)."""
    extra = ["--config", str(config)] if config else []
    env = {**SHIPPED_ENV, **os.environ}
    return subprocess.run([HUITONG, *args, *extra], capture_output=True, text=True, timeout=120, input=stdin, env=env)
