"""FHIR push: EMRs POST resources and transaction Bundles; the answer comes after the journal commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpus import CORPUS
from tests.support.daemon import Daemon, free_port, write_config
from tests.support.http import request
from tests.support.store_view import journal

TOKEN = "s3cret-token"
PATIENTS = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def emr_push(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path
) -> Iterator[tuple[str, Path]]:
    """One daemon with a fhir-push channel for the module; yields (FHIR base URL, engine.yaml)."""
    root = tmp_path_factory.mktemp("fhir-push")
    port = free_port()
    config = write_config(
        root,
        module_store_url,
        {"emr-push": {"source": {"type": "fhir-push", "listen": f"127.0.0.1:{port}", "auth_token": TOKEN}}},
        log_dir / f"fhir-push-{root.name}.jsonl",
    )
    with Daemon(config, ports=(port,)):
        yield f"http://127.0.0.1:{port}/fhir", config


def test_a_posted_patient_is_journaled_before_the_201(emr_push: tuple[str, Path]) -> None:
    base, config = emr_push
    patient = json.loads(PATIENTS[0])
    answer = request(f"{base}/Patient", PATIENTS[0].encode(), token=TOKEN)
    assert answer.status == 201
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "information"
    row = next(r for r in journal(config) if r["control_id"] == patient["id"])
    assert (row["message_type"], row["status"]) == ("Patient", "PROCESSED")
    assert f"message {row['id']}" in outcome["issue"][0]["diagnostics"]


def test_a_transaction_bundle_is_one_message_answered_with_a_transaction_response(emr_push: tuple[str, Path]) -> None:
    base, config = emr_push
    bundle = {
        "resourceType": "Bundle",
        "id": "txn-0001",
        "type": "transaction",
        "entry": [
            {"resource": json.loads(line), "request": {"method": "PUT", "url": f"Patient/{json.loads(line)['id']}"}}
            for line in PATIENTS[1:4]
        ],
    }
    answer = request(base, json.dumps(bundle).encode(), token=TOKEN)
    assert answer.status == 200
    response = answer.json()
    assert response["type"] == "transaction-response" and len(response["entry"]) == 3
    rows = [r for r in journal(config) if r["control_id"] == "txn-0001"]
    assert [(r["message_type"], r["status"]) for r in rows] == [("Bundle^transaction", "PROCESSED")]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/Patient", b'{"resourceType": "Patient", "id": ', "invalid JSON"),
        ("/Patient", b'{"id": "p1", "gender": "female"}', "missing resourceType"),
        (
            "",
            b'{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {}}]}',
            "entry[0].resource: missing resourceType",
        ),
        ("/Observation", PATIENTS[5].encode(), "resourceType Patient does not match the URL, which names Observation"),
    ],
)
def test_a_bad_payload_gets_400_naming_the_problem_and_is_journaled_as_error(
    emr_push: tuple[str, Path], path: str, body: bytes, reason: str
) -> None:
    base, config = emr_push
    answer = request(f"{base}{path}", body, token=TOKEN)
    assert answer.status == 400
    issue = answer.json()["issue"][0]
    assert issue["severity"] == "error" and reason in issue["diagnostics"]
    last = journal(config)[-1]
    assert last["status"] == "ERROR" and reason in last["error"]
    good = request(f"{base}/Patient", PATIENTS[6].encode(), token=TOKEN)  # the engine keeps serving
    assert good.status == 201


def test_a_payload_that_is_not_json_gets_415(emr_push: tuple[str, Path]) -> None:
    base, config = emr_push
    answer = request(f"{base}/Patient", b"<Patient/>", content_type="application/xml", token=TOKEN)
    assert answer.status == 415
    assert "application/fhir+json" in answer.json()["issue"][0]["diagnostics"]
    assert journal(config)[-1]["status"] == "ERROR"


def test_a_wrong_or_missing_bearer_token_gets_401_and_nothing_is_journaled(emr_push: tuple[str, Path]) -> None:
    base, config = emr_push
    before = len(journal(config))
    assert request(f"{base}/Patient", PATIENTS[7].encode(), token="guess").status == 401
    assert request(f"{base}/Patient", PATIENTS[7].encode()).status == 401
    assert len(journal(config)) == before
