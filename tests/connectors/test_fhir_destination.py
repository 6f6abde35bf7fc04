"""The FHIR destination against the EMR simulator: one transaction per message, idempotent on replay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from engine.connectors.destinations.fhir import FhirDestination
from engine.domain.delivery import Attempt, Delivery
from engine.domain.mapping.result import Mapped, Resource
from samples.emr_simulator import EmrSimulator
from tests.support.daemon import free_port
from tests.support.recorder import Recorder, with_recorder

T = TypeVar("T")
SYSTEM = "his.county-people-hospital"
PATIENT = {
    "resourceType": "Patient",
    "id": "patient-1",
    "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003070011"}],
    "gender": "female",
}
ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "visit-1",
    "status": "finished",
    "subject": {"reference": "Patient/patient-1"},
}


def delivery(message_id: int = 7, raw: bytes = b"MSH|...") -> Delivery:
    return Delivery(1, message_id, "his-adt", "emr", "QUEUED", 0, raw, "ADT^A01", "MSG0001")


def mapped(*resources: Resource) -> Callable[[Delivery], Mapped]:
    return lambda _d: Mapped("hl7v2/adt", "1+test", resources)


def with_emr(test: Callable[[EmrSimulator], Awaitable[T]]) -> T:
    async def run() -> T:
        sim = EmrSimulator()
        await sim.start()
        try:
            return await test(sim)
        finally:
            await sim.stop()

    return asyncio.run(run())


async def send(url: str, to_mapped: Callable[[Delivery], Mapped], *times: int) -> list[Attempt]:
    dest = FhirDestination(url, token=None, timeout=5, source_system=SYSTEM, to_mapped=to_mapped)
    try:
        return [await dest.send(delivery(message_id)) for message_id in times]
    finally:
        await dest.close()


def one(sim: EmrSimulator, kind: str) -> dict[str, Any]:
    (found,) = sim.resources[kind].values()
    return found


def test_a_message_becomes_one_transaction_with_references_resolved_by_the_server() -> None:
    async def test(sim: EmrSimulator) -> None:
        (attempt,) = await send(sim.base_url, mapped(Resource("pid", "", PATIENT), Resource("pv1", "V1", ENCOUNTER)), 7)
        assert attempt.ok and attempt.response and b"transaction-response" in attempt.response
        patient, encounter = one(sim, "Patient"), one(sim, "Encounter")
        assert encounter["subject"]["reference"] == f"Patient/{patient['id']}"
        assert encounter["identifier"] == [{"system": f"urn:huitong:key:{SYSTEM}", "value": "V1"}]
        assert [r for r in sim.requests if r.startswith("POST")] == ["POST /fhir"]

    with_emr(test)


def test_a_replay_updates_what_the_first_send_created() -> None:
    async def test(sim: EmrSimulator) -> None:
        attempts = await send(sim.base_url, mapped(Resource("pid", "", PATIENT), Resource("pv1", "", ENCOUNTER)), 7, 7)
        assert all(a.ok for a in attempts)
        assert (sim.count("Patient"), sim.count("Encounter")) == (1, 1)
        assert one(sim, "Patient")["meta"]["versionId"] == one(sim, "Encounter")["meta"]["versionId"] == "2"

    with_emr(test)


def test_content_the_server_refuses_is_dead_with_its_diagnostics() -> None:
    async def test(sim: EmrSimulator) -> None:
        bad = {**PATIENT, "gender": "F"}
        (attempt,) = await send(sim.base_url, mapped(Resource("pid", "", bad)), 7)
        assert not attempt.ok and not attempt.retry
        assert attempt.error is not None and attempt.error.startswith("HTTP 422: Patient.gender:")
        assert sim.count("Patient") == 0

    with_emr(test)


def test_a_server_that_is_down_is_retried_and_holds_the_batch() -> None:
    url = f"http://127.0.0.1:{free_port()}/fhir"
    (attempt,) = asyncio.run(send(url, mapped(Resource("pid", "", PATIENT)), 7))
    assert not attempt.ok and attempt.retry and attempt.destination_down


def test_a_message_without_fhir_is_dead_with_the_reason() -> None:
    def nothing(_d: Delivery) -> Mapped:
        raise ValueError("no mapping for ADT^A01")

    (attempt,) = asyncio.run(send("http://127.0.0.1:9/fhir", nothing, 7))
    assert (
        not attempt.ok
        and not attempt.retry
        and attempt.error == "no FHIR resources for this message: no mapping for ADT^A01"
    )


# A ready transaction: a conditional PATCH (FHIRPath Patch) of an invented resident, found by resident ID.
PATCH_BUNDLE = (
    b'{"resourceType": "Bundle", "type": "transaction", "entry": [\n'
    b'  {"fullUrl": "urn:uuid:7f1c2d3e-0000-4000-8000-000000000001",\n'
    b'   "resource": {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [\n'
    b'     {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},\n'
    b'     {"name": "value", "valueCode": "female"}]}]},\n'
    b'   "request": {"method": "PATCH",\n'
    b'               "url": "Patient?identifier=urn:oid:2.16.156.10011.1.3|360426198503120025"}}\n'
    b"]}"
)


def refusing(_d: Delivery) -> Mapped:
    raise AssertionError("a ready transaction is not mapped")


def test_a_ready_transaction_bundle_is_posted_unchanged() -> None:
    async def test(server: Recorder) -> None:
        server.body = b'{"resourceType": "Bundle", "type": "transaction-response"}'
        dest = FhirDestination(server.url("/fhir"), token="t0k", timeout=5, source_system=SYSTEM, to_mapped=refusing)
        try:
            attempt = await dest.send(delivery(raw=PATCH_BUNDLE))
        finally:
            await dest.close()
        assert attempt.ok and attempt.response == server.body
        (request,) = server.received
        assert (request.method, request.path, request.body) == ("POST", "/fhir", PATCH_BUNDLE)
        assert request.headers["Content-Type"] == "application/fhir+json"
        assert request.headers["Authorization"] == "Bearer t0k"

    with_recorder(test)


def test_a_transaction_bundle_with_an_entry_without_a_request_is_mapped_as_before() -> None:
    no_request = (
        b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}}]}'
    )

    async def test(sim: EmrSimulator) -> None:
        dest = FhirDestination(
            sim.base_url, token=None, timeout=5, source_system=SYSTEM, to_mapped=mapped(Resource("pid", "", PATIENT))
        )
        try:
            attempt = await dest.send(delivery(raw=no_request))
        finally:
            await dest.close()
        assert attempt.ok and one(sim, "Patient")["gender"] == "female"

    with_emr(test)
