"""The operators' listener: started by the daemon when engine.yaml has `console:`, alive on /healthz."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import yaml

from tests.support.daemon import Daemon, free_port, write_config


def test_the_daemon_serves_the_console_listener_it_is_configured_with(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path, store_url, {}, log_dir / f"console-{tmp_path.name}.jsonl")
    engine = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine, "console": {"listen": f"127.0.0.1:{port}"}}))
    with Daemon(config, ports=(port,)), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
        assert (answer.status, json.loads(answer.read())) == (200, {"status": "alive"})
