"""An EMR stand-in: a small FHIR R4 server kept in memory, for trying channels and for the tests.

    python samples/emr_simulator.py --port 8090 [--token T] [--load Patient.ndjson]

It supports what Huitong uses: search by type sorted by _lastUpdated (then id) with gt/ge/lt/le filters, one or
two of them (a range: `_lastUpdated=ge2026-01-01&_lastUpdated=lt2026-07-01`; a time without a zone is UTC, a date
its first instant), paging (_count, next links) and identifier; read by id; create (POST /fhir/{Type}); and
transaction Bundles of conditional updates (PUT {Type}?identifier=system|value), where a match is updated
(versionId + 1) and no match is created, and conditional FHIRPath Patches (PATCH {Type}?identifier=..., `add`
and `delete`), where no match is a 404. Every write stamps meta.lastUpdated with a time later than any before it,
so a _lastUpdated watermark never skips; `put(..., at=...)` loads history with the time it was last updated.
`fail = N` answers the next N requests with 500 (a server in trouble), after `fail_after` more answered as usual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import itertools
import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from aiohttp import web

FHIR_JSON = "application/fhir+json"
GENDERS = {"male", "female", "other", "unknown"}


COMPARE = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _when(text: str) -> datetime:
    """A FHIR instant, dateTime or date (2026, 2026-01 too) as a point in time: a date its first, no zone UTC."""
    at = datetime.fromisoformat({4: f"{text}-01-01", 7: f"{text}-01"}.get(len(text), text).replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class Refused(Exception):
    def __init__(self, status: int, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status


def outcome(diagnostics: str, severity: str = "error", code: str = "invalid") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _split_token(token: str) -> tuple[str | None, str]:
    """`system|value` (FHIR search escaping honoured); no `|` means any system."""
    parts = re.split(r"(?<!\\)\|", token, maxsplit=1)
    if len(parts) == 1:
        return None, _unescape(parts[0])
    return _unescape(parts[0]), _unescape(parts[1])


def check(resource: dict[str, Any]) -> None:
    """The little validation a real server would also do; a 422 names the field."""
    kind = resource.get("resourceType")
    if kind == "Patient" and "gender" in resource and resource["gender"] not in GENDERS:
        raise Refused(422, f"Patient.gender: '{resource['gender']}' is not one of {', '.join(sorted(GENDERS))}")
    if "birthDate" in resource and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", str(resource["birthDate"])):
        raise Refused(422, f"{kind}.birthDate: not a FHIR date")


class EmrSimulator:
    """The server; `await start()` binds it (port 0 picks a free one), `await stop()` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[str] = []  # "METHOD path?query", in order
        self.delay = 0.0  # seconds every request waits first (a slow server)
        self.fail = 0  # this many requests are answered 500 ...
        self.fail_after = 0  # ... once this many more have been answered as usual
        self.transactions = 0  # transaction Bundles received
        self.accepted = 0  # of them, answered 200
        self.unchanged = 0  # conditional writes that left a resource's content as it was
        self.duplicates = 0  # accepted transactions in which every write was unchanged: a push received again
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # -- store -----------------------------------------------------------------------------------------------
    def _stamp(self) -> str:
        now = max(datetime.now(UTC), self._clock + timedelta(milliseconds=1))
        self._clock = now
        return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def put(
        self, resource: dict[str, Any], *, id_: str | None = None, at: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Store a resource (new version if its id exists), last updated now or `at` (history, e.g.
        '2026-03-01T08:00:00.000Z'); returns it and whether it was created."""
        check(resource)
        kind = resource["resourceType"]
        id_ = id_ or resource.get("id") or f"{next(self._ids)}"
        store = self.resources.setdefault(kind, {})
        old = store.get(id_)
        version = int(old["meta"]["versionId"]) + 1 if old else 1
        stored = {**resource, "id": id_}
        if at is not None:
            self._clock = max(self._clock, _when(at))  # later writes stay later than it
        stamp = at if at is not None else self._stamp()
        stored["meta"] = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": stamp}
        store[id_] = stored
        return stored, old is None

    def load(self, lines: Iterable[str]) -> int:
        """Preload resources, one JSON resource per line (NDJSON); returns how many."""
        count = 0
        for line in lines:
            if line.strip():
                self.put(json.loads(line))
                count += 1
        return count

    def stats(self) -> dict[str, int]:
        return {
            "transactions": self.transactions,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
        }

    def count(self, kind: str) -> int:
        return len(self.resources.get(kind, {}))

    def find(self, kind: str, token: str) -> list[dict[str, Any]]:
        system, value = _split_token(token)
        return [
            r
            for r in self.resources.get(kind, {}).values()
            if any(
                i.get("value") == value and (system is None or i.get("system", "") == system)
                for i in r.get("identifier", [])
            )
        ]

    # -- HTTP ------------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 << 20)
        app.router.add_get("/fhir/{type}", self._search)
        app.router.add_get("/fhir/{type}/{id}", self._read)
        app.router.add_post("/fhir", self._transaction)
        app.router.add_post("/fhir/{type}", self._create)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path_qs}")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_after:
            self.fail_after -= 1
        elif self.fail:
            self.fail -= 1
            return _json(500, outcome("the server is in trouble", code="exception"))
        if self.token is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), f"Bearer {self.token}".encode()
        ):
            return _json(401, outcome("a valid bearer token is required", code="login"))
        try:
            return await handler(request)
        except Refused as exc:
            return _json(exc.status, outcome(str(exc)))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise Refused(400, f"invalid JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise Refused(400, "resourceType: missing")
        return body

    async def _search(self, request: web.Request) -> web.Response:
        kind, q = request.match_info["type"], request.query
        found = sorted(
            self.resources.get(kind, {}).values(), key=lambda r: (_when(r["meta"]["lastUpdated"]), r["id"])
        )
        for value in q.getall("_lastUpdated", []):
            prefix, stamp = value[:2], value[2:]
            if prefix not in COMPARE:
                raise Refused(400, f"_lastUpdated: only {', '.join(COMPARE)} are supported")
            try:
                at = _when(stamp)
            except ValueError:
                raise Refused(400, f"_lastUpdated: {stamp!r} is not a FHIR date or time") from None
            found = [r for r in found if COMPARE[prefix](_when(r["meta"]["lastUpdated"]), at)]
        if "identifier" in q:
            matching = {id(r) for r in self.find(kind, q["identifier"])}
            found = [r for r in found if id(r) in matching]
        count, offset = int(q.get("_count", "50")), int(q.get("_offset", "0"))
        page = found[offset : offset + count]
        base = f"{request.scheme}://{request.host}{request.path}"
        params = [(k, v) for k, v in q.items() if k != "_offset"]  # a repeated one (a range) kept as it came
        links = [{"relation": "self", "url": f"{base}?{urlencode([*params, ('_offset', offset)])}"}]
        if offset + count < len(found):
            links.append({"relation": "next", "url": f"{base}?{urlencode([*params, ('_offset', offset + count)])}"})
        return _json(
            200,
            {
                "resourceType": "Bundle",
                "id": str(uuid.uuid4()),
                "type": "searchset",
                "total": len(found),
                "link": links,
                "entry": [{"fullUrl": f"{base}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in page],
            },
        )

    async def _read(self, request: web.Request) -> web.Response:
        found = self.resources.get(request.match_info["type"], {}).get(request.match_info["id"])
        if found is None:
            return _json(404, outcome("not found", code="not-found"))
        return _json(200, found)

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body["resourceType"] != request.match_info["type"]:
            raise Refused(400, "resourceType does not match the URL")
        stored, _ = self.put({k: v for k, v in body.items() if k != "id"})
        return _json(201, stored)

    async def _transaction(self, request: web.Request) -> web.Response:
        bundle = await self._body(request)
        if bundle["resourceType"] != "Bundle" or bundle.get("type") != "transaction":
            raise Refused(400, "POST to the base takes a transaction Bundle")
        self.transactions += 1
        entries = bundle.get("entry", [])
        # Resolve every entry to its target id first, so full URLs can be rewritten before anything is stored and a
        # PATCH that finds nothing fails the whole transaction.
        plan: list[tuple[dict[str, Any], str]] = []
        planned: dict[tuple[str, str], dict[str, Any]] = {}  # what each target will hold, for a later PATCH
        ids: dict[str, str] = {}
        for i, entry in enumerate(entries):
            resource, req = entry.get("resource"), entry.get("request", {})
            if not isinstance(resource, dict) or "resourceType" not in resource:
                raise Refused(400, f"entry[{i}].resource: missing resourceType")
            check(resource)
            kind, url = resource["resourceType"], unquote(str(req.get("url", "")))
            path, _, query = url.partition("?")
            if req.get("method") == "PATCH":
                kind = path.rpartition("/")[2]
                found = self._match(i, kind, query)
                if found is None:
                    raise Refused(404, f"entry[{i}]: no {kind} matches {query}")
                target = found
                base = planned.get((kind, target)) or self.resources[kind][target]
                resource = patch(base, resource, f"entry[{i}]")
            elif req.get("method") == "PUT" and query:
                target = self._match(i, kind, query) or str(next(self._ids))
            elif req.get("method") == "PUT":
                target = path.rpartition("/")[2]
            elif req.get("method") == "POST":
                target = str(next(self._ids))
            else:
                raise Refused(400, f"entry[{i}].request.method: only PUT, PATCH and POST are supported")
            plan.append((resource, target))
            planned[(kind, target)] = resource
            if entry.get("fullUrl"):
                ids[entry["fullUrl"]] = f"{kind}/{target}"
        responses = []
        unchanged = 0
        for resource, target in plan:
            new = _rewrite(resource, ids)
            old = self.resources.get(new["resourceType"], {}).get(target)
            unchanged += old is not None and _content(old) == _content(new)
            stored, created = self.put(new, id_=target)
            responses.append(
                {
                    "response": {
                        "status": "201 Created" if created else "200 OK",
                        "location": f"{stored['resourceType']}/{target}/_history/{stored['meta']['versionId']}",
                        "etag": f'W/"{stored["meta"]["versionId"]}"',
                        "lastModified": stored["meta"]["lastUpdated"],
                    }
                }
            )
        self.accepted += 1
        self.unchanged += unchanged
        self.duplicates += bool(plan) and unchanged == len(plan)
        return _json(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": responses})

    def _match(self, i: int, kind: str, query: str) -> str | None:
        """The id of the one resource a conditional URL's identifier names (None: none); 412 for several."""
        token = parse_qs(query).get("identifier", [""])[0]
        matches = self.find(kind, token)
        if len(matches) > 1:
            raise Refused(412, f"entry[{i}]: {len(matches)} {kind} resources match {query}")
        return matches[0]["id"] if matches else None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/fhir"


def patch(current: dict[str, Any], parameters: dict[str, Any], where: str) -> dict[str, Any]:
    """Apply a FHIRPath Patch (a Parameters of `operation`s) to a copy of `current`.

    Supported are what the contract push sends: `delete` of a top-level element (`Patient.generalPractitioner`; no
    error when it is absent) and `add` of a value to a repeating top-level element (path `Patient`, name
    `generalPractitioner`, value[x]).
    """
    if parameters.get("resourceType") != "Parameters":
        raise Refused(400, f"{where}.resource: a PATCH takes a FHIRPath Patch Parameters resource")
    kind = current["resourceType"]
    out = json.loads(json.dumps(current))
    for n, op in enumerate(p for p in parameters.get("parameter", []) if p.get("name") == "operation"):
        parts = {p.get("name"): p for p in op.get("part", [])}
        type_ = parts.get("type", {}).get("valueCode")
        path = parts.get("path", {}).get("valueString", "")
        if type_ == "delete" and re.fullmatch(rf"{kind}\.[a-zA-Z]+", path):
            out.pop(path.partition(".")[2], None)
        elif type_ == "add" and path == kind and parts.get("name", {}).get("valueString"):
            value = next((v for k, v in parts.get("value", {}).items() if k.startswith("value")), None)
            if value is None:
                raise Refused(400, f"{where}: operation {n + 1} (add) has no value")
            out.setdefault(parts["name"]["valueString"], []).append(value)
        else:
            raise Refused(400, f"{where}: operation {n + 1} ({type_} {path}) is not supported")
    return out


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without its id and meta: what a duplicate write leaves as it was."""
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, ids) for k, v in value.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in ids:
            out["reference"] = ids[out["reference"]]
        return out
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False), content_type=FHIR_JSON)


async def _serve(args: argparse.Namespace) -> None:
    sim = EmrSimulator(args.host, args.port, token=args.token)
    for path in args.load:
        loaded = sim.load(Path(path).read_text(encoding="utf-8").splitlines())
        print(f"loaded {loaded} resources from {path}", flush=True)
    await sim.start()
    print(f"EMR simulator: FHIR R4 at {sim.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", help="bearer token clients must send")
    parser.add_argument("--load", action="append", default=[], metavar="FILE", help="NDJSON file to preload")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
