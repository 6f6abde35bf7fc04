"""Alerts measured on a real store and sent to real targets: a robot webhook and a JSON one (aiohttp servers), an
SMTP server (aiosmtpd) and a JSONL file; each fires once and clears once; validation errors name file and field."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import Connection, Engine

from engine.config import EngineConfig, load_config
from engine.runtime.alerts import Alerts, Write
from engine.store import journal
from engine.store.database import migrate, open_engine
from engine.store.journal import JournalEntry
from tests.support.daemon import free_port, write_config

ALL_WEEK = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}


@dataclass
class Webhook:
    """A real HTTP server standing in for a DingTalk robot (or any JSON webhook); fails the first ``failing``."""

    failing: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if self.failing:
            self.failing -= 1
            return web.json_response({"errcode": 310000, "errmsg": "keywords not in content"})
        self.received.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@dataclass
class Mailbox:
    mails: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:
        self.mails.append(envelope.original_content)
        return "250 OK"


@contextlib.asynccontextmanager
async def serving(robot: Webhook, generic: Webhook, port: int) -> AsyncIterator[None]:
    """Both webhooks on a real port: /robot/send and /hook."""
    app = web.Application()
    app.router.add_post("/robot/send", robot.handle)
    app.router.add_post("/hook", generic.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@pytest.fixture
def mailbox() -> Any:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def _config(tmp_path: Path, store_url: str, log_dir: Path, alerts: dict[str, Any]) -> Path:
    channels = {"his": {"source": {"type": "mllp", "listen": f"127.0.0.1:{free_port()}"}, "destinations": []}}
    return write_config(tmp_path, store_url, channels, log_dir / f"alerts-{tmp_path.name}.jsonl", {"alerts": alerts})


def _subject(mail: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(mail)["Subject"])))


def _looking(config: EngineConfig, silent_for: float) -> tuple[Alerts, Engine, Write[Any]]:
    """The daemon's alert job on the configuration's store (migrated), writing as the daemon's writer would."""
    engine = open_engine(config.store)
    migrate(engine)

    async def write(job: Any) -> Any:
        def run() -> Any:
            with engine.begin() as conn:
                return job(conn)

        return await asyncio.to_thread(run)

    return Alerts(lambda: config, engine, write, "node-1", started=time.time() - silent_for), engine, write


def test_a_silent_channel_fires_once_to_every_target_and_clears_once_when_it_sends(
    store_url: str, tmp_path: Path, log_dir: Path, mailbox: Any
) -> None:
    robot, generic, port = Webhook(), Webhook(), free_port()
    box, smtp = mailbox
    out = tmp_path / "var" / "alerts.jsonl"
    spec = {
        "working_hours": ALL_WEEK,
        "send": [
            {"type": "webhook", "url": f"http://127.0.0.1:{port}/robot/send?access_token=t0k3n"},
            {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "format": "json"},
            {"type": "email", "host": "127.0.0.1", "port": smtp, "sender": "huitong@county.example",
             "to": ["ops@county.example"]},
            {"type": "file", "path": str(out)},
        ],
        "rules": [{"name": "his-silent", "kind": "inactive", "channels": ["his"], "after": "10m"}],
    }
    config = load_config(_config(tmp_path, store_url, log_dir, spec)).config
    assert config is not None
    alerts, engine, write = _looking(config, silent_for=3600)

    async def looks(before: Callable[[Connection], None] | None = None) -> None:
        async with serving(robot, generic, port):
            if before is not None:
                await write(before)
            await alerts.look()
            await alerts.look()  # nothing changed: nothing new

    asyncio.run(looks())
    [content] = [m["text"]["content"] for m in robot.received]
    assert re.fullmatch(
        r"\[汇通 huitong node-1\] 告警 FIRING his-silent: channel his received nothing for (59|60) min of working "
        r"hours \(limit 10 min\)",
        content,
    )
    assert [(m["alert"], m["subject"], m["state"]) for m in generic.received] == [("his-silent", "his", "firing")]
    assert [_subject(m) for m in box.mails] == ["[汇通 huitong node-1] 告警 FIRING his-silent: his"]
    assert [json.loads(line)["state"] for line in out.read_text().splitlines()] == ["firing"]
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    def arrives(conn: Connection) -> None:
        journal.append(conn, [JournalEntry("his", "10.0.0.9:4000", time.time(), b"MSH|^~\\&|HIS\r", "ADT^A01")], "n")

    asyncio.run(looks(arrives))
    assert [m["state"] for m in generic.received] == ["firing", "resolved"]
    assert [m["text"]["content"].split(" ")[4] for m in robot.received] == ["FIRING", "RESOLVED"]
    assert len(box.mails) == 2
    assert [json.loads(line)["state"] for line in out.read_text().splitlines()] == ["firing", "resolved"]
    engine.dispose()


def test_an_alert_a_robot_refused_is_sent_again_at_the_next_look(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    robot, port = Webhook(failing=1), free_port()  # DingTalk answers 200 with an errcode when it takes nothing
    spec = {
        "working_hours": ALL_WEEK,
        "send": [{"type": "webhook", "url": f"http://127.0.0.1:{port}/robot/send"}],
        "rules": [{"name": "his-silent", "kind": "inactive", "after": "1m"}],
    }
    config = load_config(_config(tmp_path, store_url, log_dir, spec)).config
    assert config is not None
    alerts, engine, _ = _looking(config, silent_for=600)

    async def looks() -> list[int]:
        seen = []
        async with serving(robot, Webhook(), port):
            for _ in range(3):
                await alerts.look()
                seen.append(len(robot.received))
        return seen

    assert asyncio.run(looks()) == [0, 1, 1]  # refused, sent again, then nothing new
    engine.dispose()


@pytest.mark.parametrize(
    ("alerts", "field", "words"),
    [
        (
            {"send": [{"type": "file", "path": "a.jsonl"}], "rules": [{"name": "q", "kind": "queue"}]},
            "alerts.rules[0].depth_over",
            "needs depth_over, oldest_over or both",
        ),
        (
            {"send": [{"type": "file", "path": "a.jsonl"}], "working_hours": {"start": "8am"},
             "rules": [{"name": "d", "kind": "dead_letters"}]},
            "alerts.working_hours.start",
            "no time of day",
        ),
        (
            {"send": [{"type": "file", "path": "a.jsonl"}],
             "rules": [{"name": "s", "kind": "inactive", "after": "30m", "channels": ["lis"]}]},
            "alerts.rules[0].channels[0]",
            "no channel 'lis'",
        ),
        (
            {"send": [{"type": "sms"}], "rules": [{"name": "d", "kind": "dead_letters"}]},
            "alerts.send[0].type",
            "unknown type 'sms'",
        ),
    ],
)
def test_a_wrong_alerts_section_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, log_dir: Path, alerts: dict[str, Any], field: str, words: str
) -> None:
    path = _config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", log_dir, alerts)
    result = load_config(path)
    assert result.config is None
    [error] = result.errors
    assert (error.file, error.field) == (path, field)
    assert error.line > path.read_text().splitlines().index("alerts:") + 1  # a line within the section
    assert words in error.message
