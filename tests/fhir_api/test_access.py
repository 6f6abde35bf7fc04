"""Who may read the record through the FHIR API, and the trail of who did: user-level tokens, listing and revoking
tokens, `huitong audit`, and the trail as FHIR AuditEvent."""

from __future__ import annotations

import base64
import json
from datetime import date
from urllib.parse import quote

import pytest

from tests.fhir_api.server import CHEN_ID, Server, chen, get, make_token
from tests.support.daemon import huitong


def token_id(config: Server, *args: str) -> tuple[str, str]:
    """A new token's id and secret."""
    made = huitong("tokens", "create", "--expires", "1d", *args, config=config.config)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    return lines[0].split()[2].rstrip(","), lines[-1]


def trail(fhir: Server, *args: str) -> dict:
    done = huitong("audit", *args, "--json", config=fhir.config)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_user_token_reads_every_resident_and_is_audited_under_the_users_name(fhir: Server) -> None:
    _, secret = token_id(fhir, "--scope", "user/*.read", "--user", "dr.li")
    me = chen(fhir, secret)
    status, everyone = get(f"{fhir}/Patient?gender=male,female", secret)
    assert status == 200 and everyone["total"] > 1
    reads = trail(fhir, "--actor", "user:dr.li", "--action", "fhir.read")["rows"]
    assert {"search"} <= {r["detail"]["interaction"] for r in reads}
    assert any(r["detail"]["query"] == f"/fhir/Patient?identifier={CHEN_ID}" for r in reads)
    assert me["id"]  # the user read 陈桂兰 as a system token would


@pytest.mark.parametrize(
    "args",
    [
        ["--scope", "user/*.read"],
        ["--scope", "system/*.read", "--user", "dr.li"],
        ["--scope", "user/*.read", "--user", "dr li; drop"],
        ["--scope", "patient/*.read", "--patient", CHEN_ID, "--user", "dr.li"],
    ],
)
def test_a_user_scope_needs_a_user_and_a_user_fits_no_other_scope(fhir: Server, args: list[str]) -> None:
    made = huitong("tokens", "create", "--expires", "1d", *args, config=fhir.config)
    assert made.returncode == 1 and "cannot make the token" in made.stderr


def test_tokens_list_shows_ids_and_bindings_never_a_secret(fhir: Server) -> None:
    ident, secret = token_id(fhir, "--scope", "user/Observation.read", "--user", "nurse.wang")
    table = huitong("tokens", "list", config=fhir.config)
    listed = huitong("tokens", "list", "--json", config=fhir.config)
    assert table.returncode == listed.returncode == 0
    assert secret not in table.stdout + listed.stdout
    [row] = [t for t in json.loads(listed.stdout) if t["id"] == ident]
    assert (row["scopes"], row["user"], row["state"]) == (["user/Observation.read"], "nurse.wang", "active")
    assert any(ident in line and "user nurse.wang" in line for line in table.stdout.splitlines())


def test_a_revoked_token_is_refused_from_then_on_and_the_revocation_audited(fhir: Server) -> None:
    ident, secret = token_id(fhir, "--scope", "system/*.read")
    assert get(f"{fhir}/Patient?identifier={CHEN_ID}", secret)[0] == 200
    revoked = huitong("tokens", "revoke", ident, config=fhir.config)
    assert revoked.returncode == 0, revoked.stderr
    status, outcome = get(f"{fhir}/Patient?identifier={CHEN_ID}", secret)
    assert (status, outcome["resourceType"]) == (401, "OperationOutcome")
    [row] = [t for t in json.loads(huitong("tokens", "list", "--json", config=fhir.config).stdout) if t["id"] == ident]
    assert row["state"] == "revoked" and row["revoked_at"]
    [event] = trail(fhir, "--action", "tokens.revoke")["rows"]
    assert event["target"] == f"token:{ident}"
    assert huitong("tokens", "revoke", "no-such-token", config=fhir.config).returncode == 1


def test_huitong_audit_finds_a_residents_reads_masks_them_in_the_table_and_pages(fhir: Server) -> None:
    me = chen(fhir)
    assert get(f"{fhir}/Patient/{me['id']}")[0] == 200
    chen(fhir)  # three reads of hers in all: the page of two has a next one
    found = trail(fhir, "--patient", CHEN_ID, "--action", "fhir.read", "--since", "1h")
    assert found["total"] >= 3 and {r["target"] for r in found["rows"]} == {found["rows"][0]["target"]}
    assert any(r["detail"]["query"] == f"/fhir/Patient?identifier={CHEN_ID}" for r in found["rows"])
    table = huitong("audit", "--patient", CHEN_ID, "--action", "fhir.read", "--limit", "2", config=fhir.config)
    assert table.returncode == 0, table.stderr
    assert CHEN_ID not in table.stdout and "identifier=***" in table.stdout
    assert f"rows 1-2 of {found['total']}; next page: --offset 2" in table.stdout
    older = trail(fhir, "--patient", CHEN_ID, "--action", "fhir.read", "--until", "2000-01-01")
    assert older["total"] == 0


def test_huitong_audit_names_an_unknown_patient(fhir: Server) -> None:
    done = huitong("audit", "--patient", "110101190001010000", config=fhir.config)
    assert done.returncode == 1 and "110101190001010000" in done.stderr


def test_audit_events_need_the_audit_scope_not_the_wildcard(fhir: Server) -> None:
    status, outcome = get(f"{fhir}/AuditEvent")
    assert (status, outcome["resourceType"]) == (403, "OperationOutcome")
    _, statement = get(f"{fhir}/metadata", None)
    served = {r["type"]: {p["name"] for p in r.get("searchParam", [])} for r in statement["rest"][0]["resource"]}
    assert {"patient", "date", "agent"} <= served["AuditEvent"]


def test_audit_events_of_a_patients_reads_by_agent_and_date(fhir: Server) -> None:
    _, reader = token_id(fhir, "--scope", "user/*.read", "--user", "dr.zhao")
    me = chen(fhir, reader)
    _, auditor = token_id(fhir, "--scope", "system/AuditEvent.read")
    today = date.today().isoformat()
    status, bundle = get(f"{fhir}/AuditEvent?patient={me['id']}&agent=user:dr.zhao&date={today}", auditor)
    assert status == 200 and bundle["total"] == 1
    event = bundle["entry"][0]["resource"]
    assert event["agent"][0]["who"]["identifier"]["value"] == "user:dr.zhao"
    [patient] = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    [query] = [base64.b64decode(e["query"]).decode() for e in event["entity"] if "query" in e]
    assert query == f"/fhir/Patient?identifier={CHEN_ID}" and patient.startswith("Patient/")
    assert get(f"{fhir}/AuditEvent/{event['id']}", auditor) == (200, event)
    assert get(f"{fhir}/AuditEvent?patient={me['id']}&date=lt2000-01-01", auditor)[1]["total"] == 0
    status, paged = get(f"{fhir}/AuditEvent?patient={quote('Patient/' + me['id'])}&_count=1", auditor)
    assert status == 200 and paged["total"] > 1 and any(link["relation"] == "next" for link in paged["link"])


def test_a_patient_bound_auditor_sees_only_its_patients_trail(fhir: Server) -> None:
    me = chen(fhir)
    _, everyone = get(f"{fhir}/Patient?gender=male,female")
    other = next(e["resource"]["id"] for e in everyone["entry"] if e["resource"]["id"] != me["id"])
    mine = make_token(fhir.config, "--scope", "patient/AuditEvent.read", "--patient", CHEN_ID)
    status, own = get(f"{fhir}/AuditEvent", mine)
    targets = {e["resource"]["entity"][0]["what"]["reference"] for e in own["entry"]}
    assert status == 200 and own["total"] >= 1 and len(targets) == 1
    assert get(f"{fhir}/AuditEvent?patient={other}", mine)[1]["total"] == 0
    auditor = make_token(fhir.config, "--scope", "system/AuditEvent.read")
    _, system_view = get(f"{fhir}/AuditEvent?patient={other}", auditor)
    assert system_view["total"] >= 1
    assert get(f"{fhir}/AuditEvent/{system_view['entry'][0]['resource']['id']}", mine)[0] == 404
    assert get(f"{fhir}/Patient/{me['id']}", mine)[0] == 403  # the audit scope reads the trail, not the record


@pytest.mark.parametrize("query", ["colour=blue", "date=1949-13-40", "date=xx2026", "_count=x", "patient="])
def test_a_bad_audit_event_search_is_a_400_outcome(fhir: Server, query: str) -> None:
    auditor = make_token(fhir.config, "--scope", "system/AuditEvent.read")
    status, outcome = get(f"{fhir}/AuditEvent?{query}", auditor)
    assert (status, outcome["resourceType"]) == (400, "OperationOutcome")


def test_the_daemons_log_holds_no_query_and_no_resident_of_the_reads(fhir: Server) -> None:
    assert get(f"{fhir}/Patient?identifier={CHEN_ID}&name={quote('陈桂兰')}")[0] == 200
    assert get(f"{fhir}/Patient?birthdate=1949-13-40")[0] == 400
    logged = fhir.log.read_text(encoding="utf-8")
    assert logged and "fhir api" in logged  # the listener's lines are in it
    for secret in (CHEN_ID, "陈桂兰", "identifier=", "birthdate="):
        assert secret not in logged, secret
    api_lines = [json.loads(line) for line in logged.splitlines() if '"huitong.fhir_api"' in line]
    assert not any("?" in str(line.get("path", "")) for line in api_lines)  # a path, never its query
