"""The daemon's side of the management API (engine/api/manage/operations.py): its channels' states, and the
actions an operator takes on them at run time -- start, stop, pause, resume one channel, reload, reprocess -- each
audited with who, what, the state before and after, and why.

A channel stopped here stays stopped (a reload does not start it) until it is started here or the daemon restarts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from engine.api.audit_batch import AuditBatch
from engine.api.manage.operations import ChannelState, Operations, Refused
from engine.domain.delivery import Delivery
from engine.domain.formats.fhir import FhirError
from engine.domain.formats.hl7v2 import HL7Error
from engine.domain.formats.xml import XmlError
from engine.domain.mapping import MappingError
from engine.domain.mapping.bundle import to_bundle
from engine.pipeline.reprocess import reprocess
from engine.runtime.wiring import mapper_of
from engine.sources import ChannelStartError
from engine.store import audit
from engine.store.queries import MessageView

if TYPE_CHECKING:
    from engine.runtime.daemon import Daemon


class Control:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._acting = asyncio.Lock()  # one action at a time: two operators stopping a channel at once
        self._reads = AuditBatch(daemon.wiring.engine)  # what users read, committed with concurrent reads

    def operations(self) -> Operations:
        return Operations(
            self.channels, self.act, self.reload, self.reprocess, self._reads.record, self.mapped
        )

    def channels(self) -> Sequence[ChannelState]:
        daemon, out = self.daemon, []
        for name, spec in sorted(daemon.config.channels.items()):
            running = daemon.channels.get(name)
            if running is not None:
                state = "paused" if running.paused else "started"
            else:
                state = "stopped" if spec.enabled else "disabled"
            out.append(
                ChannelState(
                    name,
                    spec.source.type,
                    state,
                    None if running is None else running.connections(),
                    tuple(d.name for d in spec.destinations),
                )
            )
        return out

    def mapped(self, view: MessageView) -> dict[str, Any] | None:
        """The message as its channel's mappings make it FHIR now (a Bundle), or why they cannot; None when the
        channel is no longer configured."""
        spec = self.daemon.config.channels.get(view.channel)
        if spec is None or view.raw is None:
            return None
        delivery = Delivery(
            0, view.id, view.channel, "", "", 0, view.raw, view.message_type, view.control_id, view.charset
        )
        try:
            return to_bundle([(view.control_id or str(view.id), mapper_of(spec, self.daemon.config)(delivery))])
        except (MappingError, XmlError, HL7Error, FhirError) as exc:
            return {"error": str(exc)}

    def _state(self, name: str) -> ChannelState:
        return next(s for s in self.channels() if s.name == name)

    async def write(self, job: Callable[[Connection], Any]) -> Any:
        return await self.daemon.wiring.writer.submit(job)

    async def _audit(self, action: str, target: str, detail: dict[str, Any], actor: str) -> None:
        await self.write(lambda conn: audit.record(conn, action, target, detail, actor=actor))

    async def act(self, name: str, action: str, actor: str, reason: str) -> ChannelState:
        async with self._acting:
            before = self._state(name).state
            await getattr(self, f"_{action}")(name)
            after = self._state(name)
            detail = {"before": before, "after": after.state, "reason": reason}
            await self._audit(f"channel {action}", f"channel:{name}", detail, actor)
            return after

    async def _start(self, name: str) -> None:
        daemon = self.daemon
        spec = daemon.config.channels[name]
        if name in daemon.channels:
            raise Refused(f"channel {name} is already running")
        if not spec.enabled:
            raise Refused(f"channel {name} is disabled in {spec.file}; enable it there and reload")
        try:
            await daemon.start_channel(spec)
        except ChannelStartError as exc:
            raise Refused(str(exc)) from None

    async def _stop(self, name: str) -> None:
        if name not in self.daemon.channels:
            raise Refused(f"channel {name} is not running")
        await self.daemon.stop_channel(name)

    async def _pause(self, name: str) -> None:
        running = self.daemon.channels.get(name)
        if running is None or running.paused:
            raise Refused(f"channel {name} is not taking messages")
        await running.pause()

    async def _resume(self, name: str) -> None:
        running = self.daemon.channels.get(name)
        if running is None or not running.paused:
            raise Refused(f"channel {name} is not paused")
        try:
            running.resume(await self.daemon.wiring.source(running.spec))
        except ChannelStartError as exc:
            raise Refused(str(exc)) from None

    async def reload(self, actor: str, reason: str) -> dict[str, Any]:
        async with self._acting:
            before = {s.name: s.state for s in self.channels()}
            outcome = await self.daemon.reload()
            after = {s.name: s.state for s in self.channels()}
            detail = {"before": before, "after": after, "reason": reason, **outcome}
            await self._audit("reload", "configuration", detail, actor)
            return outcome

    async def reprocess(self, ids: Sequence[int], reason: str, actor: str, destination: str | None) -> tuple[int, int]:
        now = time.time()
        done: tuple[int, int] = await self.write(
            lambda conn: reprocess(conn, ids, now, reason=reason, actor=actor, destination=destination)
        )
        self.daemon.wiring.writer.request_sweep()
        return done
