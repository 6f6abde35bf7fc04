"""The county scenario: the engine with the shipped channels, the three simulators, and a day of county traffic.

    python samples/county_demo.py [--json] [--work var/demo]      (or: huitong demo [--json])

The engine runs as its own process (``huitong daemon``) on a fresh SQLite store under ``--work``, with copies of
the shipped channel files whose addresses point at the simulators, which run in this process on free ports:

1. The EMR (samples/emr_simulator.py) holds its patients; the engine pulls them (emr-patients).
2. The public-health system (samples/phs_simulator.py) comes up with six contracts; the engine polls them
   (phs-contracts), files them in the record and pushes each to the HIS as ADT^A31 (his-contract-push) and to the
   EMR as FHIR (emr-contract-push).
3. The HIS (samples/his_simulator.py) sends its registrations, visits and lab results over MLLP (his-adt). Visits of
   contracted residents go back to public health as service records (phs-service-return); care tasks are created
   and closed (care-task-reach, care-task-sms).
4. The HIS is switched off. Public health terminates a contract and POSTs the change (phs-contract-posts), then
   signs a new one (polled). The HIS comes back and receives what it missed, in order, once each.
5. The rest of the HIS traffic; then the indicator table for 2026Q3.

It prints what happened (``--json``: one JSON object on standard output; progress goes to standard error), then
the record's FHIR API (docs/fhir-api.md): its base URL, a token (system/*.read) and curl commands that read one
resident, and the operators' console's address (docs/console.md), and keeps the engine running for them until
Ctrl-C (SIGINT) or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages (engine, samples) by path
    sys.path.insert(0, str(ROOT))

from samples.emr_simulator import EmrSimulator  # noqa: E402
from samples.his_simulator import HisSimulator, load_messages, send  # noqa: E402
from samples.phs_simulator import PhsSimulator  # noqa: E402

DATA = ROOT / "samples" / "county"
PERIOD = "2026Q3"
COUNTY = "339901"  # the county health bureau of config/organisations.yaml: the indicator rows shown
TERMINATED = ("SC2026010401", date(2026, 8, 16), "02")  # 赵永福 moved out (Bsoft stop reason 02 迁出)
SIGNED = DATA / "phs" / "signings" / "SC2026010202.xml"  # 孙国强 signs on 1 September
LATE_VISITS = "13_"  # HIS files from here on come after the signing (孙国强's visit on 2 September)
LINKED_RESIDENT = "360426195204110317"  # 王建国: a different local id in each system, no resident ID in the EMR
SETTLE_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Scenario:
    def __init__(self, work: Path, say: Any) -> None:
        self.work = work
        self.say = say
        self.his = HisSimulator()
        self.lis = HisSimulator()  # the LIS the shipped his-adt channel forwards to: it only has to ACK
        self.phs = PhsSimulator(contracts=(DATA / "phs" / "contracts.xml").read_bytes())
        self.emr = EmrSimulator()
        self.engine_port = _free_port()
        self.posts_port = _free_port()
        self.posts_token = secrets.token_urlsafe(24)  # what public health sends with its POSTs
        self.fhir_port = _free_port()
        self.console_port = _free_port()
        self.daemon: subprocess.Popen[bytes] | None = None
        self.store: Engine | None = None

    # -- set-up ---------------------------------------------------------------------------------------------
    def _configure(self) -> Path:
        """A fresh work directory: engine.yaml (shipped settings, our store and log) and the shipped channels."""
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.work / "config").mkdir(parents=True)
        shutil.copytree(ROOT / "channels", self.work / "channels")
        settings = yaml.safe_load((ROOT / "config" / "engine.yaml").read_text(encoding="utf-8"))
        settings.update(
            store="sqlite:///../var/huitong.db",
            channels="../channels",
            mappings=str(ROOT / "mappings"),
            logging={"level": "info", "format": "json", "file": "../var/log/huitong.jsonl"},
            fhir_api={"listen": f"127.0.0.1:{self.fhir_port}"},
            # the operators' console on this machine only, signed in as the demo's admin (made after the day)
            console={"listen": f"127.0.0.1:{self.console_port}"},
        )
        path = self.work / "config" / "engine.yaml"
        path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def _environment(self) -> dict[str, str]:
        phs, emr = f"http://127.0.0.1:{self.phs.port}", self.emr.base_url
        return {
            **os.environ,
            "HIS_ADT_LISTEN": f"127.0.0.1:{self.engine_port}",
            "LIS_TARGET": f"127.0.0.1:{self.lis.port}",
            "HIS_PUSH_TARGET": f"127.0.0.1:{self.his.port}",
            "PHS_CONTRACTS_URL": f"{phs}/contracts",
            "PHS_CONTRACTS_POLL": "1s",
            "PHS_CONTRACTS_LISTEN": f"127.0.0.1:{self.posts_port}",
            "PHS_CONTRACTS_POST_TOKEN": self.posts_token,
            "PHS_SERVICES_URL": f"{phs}/service-records",
            "EMR_FHIR_URL": emr,
            "EMR_PULL_INTERVAL": "1s",
            "WORKLIST_FHIR_URL": emr,
        }

    async def start(self) -> None:
        await self.his.up()
        await self.lis.up()
        await self.emr.start()
        self.emr.load((DATA / "emr" / "patients.ndjson").read_text(encoding="utf-8").splitlines())
        await self.phs.up()
        await self.phs.down()  # public health comes online after the EMR's patients are in (step 2)
        config = self._configure()
        self.daemon = subprocess.Popen(
            [sys.executable, str(ROOT / "cli"), "daemon", "--config", str(config)],
            env=self._environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        await self._listening()
        self.store = create_engine(f"sqlite:///{self.work / 'var' / 'huitong.db'}")

    async def _listening(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.daemon is not None
            if self.daemon.poll() is not None:
                said = self.daemon.stderr.read().decode() if self.daemon.stderr else ""
                raise RuntimeError(f"the engine stopped: {said}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.engine_port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError("the engine did not start listening within 60 s")

    async def serve(self) -> None:
        """Until SIGINT or SIGTERM (or the engine stops): the engine keeps answering the FHIR API."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set() and self.daemon is not None and self.daemon.poll() is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.daemon.wait, 60)
        if self.store is not None:
            self.store.dispose()
        await self.phs.down()
        await self.emr.stop()
        await self.his.down()
        await self.lis.down()

    # -- waiting --------------------------------------------------------------------------------------------
    def _pending(self) -> int:
        assert self.store is not None
        with self.store.connect() as conn:
            received = conn.execute(text("SELECT COUNT(*) FROM messages WHERE status = 'RECEIVED'")).scalar_one()
            queued = conn.execute(text("SELECT COUNT(*) FROM outbox WHERE status NOT IN ('SENT', 'DEAD')")).scalar_one()
        return int(received) + int(queued)

    async def settle(self, *, polls: int = 0) -> None:
        """Until nothing waits in the engine (twice in a row), after public health was polled ``polls`` more times."""
        target = self.phs.polls + polls
        deadline = time.monotonic() + SETTLE_TIMEOUT
        calm = 0
        while calm < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not finish within {SETTLE_TIMEOUT:g} s ({self._pending()} waiting)")
            await asyncio.sleep(0.5)
            calm = calm + 1 if self.phs.polls >= target and self._pending() == 0 else 0

    async def _emr_patients_pulled(self) -> None:
        deadline = time.monotonic() + 60
        while self._count("SELECT COUNT(*) FROM mpi_records WHERE source_system = 'emr.county-people-hospital'") < 7:
            if time.monotonic() > deadline:
                raise RuntimeError("the EMR's patients were not pulled within 60 s")
            await asyncio.sleep(0.3)

    def _count(self, query: str) -> int:
        assert self.store is not None
        try:
            with self.store.connect() as conn:
                return int(conn.execute(text(query)).scalar_one())
        except Exception:  # the daemon has not created the table yet
            return 0

    # -- the day ----------------------------------------------------------------------------------------------
    async def play(self) -> None:
        self.say("1. the engine pulls the EMR's patients")
        await self._emr_patients_pulled()
        await self.settle()
        self.say("2. public health comes online: contracts polled, pushed to the HIS and the EMR")
        await self.phs.up()
        await self.settle(polls=2)
        messages = load_messages(DATA / "his")
        files = sorted((DATA / "his").glob("*.hl7"))
        early = sum(1 for f in files if f.name < LATE_VISITS)
        self.say(f"3. the HIS sends {early} registrations, visits and results")
        await self._send(messages[:early])
        await self.settle()
        self.say("4. the HIS goes down; public health terminates a contract (POST) and signs one (poll)")
        await self.his.down()
        contract, on, reason = TERMINATED
        self.phs.terminate(contract, on, reason)
        status = await self.phs.post_contracts(f"http://127.0.0.1:{self.posts_port}/contracts", self.posts_token)
        if status >= 300:
            raise RuntimeError(f"the engine answered the contracts POST with HTTP {status}")
        self.phs.sign(SIGNED.read_bytes())
        polls = self.phs.polls
        while self.phs.polls < polls + 2:
            await asyncio.sleep(0.3)
        await asyncio.sleep(2)  # the pushes to the HIS fail and wait in its outbox
        self.say("   the HIS comes back and receives what it missed")
        await self.his.up()
        await self.settle()
        self.say(f"5. the HIS sends the remaining {len(messages) - early} messages")
        await self._send(messages[early:])
        await self.settle()

    async def _send(self, messages: list[bytes]) -> None:
        codes = await asyncio.to_thread(send, "127.0.0.1", self.engine_port, messages)
        refused = [c for c in codes if c != "AA"]
        if refused:
            raise RuntimeError(f"the engine refused {len(refused)} HIS message(s): {refused}")

    # -- what happened ----------------------------------------------------------------------------------------
    def outcome(self, config: Path) -> dict[str, Any]:
        assert self.store is not None
        with self.store.connect() as conn:
            events = conn.execute(
                text("SELECT action, target, detail FROM audit WHERE action LIKE 'contract.%' ORDER BY id")
            ).fetchall()
            tasks = Counter(state for (state,) in conn.execute(text("SELECT state FROM care_tasks")).fetchall())
            linked = conn.execute(
                text(
                    "SELECT r.source_system, r.local_id FROM mpi_records r WHERE r.person_id ="
                    " (SELECT person_id FROM record_identifiers WHERE value = :rid) ORDER BY r.source_system"
                ),
                {"rid": LINKED_RESIDENT},
            ).fetchall()
            linked_person = conn.execute(
                text("SELECT person_id FROM record_identifiers WHERE value = :rid"), {"rid": LINKED_RESIDENT}
            ).scalar()
        his = self.his.pushes()
        records = self.phs.records()
        return {
            "contract_events": [
                {
                    "contract": target.removeprefix("contract:").partition("|")[2],
                    "event": action.removeprefix("contract."),
                    "version": json.loads(detail)["version"],
                    "status": json.loads(detail)["status"],
                }
                for action, target, detail in events
            ],
            "his_pushes": {
                **self.his.stats(),
                "messages": [
                    {
                        "contract": p.contract_id.partition("^")[0],
                        "version": p.version,
                        "status": p.status,
                        "contracted": p.contracted,
                        "duplicate": p.duplicate,
                        "patient_ids": len(p.patient_ids),
                    }
                    for p in his
                ],
            },
            "emr_pushes": self.emr.stats(),
            "services_returned": {
                "received": self.phs.received,
                "duplicates": self.phs.duplicates,
                "records": [
                    {
                        "contract": r.contract_id,
                        "service": r.fields.get("ServiceType"),
                        "item": r.fields.get("ItemCode"),
                        "date": r.fields.get("ServiceDate"),
                        "closed_task": r.fields.get("TaskId"),
                    }
                    for r in records
                ],
            },
            "tasks_created": sum(tasks.values()),
            "tasks_closed": tasks["DONE"],
            "tasks_overdue": tasks["OVERDUE"] + tasks["LOST"],
            "tasks_by_state": dict(sorted(tasks.items())),
            "linked_resident": [{"system": s, "local_id": local} for s, local in linked],
            "indicators": json.loads(
                _huitong(config, "indicators", "--period", PERIOD, "--format", "json", env=self._environment())
            ),
            "fhir_api": self._fhir_api(config, linked_person),
            "console": self._console(config),
        }

    def _console(self, config: Path) -> dict[str, Any]:
        """The console's address and a sign-in made for the demo: an admin with a new password each run (shown,
        as the demo's FHIR token is; `huitong users create` on a real engine asks for one)."""
        password = secrets.token_urlsafe(12)
        _huitong(
            config, "users", "create", "demo", "--admin", "--password-stdin", env=self._environment(), stdin=password
        )
        return {"url": f"http://127.0.0.1:{self.console_port}/ui/", "user": "demo", "password": password}

    def _fhir_api(self, config: Path, person: str | None) -> dict[str, Any]:
        """The FHIR API's base, a token made for the demo (shown, as `huitong tokens create` shows it once), and
        the resident whose record the curl commands read (王建国, one person across three systems)."""
        made = _huitong(
            config, "tokens", "create", "--scope", "system/*.read", "--expires", "1d", env=self._environment()
        )
        return {
            "base": f"http://127.0.0.1:{self.fhir_port}/fhir",
            "token": made.strip().splitlines()[-1],
            "scope": "system/*.read",
            "resident_id": LINKED_RESIDENT,
            "person": person,
        }


def _huitong(config: Path, *args: str, env: dict[str, str], stdin: str | None = None) -> str:
    """A CLI command on the scenario's configuration, in its environment (the channels' ${...} values)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli"), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
    )
    if done.returncode != 0:
        raise RuntimeError(f"huitong {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


async def run(work: Path, say: Any, show: Any) -> None:
    """The day, then ``show(outcome)``, then the engine serves the FHIR API until SIGINT or SIGTERM."""
    scenario = Scenario(work, say)
    await scenario.start()
    try:
        await scenario.play()
        show(scenario.outcome(work / "config" / "engine.yaml"))
        await scenario.serve()
    finally:
        await scenario.stop()


def curl(fhir: dict[str, Any]) -> list[str]:
    """Commands that read the resident's record through the FHIR API, as the README shows them."""
    auth = f"curl -s -H 'Authorization: Bearer {fhir['token']}'"
    return [
        f"{auth} '{fhir['base']}/Patient?identifier={fhir['resident_id']}'",
        f"{auth} '{fhir['base']}/Encounter?patient={fhir['person']}'",
        f"{auth} '{fhir['base']}/Observation?patient={fhir['person']}&_count=50'",
        f"{auth} '{fhir['base']}/Patient/{fhir['person']}/$everything?_count=100'",
    ]


def report(outcome: dict[str, Any], config: Path) -> str:
    """The outcome for a person at a terminal."""
    his, emr, services = outcome["his_pushes"], outcome["emr_pushes"], outcome["services_returned"]
    lines = ["", "Contract changes the engine applied:"]
    lines += [
        f"  {e['contract']}  v{e['version']}  {e['event']:<10} -> {e['status']}" for e in outcome["contract_events"]
    ]
    lines += [
        "",
        f"HIS (ADT^A31 over MLLP): {his['received']} received, {his['acknowledged']} acknowledged, "
        f"{his['duplicates']} duplicates",
    ]
    lines += [
        f"  {m['contract']}  v{m['version']}  {m['status']:<10} contracted={'Y' if m['contracted'] else 'N'}"
        f"{'  (duplicate)' if m['duplicate'] else ''}"
        for m in his["messages"]
    ]
    lines += [
        f"EMR (FHIR transactions): {emr['transactions']} received, {emr['accepted']} accepted, "
        f"{emr['duplicates']} duplicates",
        "",
        f"Services returned to public health: {services['received']} ({services['duplicates']} duplicates)",
    ]
    lines += [
        f"  {r['contract']}  {r['date']}  {r['service']:<18} {r['item'] or '-':<8}"
        f"{'  closes a care task' if r['closed_task'] else ''}"
        for r in services["records"]
    ]
    lines += [
        "",
        f"Care tasks: {outcome['tasks_created']} created, {outcome['tasks_closed']} closed by a service, "
        f"{outcome['tasks_overdue']} overdue",
        "",
        "One resident, three systems, linked by the MPI (王建国):",
    ]
    lines += [f"  {r['system']:<28} {r['local_id']}" for r in outcome["linked_resident"]]
    lines += ["", f"Indicators {PERIOD}, county ({COUNTY}):"]
    lines += [
        f"  {r['indicator']:<34} {r['numerator']:>4} / {r['denominator']:<4} "
        f"{'-' if r['rate'] is None else format(r['rate'], '.1%'):>7}"
        for r in outcome["indicators"]
        if r["org"] == COUNTY and r["team"] is None
    ]
    lines.append(f"  every institution and team: huitong indicators --period {PERIOD} --config {config}")
    fhir = outcome["fhir_api"]
    lines += [
        "",
        f"The record as FHIR R4: {fhir['base']}",
        f"  token ({fhir['scope']}, valid for a day): {fhir['token']}",
        "  王建国's record, for example:",
        *(f"  {c}" for c in curl(fhir)),
    ]
    console = outcome["console"]
    lines += ["", f"The console (dashboard, messages, dead letters, MPI review, records): {console['url']}"]
    lines += [f"  sign in as {console['user']}, password {console['password']} (an admin made for this run)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="huitong demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "demo", help="work directory (emptied first)")
    args = parser.parse_args(argv)
    out = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    def show(outcome: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(outcome, ensure_ascii=False, indent=2), flush=True)
        else:
            sys.stdout.write(report(outcome, args.work / "config" / "engine.yaml"))
            print(f"\nStore, logs and files: {args.work}")
        say("\nThe engine keeps running for the FHIR API and the console; Ctrl-C stops it.")
        sys.stdout.flush()

    try:
        asyncio.run(run(args.work, say, show))
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
