"""Bulk Data export (FHIR Bulk Data Access IG v2) from a daemon that filed the county's HIS samples over MLLP and
the public-health system's contracts: kick-off, polling, the manifest, NDJSON files that are valid FHIR R4 and hold
what the record holds; _since, _type, Group (a family-doctor team's residents), tokens, DELETE, bad parameters."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from engine.connectors.mllp.client import exchange
from tests.fhir_api.server import HIS_SAMPLES, make_token
from tests.support.daemon import Daemon, free_port, wait_port, wait_until, write_config
from tests.support.store_view import destination_statuses

CONTRACTS = Path(__file__).resolve().parents[2] / "samples" / "county" / "phs" / "contracts.xml"
TEAM = "339901101-T01"  # 城关 T01: 王建国 and 陈桂兰 (samples/county/README.md)
TEAM_RESIDENTS = {"360426195204110317", "360426194909020421"}
KICK_OFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


@dataclass(frozen=True)
class Server:
    base: str
    config: Path
    store_url: str
    token: str
    exports: Path


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, token: str | None, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
    sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=sent, method=method), timeout=10) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, dict(refused.headers), refused.read())


@pytest.fixture(scope="module")
def server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Server]:
    """A daemon whose record holds the HIS samples and the contracts, with the FHIR API on."""
    root = tmp_path_factory.mktemp("bulk")
    port, api, inbox = free_port(), free_port(), root / "inbox"
    config = write_config(
        root,
        module_store_url,
        {
            "his": {
                "source_system": "his.county-people-hospital",
                "source": {"type": "mllp", "listen": f"127.0.0.1:{port}", "encoding": "gb18030"},
                "map": ["hl7v2/adt", "hl7v2/oru"],
                "destinations": [{"name": "record", "type": "record", "order_by": "person"}],
            },
            "phs-contract-files": {
                "source_system": "phs.county",
                "source": {"type": "file", "format": "xml", "path": str(inbox), "glob": "*.xml", "poll_interval": 0.2},
                "destinations": [{"name": "register", "type": "contract"}],
            },
        },
        log_dir / f"fhir-bulk-{root.name}.jsonl",
    )
    engine_yaml = yaml.safe_load(config.read_text())
    exports = root / "exports"
    fhir_api = {"listen": f"127.0.0.1:{api}", "export_dir": str(exports)}
    config.write_text(yaml.safe_dump({**engine_yaml, "fhir_api": fhir_api}))
    samples = [p.read_bytes() for p in sorted(HIS_SAMPLES.glob("*.hl7"))]
    with Daemon(config, ports=(port, api)):
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(CONTRACTS, inbox / "contracts.xml")
        assert all(b"MSA|AA|" in a for a in exchange("127.0.0.1", port, samples))
        done = {"SENT", "SKIPPED"}
        wait_until(lambda: len(s := destination_statuses(config)) == len(samples) + 1 and set(s) <= done)
        wait_port(api)
        token = make_token(config, "--scope", "system/*.read")
        yield Server(f"http://127.0.0.1:{api}/fhir", config, module_store_url, token, exports)


def store_rows(server: Server, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    engine = create_engine(server.store_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params or {}).all()]
    finally:
        engine.dispose()


def kick_off(server: Server, path: str, token: str | None = None) -> str:
    answer = call(server.base + path, token or server.token, KICK_OFF)
    assert answer.status == 202, answer.body
    return answer.headers["Content-Location"]


def completed(server: Server, status_url: str) -> dict[str, Any]:
    """Poll the status URL until the job is done: 202 with X-Progress meanwhile, then 200 and the manifest."""

    def poll() -> Answer | None:
        answer = call(status_url, server.token)
        if answer.status == 202:
            assert answer.headers["X-Progress"] and answer.headers["Retry-After"]
            return None
        return answer

    answer = wait_until(poll)
    assert isinstance(answer, Answer) and answer.status == 200, answer
    return dict(answer.json())


def download(server: Server, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every output file, fetched with the token, each line parsed and validated as FHIR R4; by type."""
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        assert call(output["url"], None).status == 401
        answer = call(output["url"], server.token)
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in answer.body.decode().splitlines()]
        for resource in lines:
            assert resource["resourceType"] == output["type"]
            get_fhir_model_class(output["type"]).model_validate(resource)
        assert len(lines) == output["count"]
        by_type.setdefault(output["type"], []).extend(lines)
    return by_type


def ids(exported: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    return {kind: {r["id"] for r in resources} for kind, resources in exported.items()}


def record_ids(server: Server, where: str = "", params: dict[str, Any] | None = None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for kind, ident in store_rows(server, f"SELECT type, id FROM record_resources {where}", params):
        out.setdefault(kind, set()).add(ident)
    return out


def test_a_system_export_holds_every_current_resource_of_the_record_as_valid_fhir(server: Server) -> None:
    manifest = completed(server, kick_off(server, "/$export"))
    assert manifest["request"] == f"{server.base}/$export"
    datetime.fromisoformat(manifest["transactionTime"])
    exported = download(server, manifest)
    assert ids(exported) == record_ids(server)
    assert {"Patient", "Observation", "Condition", "Encounter", "EpisodeOfCare", "CareTeam"} <= set(exported)
    current = {r[0]: r[1] for r in store_rows(server, "SELECT id, version FROM record_resources")}
    for resource in (r for resources in exported.values() for r in resources):
        assert resource["meta"]["versionId"] == str(current[resource["id"]]) and resource["meta"]["source"]


def test_the_patient_level_export_gives_the_residents_compartments(server: Server) -> None:
    exported = download(server, completed(server, kick_off(server, "/Patient/$export?_outputFormat=ndjson")))
    assert ids(exported) == record_ids(server)


def test_since_leaves_out_resources_recorded_before_it(server: Server) -> None:
    times = sorted(
        r[0]
        for r in store_rows(
            server,
            "SELECT v.at FROM record_resources r JOIN record_versions v ON v.resource_id = r.id"
            " AND v.version = r.version",
        )
    )
    distinct = sorted(set(times))  # a batch of the record shares its time: cut between two batches
    since = (distinct[len(distinct) // 2 - 1] + distinct[len(distinct) // 2]) / 2
    instant = datetime.fromtimestamp(since, UTC).isoformat(timespec="microseconds")
    exported = download(server, completed(server, kick_off(server, f"/$export?_since={quote(instant)}")))
    expected = record_ids(
        server,
        "r JOIN record_versions v ON v.resource_id = r.id AND v.version = r.version WHERE v.at > :since",
        {"since": since},
    )
    assert ids(exported) == expected and 0 < sum(map(len, expected.values())) < len(times)


def test_type_limits_the_export_to_the_types_asked(server: Server) -> None:
    manifest = completed(server, kick_off(server, "/$export?_type=Observation,Condition&_type=Medication"))
    exported = download(server, manifest)
    record = record_ids(server)
    assert ids(exported) == {"Observation": record["Observation"], "Condition": record["Condition"]}


def test_a_type_scoped_token_exports_only_its_types(server: Server) -> None:
    observations = make_token(server.config, "--scope", "system/Observation.read")
    manifest = completed(server, kick_off(server, "/$export", observations))
    assert {o["type"] for o in manifest["output"]} == {"Observation"}
    answer = call(server.base + "/$export?_type=Patient", observations, KICK_OFF)
    assert (answer.status, answer.json()["resourceType"]) == (403, "OperationOutcome")


def test_a_team_is_a_group_of_its_contracted_residents(server: Server) -> None:
    listing = call(f"{server.base}/Group", server.token)
    assert listing.status == 200
    teams = {e["resource"]["id"]: e["resource"] for e in listing.json()["entry"]}
    assert TEAM in teams and teams[TEAM]["quantity"] == len(TEAM_RESIDENTS)
    group = call(f"{server.base}/Group/{TEAM}", server.token).json()
    get_fhir_model_class("Group").model_validate(group)
    members = {m["entity"]["reference"].removeprefix("Patient/") for m in group["member"]}
    held = {
        r[0]
        for r in store_rows(
            server,
            "SELECT DISTINCT person_id FROM record_identifiers WHERE value IN (:a, :b)",
            dict(zip("ab", sorted(TEAM_RESIDENTS), strict=True)),
        )
    }
    assert members == held and len(members) == len(TEAM_RESIDENTS)
    assert call(f"{server.base}/Group/no-such-team", server.token).status == 404


def test_a_group_export_gives_only_the_cohorts_records(server: Server) -> None:
    group = call(f"{server.base}/Group/{TEAM}", server.token).json()
    members = sorted(m["entity"]["reference"].removeprefix("Patient/") for m in group["member"])
    exported = download(server, completed(server, kick_off(server, f"/Group/{TEAM}/$export")))
    marks = ", ".join(f":p{i}" for i in range(len(members)))
    cohort = record_ids(server, f"WHERE person_id IN ({marks})", {f"p{i}": p for i, p in enumerate(members)})
    assert ids(exported) == cohort and cohort["Observation"]
    assert sum(map(len, cohort.values())) < sum(map(len, record_ids(server).values()))
    unknown = call(f"{server.base}/Group/no-such-team/$export", server.token, KICK_OFF)
    assert unknown.status == 404


def test_a_patient_bound_token_cannot_export(server: Server) -> None:
    mine = make_token(server.config, "--scope", "patient/*.read", "--patient", "360426194909020421")
    for path in ("/$export", "/Patient/$export", f"/Group/{TEAM}/$export"):
        answer = call(server.base + path, mine, KICK_OFF)
        assert (answer.status, answer.json()["resourceType"]) == (403, "OperationOutcome"), path
    assert call(f"{server.base}/Group", mine).status == 403


def test_without_a_token_nothing_is_exported(server: Server) -> None:
    answer = call(f"{server.base}/$export", None, KICK_OFF)
    assert (answer.status, answer.json()["resourceType"]) == (401, "OperationOutcome")
    status_url = kick_off(server, "/$export?_type=Patient")
    assert call(status_url, None).status == 401


def test_delete_removes_the_job_and_its_files(server: Server) -> None:
    status_url = kick_off(server, "/$export")
    job = status_url.rsplit("/", 1)[1]
    answer = call(status_url, server.token, method="DELETE")
    assert (answer.status, answer.json()["resourceType"]) == (202, "OperationOutcome")
    assert call(status_url, server.token).status == 404
    assert call(status_url, server.token, method="DELETE").status == 404
    wait_until(lambda: not (server.exports / job).exists())
    finished_url = kick_off(server, "/$export?_type=Observation")
    manifest = completed(server, finished_url)
    assert call(finished_url, server.token, method="DELETE").status == 202
    assert not (server.exports / finished_url.rsplit("/", 1)[1]).exists()
    assert all(call(o["url"], server.token).status == 404 for o in manifest["output"])


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("_typeFilter=Observation%3Fcode%3D14771-0", KICK_OFF),
        ("_elements=id", KICK_OFF),
        ("_outputFormat=text/csv", KICK_OFF),
        ("_since=2026-07-01", KICK_OFF),
        ("_since=2026-13-01T00:00:00Z", KICK_OFF),
        ("_type=observation", KICK_OFF),
        ("", {"Accept": "application/fhir+json"}),
        ("", {"Prefer": "respond-async", "Accept": "text/html"}),
    ],
)
def test_a_kick_off_that_cannot_be_served_gets_400_and_an_operation_outcome(
    server: Server, query: str, headers: dict[str, str]
) -> None:
    answer = call(f"{server.base}/$export?{query}", server.token, headers)
    assert (answer.status, answer.json()["resourceType"]) == (400, "OperationOutcome")


def test_each_export_is_audited_once_with_its_level_and_types(server: Server) -> None:
    before = time.time()
    status_url = kick_off(server, f"/Group/{TEAM}/$export?_type=Observation")
    completed(server, status_url)
    rows = store_rows(
        server,
        "SELECT actor, target, detail FROM audit WHERE action = 'fhir.export' AND at >= :t",
        {"t": before},
    )
    [(actor, target, detail)] = rows
    found = json.loads(detail)
    assert target == f"Group/{TEAM}" and actor == f"token:{found['token']}"
    assert (found["job"], found["level"], found["types"]) == (status_url.rsplit("/", 1)[1], "group", ["Observation"])


def test_the_capability_statement_lists_the_export_operations(server: Server) -> None:
    statement = call(f"{server.base}/metadata", None).json()
    assert [o["name"] for o in statement["rest"][0]["operation"]] == ["export"]
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert resources["Group"]["operation"][0]["definition"].endswith("/group-export")
    assert any(o["definition"].endswith("/patient-export") for o in resources["Patient"]["operation"])


def _empty_export(store_url: str, tmp_path: Path, log_dir: Path, expires: str) -> tuple[Path, Path, int]:
    """engine.yaml of a daemon with an empty record whose export files are kept ``expires``: (config, exports, port)."""
    api = free_port()
    config = write_config(tmp_path, store_url, {}, log_dir / f"fhir-bulk-expiry-{tmp_path.name}.jsonl")
    exports = tmp_path / "exports"
    fhir_api = {"listen": f"127.0.0.1:{api}", "export_dir": str(exports), "export_expires": expires}
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "fhir_api": fhir_api}))
    return config, exports, api


def test_a_finished_job_outlives_a_restart(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, exports, api = _empty_export(store_url, tmp_path, log_dir, "1d")
    with Daemon(config, ports=(api,)):
        token = make_token(config, "--scope", "system/*.read")
        server = Server(f"http://127.0.0.1:{api}/fhir", config, store_url, token, exports)
        status_url = kick_off(server, "/$export")
        assert completed(server, status_url)["output"] == []  # nothing in the record: no file
    assert (exports / status_url.rsplit("/", 1)[1]).is_dir()
    with Daemon(config, ports=(api,)):
        assert call(status_url, server.token).status == 200


def test_a_finished_jobs_files_go_when_it_expires(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    config, exports, api = _empty_export(store_url, tmp_path, log_dir, "2s")
    with Daemon(config, ports=(api,)):
        token = make_token(config, "--scope", "system/*.read")
        server = Server(f"http://127.0.0.1:{api}/fhir", config, store_url, token, exports)
        status_url = kick_off(server, "/$export")
        job = exports / status_url.rsplit("/", 1)[1]
        wait_until(lambda: call(status_url, server.token).status == 404 and not job.exists(), timeout=60)
