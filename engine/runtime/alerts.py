"""Alerts (engine.yaml ``alerts:``; docs/console.md, "Alerts"): every ``every`` seconds the daemon measures what the
rules watch, lets engine/domain/alerts.py say what fires and what clears, and sends it to every target.

Measurements are cheap reads of the store (monitoring.py), the TLS certificate files of the configuration, and the
store's volume. The active alerts are rows of the store (store/alerts.py): a firing alert's row is written before it
is sent, and a clearing one's removed before, so on a shared store only the node whose write went in sends it. If a
target does not take the alert, the write is undone and the next look sends it again (to every target: one that
did take it may get it twice, never none).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
import structlog
from cryptography import x509
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from engine.config import (
    ContractEventsSource,
    EngineConfig,
    MpiEventsSource,
    ServiceEventsSource,
    TaskEventsSource,
)
from engine.config.alerts import (
    AlertsSpec,
    CertificateRule,
    DeadLetterRule,
    DiskRule,
    EmailTarget,
    ErrorRateRule,
    FileTarget,
    InactiveRule,
    QueueRule,
    Target,
    WebhookTarget,
)
from engine.config.values import sqlite_file
from engine.domain import alerts as logic
from engine.store import alerts as state
from engine.store import monitoring

T = TypeVar("T")
Write = Callable[[Callable[[Connection], T]], Awaitable[T]]
log = structlog.get_logger("huitong.alerts")

_INTERNAL = (MpiEventsSource, ContractEventsSource, ServiceEventsSource, TaskEventsSource)


@dataclass(frozen=True, slots=True)
class Look:
    holding: list[logic.Condition]
    failed: set[str]  # rules whose measurement failed this time


def hours_of(spec: AlertsSpec) -> logic.Hours:
    start, end = spec.working_hours.minutes()
    days = frozenset(("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d) for d in spec.working_hours.days)
    return logic.Hours(days, start, end)


def _channels(config: EngineConfig, named: tuple[str, ...] | None) -> list[str]:
    """The rule's channels, or every enabled channel a system outside sends to (not the engine's own events)."""
    if named is not None:
        return list(named)
    return [n for n, s in config.channels.items() if s.enabled and not isinstance(s.source, _INTERNAL)]


def _destinations(config: EngineConfig, named: tuple[str, ...] | None) -> list[tuple[str, str]]:
    if named is not None:
        return [(p.partition("/")[0], p.partition("/")[2]) for p in named]
    return [(n, d.name) for n, s in config.channels.items() if s.enabled for d in s.destinations]


def certificate_files(config: EngineConfig) -> list[Path]:
    """Every certificate the configuration presents: the listeners', the console's, the FHIR API's, the clients'."""
    found: list[Path] = []
    for tls in (config.console.tls if config.console else None, config.fhir_api.tls if config.fhir_api else None):
        if tls is not None:
            found.append(tls.cert_file)
    for spec in config.channels.values():
        if not spec.enabled:
            continue
        for part in (spec.source, *spec.destinations):
            cert = getattr(getattr(part, "tls", None), "cert_file", None)
            if cert is not None:
                found.append(cert)
    return sorted(set(found))


def measure(config: EngineConfig, engine: Engine, started: float, now: float) -> Look:
    """What holds now, rule by rule (blocking: reads the store and files)."""
    spec = config.alerts
    assert spec is not None
    hours, local = hours_of(spec), datetime.fromtimestamp(now)
    holding: list[logic.Condition] = []
    failed: set[str] = set()
    with engine.connect() as conn:
        for rule in spec.rules:
            try:
                holding.extend(c for c in _conditions(rule, config, conn, hours, started, now, local) if c is not None)
            except Exception as exc:  # the store or a file did not answer: this rule's alerts stay as they are
                log.error("alert rule not measured", rule=rule.name, error=f"{type(exc).__name__}: {exc}")
                failed.add(rule.name)
    return Look(holding, failed)


def _conditions(
    rule: Any, config: EngineConfig, conn: Connection, hours: logic.Hours, started: float, now: float, local: datetime
) -> Iterator[logic.Condition | None]:
    if isinstance(rule, InactiveRule):
        since = datetime.fromtimestamp(started)
        for channel in _channels(config, rule.channels):
            last = monitoring.last_received(conn, channel)
            when = datetime.fromtimestamp(last) if last is not None else None
            yield logic.inactive(rule.name, channel, when, since, local, rule.after, hours)
    elif isinstance(rule, ErrorRateRule):
        for channel in _channels(config, rule.channels):
            w = monitoring.window(conn, channel, now - rule.window)
            yield logic.error_rate(rule.name, channel, w.received, w.errors, rule.over, rule.min_messages, rule.window)
    elif isinstance(rule, QueueRule | DeadLetterRule):
        for channel, destination in _destinations(config, rule.destinations):
            q = monitoring.queue(conn, channel, destination)
            where = f"{channel}/{destination}"
            if isinstance(rule, QueueRule):
                age = None if q.oldest is None else now - q.oldest
                yield logic.queue(rule.name, where, q.depth, age, rule.depth_over, rule.oldest_over)
            else:
                yield logic.dead_letters(rule.name, where, q.dead, rule.over)
    elif isinstance(rule, CertificateRule):
        for file in certificate_files(config):
            not_after = x509.load_pem_x509_certificate(file.read_bytes()).not_valid_after_utc.timestamp()
            yield logic.certificate(rule.name, str(file), not_after, now, rule.within)
    elif isinstance(rule, DiskRule):
        folder = rule.path or sqlite_file(config.store)
        assert folder is not None  # the loader asks for a path when the store is no SQLite file
        folder = folder if folder.is_dir() else folder.parent
        usage = shutil.disk_usage(folder)
        yield logic.disk(rule.name, str(folder), usage.free, usage.total, rule.free_under)


# -- sending ------------------------------------------------------------------------------------------------------
def _headline(t: logic.Transition, node: str) -> str:
    return f"[汇通 huitong {node}] {'告警 FIRING' if t.firing else '恢复 RESOLVED'} {t.rule}"


def _record(t: logic.Transition, node: str, at: float) -> dict[str, Any]:
    return {
        "alert": t.rule,
        "subject": t.subject,
        "state": "firing" if t.firing else "resolved",
        "text": t.text,
        "node": node,
        "at": datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds"),
    }


async def _webhook(target: WebhookTarget, t: logic.Transition, node: str, at: float) -> None:
    payload = (
        {"msgtype": "text", "text": {"content": f"{_headline(t, node)}: {t.text}"}}
        if target.format == "robot"
        else _record(t, node, at)
    )
    timeout = aiohttp.ClientTimeout(total=target.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.post(target.url, json=payload) as answer:
        body = await answer.read()
    if answer.status >= 300:
        raise OSError(f"the webhook answered HTTP {answer.status}")
    if target.format == "robot" and body[:1] == b"{":  # DingTalk and WeCom answer 200 with errcode
        code = orjson.loads(body).get("errcode", 0)
        if code:
            raise OSError(f"the robot refused the message: errcode {code}")


def _append(target: FileTarget, t: logic.Transition, node: str, at: float) -> None:
    target.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # the engine's user only
    with os.fdopen(fd, "ab") as out:
        out.write(orjson.dumps(_record(t, node, at)) + b"\n")


def _mail(target: EmailTarget, t: logic.Transition, node: str) -> None:
    message = EmailMessage()
    message["Subject"] = f"{_headline(t, node)}: {t.subject}"
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message.set_content(t.text)
    with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
        if target.starttls:
            smtp.starttls()
        if target.username is not None and target.password is not None:
            smtp.login(target.username, target.password)
        smtp.send_message(message)


async def send(target: Target, t: logic.Transition, node: str, at: float) -> None:
    """One alert to one target; raises when the target did not take it."""
    if isinstance(target, WebhookTarget):
        await _webhook(target, t, node, at)
    elif isinstance(target, FileTarget):
        await asyncio.to_thread(_append, target, t, node, at)
    else:
        await asyncio.to_thread(_mail, target, t, node)


class Alerts:
    """The daemon's alert job: ``look`` is run by its scheduler every ``alerts.every`` seconds."""

    def __init__(
        self, config: Callable[[], EngineConfig], engine: Engine, write: Write[Any], node: str, started: float
    ) -> None:
        self._config, self._engine, self._write, self.node, self._started = config, engine, write, node, started

    async def look(self) -> None:
        config = self._config()
        if config.alerts is None:
            return
        now = time.time()
        found = await asyncio.to_thread(measure, config, self._engine, self._started, now)
        active = await asyncio.to_thread(self._active)
        for t in logic.transitions(found.holding, active, found.failed):
            await self._announce(config.alerts, t, now)

    def _active(self) -> dict[str, str]:
        with self._engine.connect() as conn:
            return state.active(conn)

    async def _announce(self, spec: AlertsSpec, t: logic.Transition, now: float) -> None:
        """Write the change, send it to every target; undo the write when a target did not take it."""
        if t.firing:
            try:
                await self._write(lambda conn: state.fired(conn, t.key, t.rule, t.text, now))
            except IntegrityError:  # another node of a shared store fired it first
                return
        elif not await self._write(lambda conn: state.cleared(conn, t.key)):
            return  # another node cleared it
        failures = []
        for target in spec.send:
            try:
                await send(target, t, self.node, now)
            except Exception as exc:
                failures.append(f"{target.type}: {type(exc).__name__}: {exc}")
        if failures:
            log.error("alert not sent; trying again at the next look", rule=t.rule, firing=t.firing, errors=failures)
            await self._write(
                (lambda conn: state.cleared(conn, t.key)) if t.firing
                else (lambda conn: state.fired(conn, t.key, t.rule, t.text, now))
            )
        else:
            log.info("alert sent", rule=t.rule, subject=t.subject, firing=t.firing)
