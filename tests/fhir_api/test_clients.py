"""Stock FHIR clients against a daemon holding the county's HIS records: fhirclient (Python, SMART on FHIR's) and
fhir-kit-client (Node, from the npm registry) search, read and page one resident's record; every resource they
are given is valid R4 (fhir.resources). fhirpy's run is in test_read_api.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fhir_api.server import CHEN_ID, Server, get, valid_r4

FHIR_KIT = Path(__file__).resolve().parents[1] / "peers" / "fhir-kit-client"


def test_fhirclient_searches_reads_and_pages_a_residents_observations(fhir: Server) -> None:
    from fhirclient import client
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    smart = client.FHIRClient(settings={"app_id": "huitong-test", "api_base": f"{fhir.base}/"})
    smart.server.session.headers["Authorization"] = f"Bearer {fhir.token}"
    [found] = list(Patient.where(struct={"identifier": CHEN_ID}).perform_resources_iter(smart.server))
    assert found.birthDate.isostring == "1949-09-02"
    read = Patient.read(found.id, smart.server)
    assert read.as_json() == found.as_json() == valid_r4(read.as_json())
    paged = list(Observation.where(struct={"patient": found.id, "_count": "2"}).perform_iter(smart.server))
    observations = [e.resource for bundle in paged for e in bundle.entry or []]
    total = get(f"{fhir}/Observation?patient={found.id}&_count=0")[1]["total"]
    assert len(paged) == -(-total // 2) > 1 and len({o.id for o in observations}) == total
    for observation in observations:
        valid_r4(observation.as_json())
    everything = _all_pages(smart.server, f"Patient/{found.id}/$everything?_count=5")
    entries = [e["resource"] for page in everything for e in page.get("entry", [])]
    assert len(everything) > 1 and len(entries) == everything[0]["total"]
    assert {o.id for o in observations} <= {r["id"] for r in entries if r["resourceType"] == "Observation"}
    for page in everything:
        valid_r4(page)


def _all_pages(server: Any, path: str) -> list[dict[str, Any]]:
    """Every page of a Bundle through fhirclient's own requests, following the next links."""
    pages = [server.request_json(path)]
    while following := [link["url"] for link in pages[-1].get("link", []) if link["relation"] == "next"]:
        pages.append(server.request_json(following[0].removeprefix(server.base_uri)))
    return pages


@pytest.fixture(scope="module")
def fhir_kit() -> Path:
    """fhir-kit-client as package-lock.json pins it, installed from the npm registry on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the fhir-kit-client test")
    if not (FHIR_KIT / "node_modules" / "fhir-kit-client").is_dir():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=FHIR_KIT, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, installed.stderr
    return FHIR_KIT


def test_fhir_kit_client_searches_reads_and_pages_a_residents_observations(fhir: Server, fhir_kit: Path) -> None:
    done = subprocess.run(
        ["node", "read_record.mjs", fhir.base, fhir.token, CHEN_ID],
        cwd=fhir_kit,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    got: dict[str, Any] = json.loads(done.stdout)
    patient = got["found"]["entry"][0]["resource"]
    assert got["read"] == patient and got["first"]["meta"]["versionId"] == "1"
    assert got["history"]["type"] == "history"
    pages = got["pages"]
    observations = [e["resource"] for page in pages for e in page["entry"]]
    assert len(pages) == -(-pages[0]["total"] // 2) > 1
    assert len({o["id"] for o in observations}) == pages[0]["total"]
    assert got["refused"]["status"] == 401 and valid_r4(got["refused"]["body"])["resourceType"] == "OperationOutcome"
    for answer in (got["statement"], got["found"], got["read"], got["first"], got["history"], *pages):
        valid_r4(answer)
    everything = got["everything"]
    records = [e["resource"] for page in everything for e in page["entry"]]
    assert len(everything) > 1 and len({(r["resourceType"], r["id"]) for r in records}) == everything[0]["total"]
    assert {o["id"] for o in observations} <= {r["id"] for r in records if r["resourceType"] == "Observation"}
    for answer in everything:
        valid_r4(answer)
