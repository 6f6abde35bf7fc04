"""The FHIR read API of a daemon that filed the county's HIS samples: metadata, read, vread, history, search;
bearer tokens, a patient-bound token's narrower view, and the audit of every read."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from engine.store.schema import audit
from tests.fhir_api.server import CHEN_ID, Server, chen, get, make_token
from tests.support.daemon import huitong


def test_metadata_lists_what_is_served(fhir: Server) -> None:
    status, statement = get(f"{fhir}/metadata", None)  # metadata needs no token
    assert status == 200 and statement["resourceType"] == "CapabilityStatement"
    served = {r["type"]: {p["name"] for p in r.get("searchParam", ())} for r in statement["rest"][0]["resource"]}
    assert served["Patient"] >= {"identifier", "name", "birthdate", "gender", "phone", "telecom", "_count"}
    assert {"patient", "code", "date"} <= served["Observation"]


def test_a_patient_found_by_identifier_reads_with_its_meta(fhir: Server) -> None:
    found = chen(fhir)
    [system] = [i["system"] for i in found["identifier"] if i["value"] == CHEN_ID]
    status, by_system = get(f"{fhir}/Patient?identifier={quote(system + '|' + CHEN_ID)}")
    assert status == 200 and [e["resource"] for e in by_system["entry"]] == [found]
    status, elsewhere = get(f"{fhir}/Patient?identifier={quote('urn:other|' + CHEN_ID)}")
    assert status == 200 and elsewhere["total"] == 0
    assert found["meta"]["versionId"] and found["meta"]["source"] == "his.county-people-hospital"
    status, read = get(f"{fhir}/Patient/{found['id']}")
    assert status == 200 and read == found
    status, first = get(f"{fhir}/Patient/{found['id']}/_history/1")
    assert status == 200 and first["meta"]["versionId"] == "1"
    status, history = get(f"{fhir}/Patient/{found['id']}/_history")
    assert status == 200 and history["type"] == "history" and history["total"] >= 1


@pytest.mark.parametrize("name", ["陈桂兰", "陳桂蘭", "chen guilan", "CHEN", "桂兰"])
def test_name_search_meets_chinese_traditional_and_pinyin(fhir: Server, name: str) -> None:
    status, bundle = get(f"{fhir}/Patient?name={quote(name)}&birthdate=1949-09-02")
    assert status == 200, bundle
    assert chen(fhir)["id"] in {e["resource"]["id"] for e in bundle["entry"]}


def test_patient_search_by_gender_birthdate_and_phone(fhir: Server) -> None:
    me = chen(fhir)["id"]
    for query in ("gender=female&birthdate=ge1949-01-01&birthdate=lt1950", "phone=13907921022"):
        status, bundle = get(f"{fhir}/Patient?{query}")
        assert status == 200 and me in {e["resource"]["id"] for e in bundle["entry"]}, query


def test_observations_of_a_patient_page_with_next_links_and_a_total(fhir: Server) -> None:
    me = chen(fhir)["id"]
    status, first = get(f"{fhir}/Observation?patient={me}&_count=1")
    assert status == 200 and first["total"] >= 1
    seen, page = [], first
    while True:
        seen += [e["resource"]["id"] for e in page["entry"]]
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        status, page = get(following[0])
        assert status == 200
    assert len(seen) == len(set(seen)) == first["total"]
    status, coded = get(f"{fhir}/Observation?patient=Patient/{me}&code={quote('http://loinc.org|14771-0')}")
    assert status == 200 and coded["total"] >= 1
    status, dated = get(f"{fhir}/Observation?patient={me}&date=2026-07-08")
    assert status == 200 and dated["total"] >= 1
    for kind in ("Condition", "Encounter"):
        status, bundle = get(f"{fhir}/{kind}?patient={me}")
        assert status == 200 and bundle["total"] >= 1, kind


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/Patient/nobody", 404),
        ("/Patient/nobody/_history/1", 404),
        ("/Medication/x", 404),
        ("/nothing-here", 404),
        ("/Patient?colour=blue", 400),
        ("/Patient?birthdate=1949-13-40", 400),
        ("/Patient?birthdate=xx1949", 400),
        ("/Patient?_count=-1", 400),
        ("/Patient?_count=100000", 400),
        ("/Patient?name=%00", 400),
        ("/Observation?code:text=x", 400),
        ("/Patient?_offset=99999999999999999999", 400),
        ("/Patient/x/_history/99999999999999999999", 404),
    ],
)
def test_unknown_resources_and_bad_parameters_get_an_operation_outcome(fhir: Server, path: str, status: int) -> None:
    got, outcome = get(fhir.base + path)
    assert (got, outcome["resourceType"]) == (status, "OperationOutcome")


@pytest.mark.parametrize("token", [None, "wrong", "Bearer"])
def test_a_request_without_a_valid_token_gets_401(fhir: Server, token: str | None) -> None:
    status, outcome = get(f"{fhir}/Patient?identifier={CHEN_ID}", token)
    assert (status, outcome["resourceType"]) == (401, "OperationOutcome")


def test_a_patient_bound_token_sees_its_patient_only(fhir: Server) -> None:
    me = chen(fhir)
    mine = make_token(fhir.config, "--scope", "patient/*.read", "--patient", CHEN_ID)
    assert chen(fhir, mine) == me
    status, everyone = get(f"{fhir}/Patient?gender=male,female", mine)
    assert status == 200 and {e["resource"]["id"] for e in everyone["entry"]} == {me["id"]}
    status, all_patients = get(f"{fhir}/Patient?gender=male,female")
    assert all_patients["total"] > 1
    other = next(e["resource"]["id"] for e in all_patients["entry"] if e["resource"]["id"] != me["id"])
    assert get(f"{fhir}/Patient/{other}", mine)[0] == 404
    assert get(f"{fhir}/Patient/{other}/_history", mine)[0] == 404
    status, theirs = get(f"{fhir}/Observation?patient={other}", mine)
    assert status == 200 and theirs["total"] == 0


def test_a_token_scope_that_does_not_fit_is_refused_at_creation(fhir: Server) -> None:
    for args in (
        ["--scope", "patient/*.read"],
        ["--scope", "system/*.write"],
        ["--scope", "system/*.read", "--patient", CHEN_ID],
    ):
        made = huitong("tokens", "create", "--expires", "1d", *args, config=fhir.config)
        assert made.returncode == 1 and "cannot make the token" in made.stderr, args


def test_every_read_is_audited_with_the_token_and_the_patient(fhir: Server) -> None:
    me = chen(fhir)
    status, _ = get(f"{fhir}/Patient/{me['id']}")
    assert status == 200
    engine = create_engine(fhir.store_url, poolclass=NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit.c.actor, audit.c.target, audit.c.detail).where(audit.c.action == "fhir.read")
        ).all()
    engine.dispose()
    details = [json.loads(d) for _, _, d in rows]
    assert any(d["interaction"] == "read" and d["query"] == f"/fhir/Patient/{me['id']}" for d in details)
    for (actor, person, _), d in zip(rows, details, strict=True):
        assert actor == f"token:{d['token']}" and len(person) == 32  # the person's id, never a name


def test_concurrent_reads_each_find_their_audit_committed_when_answered(fhir: Server) -> None:
    """Concurrent requests share audit commits; each answer still comes only after its own row is on file."""
    me = chen(fhir)
    queries = [f"/fhir/Patient/{me['id']}?_elements=name&n={n}" for n in range(12)]
    engine = create_engine(fhir.store_url, poolclass=NullPool)

    def read_then_look(query: str) -> bool:
        status, _ = get(f"{fhir.base.removesuffix('/fhir')}{query}")
        assert status == 200
        with engine.connect() as conn:
            details = conn.execute(select(audit.c.detail).where(audit.c.action == "fhir.read")).scalars().all()
        return any(json.loads(d)["query"] == query for d in details)

    with ThreadPoolExecutor(len(queries)) as pool:
        seen = list(pool.map(read_then_look, queries))
    engine.dispose()
    assert seen == [True] * len(queries)


def test_fhirpy_searches_reads_and_pages_observations(fhir: Server) -> None:
    """A stock FHIR client (fhirpy, from PyPI) against the daemon: search by identifier, read, page, $everything."""
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(fhir.base, authorization=f"Bearer {fhir.token}")
    found = client.resources("Patient").search(identifier=CHEN_ID).first()
    assert found is not None and found["birthDate"] == "1949-09-02"
    read = client.reference("Patient", found.id).to_resource()
    assert read.serialize() == found.serialize()
    observations = client.resources("Observation").search(patient=found.id).limit(1)
    paged = list(observations.fetch_all())  # one resource a page: every page through its next link
    total = get(f"{fhir}/Observation?patient={found.id}&_count=0")[1]["total"]  # fhirpy's count() asks _totalMethod
    assert len(paged) == total >= 1
    assert len({o.id for o in paged}) == len(paged)
    assert all(o["meta"]["source"] == "his.county-people-hospital" for o in paged)
    everything = client.reference("Patient", found.id).execute("$everything", method="get", params={"_count": 100})
    kinds = {e["resource"]["resourceType"] for e in everything["entry"]}
    assert everything["total"] == len(everything["entry"]) and {"Patient", "Observation", "Encounter"} <= kinds
    assert {o.id for o in paged} <= {e["resource"]["id"] for e in everything["entry"]}
