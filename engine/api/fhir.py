"""The FHIR R4 read API's listener: bearer tokens, routes, FHIR errors, and the store reads run off the event loop.

Every request but ``metadata`` needs a valid token (401 otherwise); a patient-bound token sees its patient only
(anything else is "not found", which does not tell whether it exists). Each read of a resident's data is audited
before its answer leaves (concurrent requests share the commit): the token, the patients whose resources were
answered, the query. No log line names a patient or holds a query string.

Every answer is FHIR JSON; every refusal an OperationOutcome with the right status (400, 404, 405), and a
failure of ours is logged and answered 503 (the store could not be read) rather than a bare 500.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiohttp import web
from sqlalchemy import Connection, Engine

from engine.api import stored
from engine.api.audit_batch import AuditBatch
from engine.config import FhirApiSpec
from engine.connectors.http import HttpListener
from engine.connectors.tls import server_context
from engine.domain.access import AUDIT_TYPE, Grant
from engine.domain.formats.fhir import operation_outcome
from engine.domain.mpi.matcher import PersonScore
from engine.domain.record.precedence import Rules
from engine.store import fhir_read, tokens
from engine.store.fhir_read import Stored
from engine.views import fhir, fhir_audit, fhir_match, fhir_patient, fhir_provenance, fhir_task
from engine.views.fhir_capability import capability_statement
from engine.views.fhir_openapi import openapi

from . import fhir_bulk

log = structlog.get_logger("huitong.fhir_api")
FHIR_JSON = "application/fhir+json"
BASE_PATH = "/fhir"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=FHIR_JSON)


def refuse(status: int, code: str, text: str) -> web.Response:
    return reply(status, operation_outcome("error", code, text))


@dataclass(frozen=True, slots=True)
class People:
    """What the daemon lends the API for the enterprise Patient and $match, asked at each request so that a
    reloaded configuration counts: the record's precedence rules, and the MPI's search (huitong mpi search)."""

    precedence: Callable[[], Mapping[str, Rules]]
    match: Callable[[Connection, dict[str, Any], int], list[PersonScore]]


class _Forbidden(Exception):
    """The token is valid but its scopes do not reach this type (403)."""


@web.middleware
async def _fhir_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except fhir.BadRequest as exc:
        return refuse(400, "invalid", str(exc))
    except _Forbidden as exc:
        return refuse(403, "forbidden", str(exc))
    except web.HTTPNotFound:
        return refuse(404, "not-found", "no such FHIR endpoint here; see /fhir/metadata")
    except web.HTTPMethodNotAllowed:
        allowed = "GET (and POST Patient/$match, DELETE a bulk export's status)"
        return refuse(405, "not-supported", f"this server reads: {allowed}")
    except web.HTTPException as exc:
        return refuse(exc.status, "processing", exc.reason)
    except Exception:
        log.exception("fhir api request failed", path=request.path)  # the path holds ids only, never content
        return refuse(503, "transient", "the record could not be read; try again")


def application(store: Engine, spec: FhirApiSpec, people: People) -> web.Application:
    """GET metadata, search, read, history and vread under /fhir; the enterprise Patient, $everything, $match and
    Provenance."""

    def base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{BASE_PATH}"

    async def run(job: Callable[[Any], Any], *, write: bool = False) -> Any:
        return await stored.in_thread(store, job, write=write)

    def served(request: web.Request, kind: str) -> Grant:
        if kind not in fhir.TYPES and kind != "Task":
            raise web.HTTPNotFound
        grant: Grant = request["grant"]
        if not grant.may_read(kind):
            raise _Forbidden(f"the token's scopes do not cover {kind}")
        return grant

    def visible(grant: Grant, found: list[Stored]) -> list[Stored]:
        """What the grant may see: a patient-bound token its patient's resources only."""
        return [s for s in found if grant.patient in (None, s.person_id)]

    async def audited(request: web.Request, interaction: str, found: list[Stored]) -> None:
        await audited_persons(request, interaction, {s.person_id for s in found})

    async def audited_persons(request: web.Request, interaction: str, persons: Iterable[str]) -> None:
        """One audit row per patient whose data is answered, committed before the answer leaves (in a transaction
        shared with the requests answered at the same time: on SQLite a read transaction cannot take the write lock
        while the daemon writes, and one commit per request queued every reader behind the lock)."""
        grant: Grant = request["grant"]
        detail = {"interaction": interaction, "query": request.path_qs, "token": grant.token_id}
        answered = sorted(set(persons))
        if answered:
            await audits.record([("fhir.read", person, detail, grant.actor) for person in answered])

    audits = AuditBatch(store)

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in (f"{BASE_PATH}/metadata", f"{BASE_PATH}/openapi.json"):  # what is served, to anyone
            return await handler(request)
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        token = None
        if scheme.lower() == "bearer" and secret.strip():
            token = await run(lambda conn: tokens.valid(conn, secret.strip(), time.time()))
        if token is None:
            answer = refuse(401, "login", "a valid bearer token is required (huitong tokens create)")
            answer.headers["WWW-Authenticate"] = "Bearer"
            return answer
        request["grant"] = Grant(token.id, token.scopes, token.patient, token.user)
        return await handler(request)

    async def metadata(request: web.Request) -> web.Response:
        return reply(200, capability_statement(base(request)))

    async def openapi_description(request: web.Request) -> web.Response:
        described = openapi(capability_statement(base(request)), spec.max_count)
        return web.Response(body=orjson.dumps(described), content_type="application/json")

    async def search(request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        grant = served(request, kind)
        query = list(request.query.items())
        bundle, page = await run(
            lambda conn: fhir.search(
                conn,
                base(request),
                kind,
                query,
                spec.max_count,
                grant.patient,
                lambda c, ident: fhir_patient.enterprise(c, ident, people.precedence()),
            )
        )
        await audited(request, "search", page)
        return reply(200, bundle)

    async def read(request: web.Request) -> web.Response:
        kind, ident = request.match_info["type"], request.match_info["id"]
        grant = served(request, kind)
        found = visible(grant, [s for s in [await run(lambda conn: fhir_read.current(conn, kind, ident))] if s])
        if not found:
            return refuse(404, "not-found", f"{kind}/{ident} is not in the record")
        await audited(request, "read", found)
        return reply(200, fhir.resource(found[0]))

    async def history(request: web.Request) -> web.Response:
        kind, ident = request.match_info["type"], request.match_info["id"]
        grant = served(request, kind)
        versions = visible(grant, await run(lambda conn: fhir_read.history(conn, kind, ident)))
        if not versions:
            return refuse(404, "not-found", f"{kind}/{ident} is not in the record")
        await audited(request, "history", versions)
        return reply(200, fhir.history_bundle(base(request), versions))

    async def vread(request: web.Request) -> web.Response:
        kind, ident, vid = request.match_info["type"], request.match_info["id"], request.match_info["vid"]
        grant = served(request, kind)
        version = int(vid) if vid.isascii() and vid.isdigit() and len(vid) < 10 else None
        found = [] if version is None else await run(lambda conn: fhir_read.history(conn, kind, ident, version))
        found = visible(grant, found)
        if not found:
            return refuse(404, "not-found", f"{kind}/{ident} has no version {vid}")
        await audited(request, "vread", found)
        return reply(200, fhir.resource(found[0]))

    # --- the enterprise Patient, $everything, $match (views/fhir_patient.py, views/fhir_match.py) ---

    async def patient_read(request: web.Request) -> web.StreamResponse:
        """A source's Patient resource as any resource; else the person the id names (references carry it)."""
        ident = request.match_info["id"]
        if await run(lambda conn: fhir_read.current(conn, "Patient", ident)) is not None:
            return await read(request)
        grant = served(request, "Patient")
        found = await run(lambda conn: fhir_patient.enterprise(conn, ident, people.precedence()))
        if found is None or grant.patient not in (None, found[0]):
            return refuse(404, "not-found", f"Patient/{ident} is not in the record")
        await audited_persons(request, "read", [found[0]])
        return reply(200, found[1])

    async def patient_history(request: web.Request) -> web.StreamResponse:
        ident = request.match_info["id"]
        grant = served(request, "Patient")
        if await run(lambda conn: fhir_read.current(conn, "Patient", ident)) is not None:
            return await history(request)
        survivor = await run(lambda conn: fhir.person(conn, ident))
        if survivor is None or grant.patient not in (None, survivor):
            return refuse(404, "not-found", f"Patient/{ident} is not in the record")
        text = f"Patient/{ident} is the enterprise patient, made on read: its sources' histories are its Patient.link"
        return refuse(404, "not-found", text)

    async def everything(request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        grant = served(request, "Patient")
        query = list(request.query.items())

        def job(conn: Connection) -> tuple[str, dict[str, Any]] | None:
            person = fhir.person(conn, ident)
            if person is None or grant.patient not in (None, person):
                return None
            return person, fhir_patient.everything(
                conn, base(request), person, query, spec.max_count, people.precedence(), grant.may_read
            )

        answer = await run(job)
        if answer is None:
            return refuse(404, "not-found", f"Patient/{ident} is not in the record")
        person, bundle = answer
        await audited_persons(request, "everything", [person] if bundle["entry"] else [])
        return reply(200, bundle)

    async def match(request: web.Request) -> web.Response:
        grant = served(request, "Patient")
        if grant.patient is not None:
            raise _Forbidden("Patient/$match searches every resident: it needs a system scope")
        asked = fhir_match.request(await request.read(), spec.max_count)

        def job(conn: Connection) -> dict[str, Any]:
            scores = people.match(conn, asked.row, asked.count)
            return fhir_match.bundle(conn, base(request), scores, asked, people.precedence())

        bundle = await run(job)
        await audited_persons(request, "match", [e["resource"]["id"] for e in bundle["entry"]])
        return reply(200, bundle)

    # --- care tasks (views/fhir_task.py) ---

    async def task_search(request: web.Request) -> web.Response:
        grant = served(request, "Task")
        query = list(request.query.items())
        bundle, page = await run(
            lambda conn: fhir_task.search(conn, base(request), query, spec.max_count, grant.patient)
        )
        await audited_persons(request, "search", [s.person_id for s in page])
        return reply(200, bundle)

    async def task_read(request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        grant = served(request, "Task")
        found = await run(lambda conn: fhir_task.read(conn, ident))
        if found is None or grant.patient not in (None, found.person_id):
            return refuse(404, "not-found", f"Task/{ident} is not in the worklist")
        await audited_persons(request, "read", [found.person_id])
        return reply(200, fhir_task.resource(found))

    # --- Provenance (views/fhir_provenance.py) ---

    async def provenance_read(request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        grant = served_provenance(request)
        origin = await run(lambda conn: fhir_provenance.read(conn, ident))
        if origin is None or not grant.may_read(origin.type) or grant.patient not in (None, origin.person_id):
            return refuse(404, "not-found", f"Provenance/{ident} is not in the record")
        await audited_persons(request, "read", [origin.person_id])
        return reply(200, fhir_provenance.provenance(origin))

    async def provenance_search(request: web.Request) -> web.Response:
        grant = served_provenance(request)
        query = list(request.query.items())
        found, kind = await run(lambda conn: fhir_provenance.search(conn, base(request), query))
        if not grant.may_read(kind):
            raise _Forbidden(f"the token's scopes do not cover {kind}")
        found = [o for o in found if grant.patient in (None, o.person_id)]
        await audited_persons(request, "search", [o.person_id for o in found])
        return reply(200, fhir_provenance.bundle(base(request), found))

    def served_provenance(request: web.Request) -> Grant:
        grant: Grant = request["grant"]
        if not grant.may_read("Provenance"):
            raise _Forbidden("the token's scopes do not cover Provenance")
        return grant

    def auditor(request: web.Request) -> Grant:
        """Reading the trail needs AuditEvent named in the scopes; reading it is not itself audited."""
        grant: Grant = request["grant"]
        if not grant.may_read(AUDIT_TYPE):
            raise _Forbidden(f"the token's scopes do not cover {AUDIT_TYPE} ({grant.context}/{AUDIT_TYPE}.read)")
        return grant

    async def audit_search(request: web.Request) -> web.Response:
        grant, query = auditor(request), list(request.query.items())
        return reply(
            200, await run(lambda conn: fhir_audit.search(conn, base(request), query, spec.max_count, grant.patient))
        )

    async def audit_read(request: web.Request) -> web.Response:
        grant, ident = auditor(request), request.match_info["id"]
        found = await run(lambda conn: fhir_audit.read(conn, ident, grant.patient))
        return reply(200, found) if found else refuse(404, "not-found", f"{AUDIT_TYPE}/{ident} is not in the trail")

    app = web.Application(middlewares=[_fhir_errors, authenticated])
    app.router.add_get(f"{BASE_PATH}/{AUDIT_TYPE}", audit_search)  # before the record's types: not one of them
    app.router.add_get(f"{BASE_PATH}/{AUDIT_TYPE}/{{id:[0-9]{{1,18}}}}", audit_read)
    kind, ident = "{type:[A-Z][A-Za-z]{1,63}}", "{id:[A-Za-z0-9.-]{1,64}}"
    app.router.add_get(f"{BASE_PATH}/metadata", metadata)
    app.router.add_post(f"{BASE_PATH}/Patient/$match", match)
    patient = "{type:Patient}"  # the generic read and history answer a source's Patient
    app.router.add_get(f"{BASE_PATH}/{patient}/{ident}", patient_read)
    app.router.add_get(f"{BASE_PATH}/{patient}/{ident}/_history", patient_history)
    app.router.add_get(f"{BASE_PATH}/{patient}/{ident}/$everything", everything)
    app.router.add_get(f"{BASE_PATH}/Task", task_search)
    app.router.add_get(f"{BASE_PATH}/Task/{ident}", task_read)
    app.router.add_get(f"{BASE_PATH}/Provenance", provenance_search)
    app.router.add_get(f"{BASE_PATH}/Provenance/{ident}", provenance_read)
    fhir_bulk.add_routes(app, store, spec, BASE_PATH)  # Bulk Data $export and Groups (docs/fhir-api.md)
    app.router.add_get(f"{BASE_PATH}/openapi.json", openapi_description)
    app.router.add_get(f"{BASE_PATH}/{kind}", search)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}", read)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}/_history", history)
    app.router.add_get(f"{BASE_PATH}/{kind}/{ident}/_history/{{vid}}", vread)
    return app


def listener(store: Engine, spec: FhirApiSpec, people: People) -> HttpListener:
    context = server_context(spec.tls) if spec.tls is not None else None
    return HttpListener(application(store, spec, people), spec.listen.host, spec.listen.port, ssl_context=context)
