"""The daemon: every enabled channel of a configuration, one store writer, one scheduler, signals.

SIGTERM/SIGINT: stop accepting, answer and commit what is in hand, let deliveries in flight finish, exit 0.
SIGHUP: validate the configuration again; if it is valid, restart only the channels whose files changed.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine

from engine.api import console, login
from engine.api import fhir as fhir_api
from engine.api import metrics as metrics_api
from engine.api.manage import messages as manage_messages
from engine.api.manage import operations as manage_operations
from engine.api.manage import users as manage_users
from engine.api.pages import operations as operation_pages
from engine.config import ChannelSpec, EngineConfig, load_config
from engine.connectors.http import HttpListener
from engine.pipeline import mpi_search
from engine.runtime import alerts, console_people, metrics, retention, text_index
from engine.runtime.channels import RunningChannel
from engine.runtime.control import Control
from engine.runtime.record_process import record_destinations
from engine.runtime.wiring import Wiring, routes_of
from engine.sources import ChannelStartError
from engine.store import care_tasks, locks, message_text, monitoring
from engine.store.database import migrate, open_engine, refresh_statistics

log = structlog.get_logger("huitong.daemon")

# Another node may be processing a RECEIVED message this recently; only older ones are swept up.
SHARED_STORE_SWEEP_AGE = 30.0
# How often care tasks are looked at for windows that opened or closed (PLANNED -> DUE, DUE -> OVERDUE / LOST).
CARE_CALENDAR = 3600.0
CARE_CALENDAR_CHUNK = 50
STATISTICS = 3600.0  # seconds between refreshes of the query planner's statistics (SQLite; store/database.py)
READY_STORE_TIMEOUT = 5.0  # seconds /readyz waits for the store to answer


class Daemon:
    def __init__(self, config: EngineConfig, *, only: str | None = None) -> None:
        self.config = config
        self.only = only
        self.channels: dict[str, RunningChannel] = {}
        self.held: set[str] = set()  # channels an operator stopped at run time: a reload leaves them stopped
        self._stop = asyncio.Event()
        self._reloading = asyncio.Lock()
        self._shutting_down = False
        self._engine: Engine | None = None
        self._record: dict[int, asyncio.subprocess.Process] = {}
        self._record_tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._record_wake_due = False
        self._fhir_api: HttpListener | None = None
        self._console: HttpListener | None = None
        self._metrics_dir = metrics.record_process_dir()  # the record processes' counters (runtime/metrics.py)

    def _wanted(self, config: EngineConfig) -> dict[str, ChannelSpec]:
        return {
            name: spec
            for name, spec in config.channels.items()
            if spec.enabled and (self.only is None or name == self.only)
        }

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._engine = engine = open_engine(self.config.store)
        await asyncio.to_thread(migrate, engine)
        await asyncio.to_thread(refresh_statistics, engine)
        unindexed = await asyncio.to_thread(message_text.missing_index_note, engine)
        if unindexed:
            log.warning(unindexed)
        single_node = engine.dialect.name == "sqlite"
        wanted = self._wanted(self.config)
        self.wiring = Wiring(
            self.config,
            engine,
            node=self.config.node,
            channels=wanted,
            on_woken=self._wake,
            sweep_age=None if single_node else SHARED_STORE_SWEEP_AGE,
            senders=self._senders,
        )
        # What this node held when it last stopped (or crashed) is its own again, and comes first.
        recovered = self.wiring.start(recover=True)
        if recovered:
            log.info("recovered messages journaled before a stop", messages=recovered)
        self.wiring.scheduler.add_job(self._sweep, "interval", seconds=2, id="sweep", next_run_time=datetime.now())
        self.wiring.scheduler.add_job(  # first a minute after start: windows may have moved while the daemon was down
            self._care_calendar,
            "interval",
            seconds=CARE_CALENDAR,
            id="care-calendar",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now() + timedelta(minutes=1),
        )
        self.wiring.scheduler.add_job(  # retention: old messages pruned hourly, first five minutes after start
            self._prune,
            "interval",
            seconds=retention.EVERY,
            id="retention",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now() + timedelta(minutes=5),
        )
        self.wiring.scheduler.add_job(  # the planner's statistics follow the record as it grows
            self._statistics, "interval", seconds=STATISTICS, id="statistics", max_instances=1, coalesce=True
        )
        if self.only is None:  # the text index: what was journaled before this start first, then every second
            self.wiring.scheduler.add_job(
                self._index_text,
                "interval",
                seconds=text_index.EVERY,
                id="text-index",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(),
            )
        if self.only is None:  # alerts: the job reads the rules of the configuration in force at each look
            job = alerts.Alerts(lambda: self.config, engine, self.wiring.writer.submit, self.config.node, time.time())
            self.wiring.scheduler.add_job(
                job.look, "interval", seconds=self._alerts_every(), id="alerts", max_instances=1, coalesce=True
            )
        try:
            for spec in wanted.values():
                await self._start(spec)
            self._start_record_process()
            await self._start_fhir_api(engine)
            await self._start_console()
        except ChannelStartError as exc:  # never a half-running daemon: stop what started, say why, exit 1
            log.error("channel could not start; stopping", error=str(exc))
            await self.shutdown()
            raise
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        log.info("daemon ready", channels=sorted(self.channels), store=engine.url.render_as_string(hide_password=True))
        await self._stop.wait()
        await self.shutdown()
        return 0

    def _senders(self) -> int:
        """MLLP connections that sent something in the last 50 ms: the senders the next commit can expect."""
        now = time.monotonic()
        return sum(ch.source.senders(now) for ch in self.channels.values())

    async def _sweep(self) -> None:
        self.wiring.writer.request_sweep()

    async def _index_text(self) -> None:
        try:
            await text_index.catch_up(self.wiring.writer, busy=lambda: self._senders() > 0)
        except Exception as exc:  # the next run tries again; searches scan what is not indexed meanwhile
            log.error("indexing the journal's text failed; will retry", error=str(exc))

    async def _prune(self) -> None:
        specs = [s for s in self.config.channels.values() if s.retention is not None]
        if not specs or self._engine is None:
            return
        try:
            await retention.prune_in_daemon(self.wiring.writer, self._engine, specs)
        except Exception as exc:  # the store failed: nothing of the batch in hand was committed; the next run goes on
            log.error("pruning failed; retrying at the next run", error=str(exc))

    async def _statistics(self) -> None:
        if self._engine is None:
            return
        try:
            await asyncio.to_thread(refresh_statistics, self._engine)
        except Exception as exc:  # a busy store: the planner keeps the last statistics until the next run
            log.warning("statistics not refreshed; retrying at the next run", error=str(exc))

    async def _care_calendar(self) -> None:
        """Tasks whose window opened or closed with the calendar alone: DUE, OVERDUE or LOST now, passed on.

        One node at a time on a shared store; a few persons per transaction, so intake commits are not held up.
        """
        care = self.wiring.care
        if care.care_rules is None or self._engine is None:
            return
        on = date.today()
        with self._engine.connect() as conn:
            persons = care_tasks.crossing(conn, on)

        def refresh(chunk: list[str]) -> Callable[[Connection], int]:
            def job(conn: Connection) -> int:
                if not locks.try_lock(conn, "care-calendar"):
                    return 0
                return len(care.refresh_tasks(conn, chunk, on, time.time()))

            return job

        changes = 0
        for i in range(0, len(persons), CARE_CALENDAR_CHUNK):
            changes += await self.wiring.writer.submit(refresh(persons[i : i + CARE_CALENDAR_CHUNK]))
        if changes:
            log.info("care tasks moved with the calendar", persons=len(persons), changes=changes)
            self.wiring.writer.request_sweep()

    async def _start_fhir_api(self, engine: Engine) -> None:
        """The FHIR read API (docs/fhir-api.md), when engine.yaml asks for it and the daemon runs every channel."""
        spec = self.config.fhir_api
        if spec is None or self.only is not None:
            return
        people = fhir_api.People(
            precedence=lambda: self.config.record.precedence,
            match=lambda conn, row, limit: mpi_search.search(conn, self.wiring.resolver, row, limit),
        )
        listener = fhir_api.listener(engine, spec, people)
        try:
            await listener.start()
        except OSError as exc:
            raise ChannelStartError(f"fhir_api cannot listen on {spec.listen}: {exc.strerror or exc}") from exc
        self._fhir_api = listener
        log.info("fhir api started", listen=str(spec.listen), port=listener.bound_port)

    async def _start_console(self) -> None:
        """The operators' listener (docs/console.md), when engine.yaml asks for it and the daemon runs every channel."""
        spec = self.config.console
        if spec is None or self.only is not None:
            return
        assert self._engine is not None
        sign_in = login.SignIn(self._engine, spec) if spec.auth == "users" else None
        middlewares = [sign_in.middleware] if sign_in else [console.open_access]
        ops = Control(self).operations()
        people = console_people.parts(self.wiring.engine, lambda: self.config, lambda: self.wiring.resolver)
        scrape = metrics.exposition(self._engine, self._destinations, self._metrics_dir)
        parts: list[console.Part] = [sign_in.part] if sign_in else []
        parts += [metrics_api.part(scrape, self._not_ready), *people, manage_users.part(self._engine)]
        parts += [manage_operations.part(self._engine, ops), manage_messages.part(self._engine, ops)]
        parts += [operation_pages.part(self._engine, ops)]
        listener = console.listener(spec, parts=parts, middlewares=middlewares)
        try:
            await listener.start()
        except OSError as exc:
            raise ChannelStartError(f"console cannot listen on {spec.listen}: {exc.strerror or exc}") from exc
        self._console = listener
        log.info("console started", listen=str(spec.listen), port=listener.bound_port)

    def _destinations(self) -> list[tuple[str, str]]:
        return [(name, d.name) for name, spec in self._wanted(self.config).items() for d in spec.destinations]

    async def _not_ready(self) -> str | None:
        """Why a load balancer should not send here yet (/readyz): a channel not started, or a silent store."""
        down = sorted(set(self._wanted(self.config)) - set(self.channels))
        if down:
            return f"channels not started: {', '.join(down)}"
        engine = self._engine
        if engine is None:
            return "the store is not open"

        def ask() -> None:
            with engine.connect() as conn:
                monitoring.answers(conn)

        try:
            await asyncio.wait_for(asyncio.to_thread(ask), READY_STORE_TIMEOUT)
        except TimeoutError:
            return f"the store did not answer within {READY_STORE_TIMEOUT:g} s"
        except Exception as exc:
            return f"the store does not answer: {type(exc).__name__}"
        return None

    async def _start(self, spec: ChannelSpec) -> None:
        stages_elsewhere = self.config.record.processes > 0
        self.channels[spec.channel] = await self.wiring.channel(spec, stages_elsewhere=stages_elsewhere)

    async def start_channel(self, spec: ChannelSpec) -> None:
        """Start a channel an operator stopped (or that is new); ChannelStartError if it cannot."""
        await self._start(spec)
        self.held.discard(spec.channel)

    async def stop_channel(self, name: str) -> None:
        """Stop one channel at run time; it stays stopped until started again (a reload leaves it so)."""
        self.held.add(name)
        await self.channels.pop(name).stop()

    def _wake(self, pairs: set[tuple[str, str]]) -> None:
        remote = False
        for channel_name, destination in pairs:
            channel = self.channels.get(channel_name)
            worker = channel.workers.get(destination) if channel else None
            if worker is not None:
                worker.wake()
            else:
                remote = True
        if remote and not self._record_wake_due:  # one wake per few ms is enough: the process batches anyway
            self._record_wake_due = True
            asyncio.get_running_loop().call_later(0.002, self._wake_record_process)

    def _wake_record_process(self) -> None:
        self._record_wake_due = False
        for proc in self._record.values():
            if proc.stdin is not None and proc.returncode is None:
                proc.stdin.write(b"\n")

    # -- the record process -----------------------------------------------------------------------------------
    def _start_record_process(self) -> None:
        if record_destinations(self.config, self.only):
            self._record_tasks = [
                asyncio.create_task(self._supervise_record_process(i), name=f"record-process-{i}")
                for i in range(1, self.config.record.processes + 1)
            ]

    async def _supervise_record_process(self, number: int) -> None:
        """Keep record process ``number`` running: started again a second after it dies, until the daemon stops."""
        node = f"{self.config.node}/record" + (f"-{number}" if number > 1 else "")
        args = ["--config", str(self.config.path), "--node", node]
        if self.only is not None:
            args += ["--only", self.only]
        while not self._stopping:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli",
                "record-worker",
                *args,
                stdin=asyncio.subprocess.PIPE,
                env=metrics.record_process_env(self._metrics_dir),
            )
            self._record[number] = proc
            code = await proc.wait()
            if self._stopping:
                return
            log.error("record process exited; starting it again", process=number, exit_code=code)
            await asyncio.sleep(1.0)

    async def _stop_record_process(self) -> None:
        self._stopping = True
        for proc in self._record.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._record.values():
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        await asyncio.gather(*self._record_tasks)
        self._record, self._record_tasks = {}, []

    async def reload(self) -> dict[str, list[str]]:
        """What changed: channels restarted, stopped and started; ``errors`` when the configuration is refused.
        One reload at a time, and none once the daemon is stopping (a SIGHUP that lands during shutdown would
        otherwise start a record process after shutdown stopped it, and the process would never exit)."""
        async with self._reloading:
            if self._shutting_down:
                return {}
            return await self._reload()

    async def _reload(self) -> dict[str, list[str]]:
        result = await asyncio.to_thread(load_config, self.config.path)
        if result.errors or result.config is None:
            for error in result.errors:
                log.error("reload refused: configuration error", error=str(error))
            return {"errors": [str(e) for e in result.errors]}
        wanted = self._wanted(result.config)
        new = {name: spec for name, spec in wanted.items() if name not in self.held}
        old = {name: ch.spec for name, ch in self.channels.items()}

        def profile_of(config: EngineConfig, spec: ChannelSpec) -> object:
            path = getattr(spec.source, "profile", None)
            return config.profiles.get(path) if path else None

        def mappings_of(config: EngineConfig, spec: ChannelSpec) -> object:
            names = spec.map or sorted(config.mappings.mappings)
            return [(n, m.version) for n in names if (m := config.mappings.mappings.get(n)) is not None]

        changed = [
            n
            for n in old
            if n not in new
            or new[n] != old[n]
            or profile_of(result.config, new[n]) != profile_of(self.config, old[n])
            or mappings_of(result.config, new[n]) != mappings_of(self.config, old[n])
        ]
        every = self._alerts_every()
        self.config = result.config
        self.wiring.configure(result.config)
        if self.only is None and self._alerts_every() != every:
            self.wiring.scheduler.reschedule_job("alerts", trigger="interval", seconds=self._alerts_every())
        for name in changed:
            await self.channels.pop(name).stop()
        self.wiring.writer.channels = {name: routes_of(spec) for name, spec in wanted.items()}
        for name, spec in new.items():
            if name not in self.channels:
                try:
                    await self._start(spec)
                except ChannelStartError as exc:
                    log.error("reload: channel could not start", channel=name, error=str(exc))
                    if name in old:  # bring the previous version back rather than leave the channel down
                        await self._start(old[name])
                        self.wiring.writer.channels[name] = routes_of(old[name])
        if changed or any(n not in old for n in new):  # the record process reads the configuration at start
            await self._stop_record_process()
            self._stopping = False
            self._start_record_process()
        outcome = {
            "restarted": sorted(n for n in changed if n in new),
            "stopped": sorted(n for n in changed if n not in new),
            "started": sorted(n for n in new if n not in old and n in self.channels),
        }
        log.info("configuration reloaded", **outcome)
        return outcome

    def _alerts_every(self) -> float:
        """Seconds between looks at the alert rules (without rules the job only notices a reload that adds some)."""
        return self.config.alerts.every if self.config.alerts else 30.0

    async def shutdown(self) -> None:
        self._shutting_down = True
        async with self._reloading:  # a reload in hand finishes first; later ones do nothing
            await self._shut_down()

    async def _shut_down(self) -> None:
        log.info("stopping")
        if self._console is not None:
            await self._console.stop()
            self._console = None
        if self._fhir_api is not None:
            await self._fhir_api.stop()
        await asyncio.gather(*(ch.stop() for ch in self.channels.values()))
        await self._stop_record_process()
        await self.wiring.close()
        if self._engine is not None:
            self._engine.dispose()
        metrics.forget(self._metrics_dir)
        log.info("stopped")
