"""Bulk Data export (HL7 FHIR Bulk Data Access IG v2) and the Groups it exports, on the FHIR API's application.

Kick-off at system (``/fhir/$export``), all-patients (``/fhir/Patient/$export``) and Group level
(``/fhir/Group/<id>/$export``) makes a job row and answers 202 with the status URL; the daemon's exporter
(engine/api/bulk_exporter.py) writes the files. Only system tokens export, and only the types their scopes read; a
patient-bound token is refused (403). The status URL, ``DELETE`` on it and the files need a system token whose
scopes cover what they give, not the kick-off's token: SMART backend tokens live minutes, an export longer.

Each kick-off writes one audit row (action ``fhir.export``): who, which level or Group, which types, ``_since``.
Not one per resident: an export of the county would write a row per resident for one decision of one client,
and the job row says exactly what the files hold.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import Engine

from engine.api import stored
from engine.config import FhirApiSpec
from engine.domain import bulk_export
from engine.domain.access import Grant
from engine.domain.formats.fhir import operation_outcome
from engine.store import audit, bulk_exports, bulk_read
from engine.store.bulk_exports import Job
from engine.views import fhir_bulk

from .bulk_exporter import Exporter

FHIR_JSON = "application/fhir+json"
RETRY_AFTER = "2"  # seconds a client is asked to wait between polls


def _reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=FHIR_JSON, headers=headers)


def _refuse(status: int, code: str, text: str) -> web.Response:
    return _reply(status, operation_outcome("error", code, text))


def add_routes(app: web.Application, store: Engine, spec: FhirApiSpec, base_path: str) -> None:
    """$export at the three levels, the status URL (GET, DELETE), the files, Group search and read."""
    exporter = Exporter(store, spec.export_dir, spec.export_expires)
    app.cleanup_ctx.append(exporter.running)

    def base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{base_path}"

    async def run(job: Callable[[Any], Any], *, write: bool = False) -> Any:
        return await stored.in_thread(store, job, write=write)

    def system_grant(request: web.Request, kinds: tuple[str, ...]) -> Grant | web.Response:
        """The request's grant when it is a system token that reads every type of ``kinds``; else the refusal."""
        grant: Grant = request["grant"]
        if grant.patient is not None:
            return _refuse(403, "forbidden", "bulk data and Groups need a system token; this one is bound to a patient")
        outside = [k for k in kinds if not grant.may_read(k)]
        if outside:
            return _refuse(403, "forbidden", f"the token's scopes do not cover {', '.join(outside)}")
        return grant

    async def kick_off(request: web.Request, level: str, group_id: str | None) -> web.StreamResponse:
        grant = system_grant(request, ())
        if isinstance(grant, web.Response):
            return grant
        if "respond-async" not in request.headers.get("Prefer", ""):
            return _refuse(400, "invalid", "Prefer: respond-async is required: an export runs in the background")
        if FHIR_JSON not in request.headers.get("Accept", ""):
            return _refuse(400, "invalid", f"Accept: {FHIR_JSON} is required (the format of an OperationOutcome)")
        try:
            asked = bulk_export.kick_off(list(request.query.items()))
        except bulk_export.BadParameter as exc:
            return _refuse(400, "invalid", str(exc))
        if asked.types is not None:
            refused = system_grant(request, asked.types)
            if isinstance(refused, web.Response):
                return refused
        if group_id is not None and await run(lambda conn: fhir_bulk.team(conn, group_id)) is None:
            return _refuse(404, "not-found", f"Group/{group_id} is not a family-doctor team of the contract register")
        held = await run(bulk_read.held_types)
        types = tuple(t for t in (asked.types or held) if t in held and grant.may_read(t))
        job = Job(
            uuid.uuid4().hex,
            grant.token_id,
            level,
            group_id,
            str(request.url),
            types,
            asked.since,
            time.time(),
            "accepted",
        )
        detail = {
            "interaction": "export",
            "job": job.id,
            "level": level,
            "group": group_id,
            "types": list(types),
            "since": request.query.get("_since"),
            "token": grant.token_id,
        }

        def made(conn: Any) -> None:
            bulk_exports.create(conn, job)
            target = f"Group/{group_id}" if group_id else level
            audit.record(conn, "fhir.export", target, detail, actor=f"token:{grant.token_id}")

        await run(made, write=True)
        exporter.wake()
        status_url = f"{base(request)}/bulk-status/{job.id}"
        accepted = operation_outcome("information", "informational", f"export accepted; poll {status_url}")
        return _reply(202, accepted, {"Content-Location": status_url})

    async def system_export(request: web.Request) -> web.StreamResponse:
        return await kick_off(request, "system", None)

    async def patient_export(request: web.Request) -> web.StreamResponse:
        return await kick_off(request, "patient", None)

    async def group_export(request: web.Request) -> web.StreamResponse:
        return await kick_off(request, "group", request.match_info["id"])

    async def job_of(request: web.Request, kinds: Callable[[Job], tuple[str, ...]]) -> Job | web.Response:
        """The job of the URL, when the token reads ``kinds(job)``; else the refusal (404, 403)."""
        ident = request.match_info["job"]
        job = await run(lambda conn: bulk_exports.get(conn, ident)) if bulk_export.is_job_id(ident) else None
        if job is None:
            return _refuse(404, "not-found", "no such export job (finished ones expire, deleted ones are gone)")
        refused = system_grant(request, kinds(job))
        return refused if isinstance(refused, web.Response) else job

    def every_type(job: Job) -> tuple[str, ...]:
        return job.types

    async def status(request: web.Request) -> web.StreamResponse:
        job = await job_of(request, every_type)
        if isinstance(job, web.Response):
            return job
        if job.status in ("accepted", "running"):
            progress = job.progress or ("queued" if job.status == "accepted" else "starting")
            return web.Response(status=202, headers={"X-Progress": progress, "Retry-After": RETRY_AFTER})
        if job.status == "failed":
            return _refuse(500, "exception", job.error or "the export failed")
        headers = {"Expires": formatdate(job.expires_at, usegmt=True)} if job.expires_at else {}
        return web.Response(
            status=200,
            body=orjson.dumps(fhir_bulk.manifest(job, f"{base(request)}/bulk-files/{job.id}")),
            content_type="application/json",
            headers=headers,
        )

    async def cancel(request: web.Request) -> web.StreamResponse:
        job = await job_of(request, every_type)
        if isinstance(job, web.Response):
            return job
        await run(lambda conn: bulk_exports.remove(conn, job.id), write=True)
        await asyncio.to_thread(exporter.remove_files, job.id)  # a running job's exporter also removes what it writes
        return _reply(202, operation_outcome("information", "informational", "export job deleted"))

    async def download(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = bulk_export.file_type(name)
        job = await job_of(request, lambda _: (kind,) if kind else ())
        if isinstance(job, web.Response):
            return job
        listed = [o for o in job.output if o["name"] == name] if job.status == "completed" else []
        if not listed:
            return _refuse(404, "not-found", f"the export has no file {name}")
        path = exporter.folder(job.id) / name
        return web.FileResponse(path, headers={"Content-Type": bulk_export.NDJSON})

    async def group_search(request: web.Request) -> web.StreamResponse:
        grant = system_grant(request, ("Group",))
        if isinstance(grant, web.Response):
            return grant
        asked = [n for n in request.query if n not in ("_count", "_format")]
        if asked:
            return _refuse(400, "invalid", f"{asked[0]} is not a search parameter served for Group; none is")
        return _reply(200, fhir_bulk.searchset(base(request), await run(fhir_bulk.groups)))

    async def group_read(request: web.Request) -> web.StreamResponse:
        grant = system_grant(request, ("Group",))
        if isinstance(grant, web.Response):
            return grant
        ident = request.match_info["id"]
        team = await run(lambda conn: fhir_bulk.team(conn, ident))
        if team is None:
            return _refuse(404, "not-found", f"Group/{ident} is not in the record")
        detail = {
            "interaction": "read",
            "query": request.path_qs,
            "token": grant.token_id,
            "members": len(team.members),
        }
        actor = f"token:{grant.token_id}"
        await run(lambda conn: audit.record(conn, "fhir.group", f"Group/{ident}", detail, actor=actor), write=True)
        return _reply(200, fhir_bulk.group(team, members=True))

    ident = "{id:[A-Za-z0-9.-]{1,64}}"
    app.router.add_get(f"{base_path}/$export", system_export)
    app.router.add_get(f"{base_path}/Patient/$export", patient_export)
    app.router.add_get(f"{base_path}/Group/{ident}/$export", group_export)
    app.router.add_get(f"{base_path}/Group", group_search)
    app.router.add_get(f"{base_path}/Group/{ident}", group_read)
    app.router.add_get(f"{base_path}/bulk-status/{{job}}", status)
    app.router.add_delete(f"{base_path}/bulk-status/{{job}}", cancel)
    app.router.add_get(f"{base_path}/bulk-files/{{job}}/{{name}}", download)
