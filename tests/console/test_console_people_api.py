"""The management API's people areas (/api/v1: MPI, record, tasks, indicators, audit) over a real socket, on the
county data of people_server.py: the roles each operation needs, the audit of every read of a resident and of every
change, paging and refusals as JSON.

The users come from an ``X-Test-Roles`` header read by a middleware of this test, standing in for the console's
login (issue 20's auth slice) so that each role can be tried; the parts and the store are the daemon's own.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from engine.api import console
from engine.config import load_config
from engine.domain.roles import Role, User
from engine.runtime import console_people
from engine.runtime.wiring import resolver_of
from engine.store.database import open_engine
from tests.console.people_server import WANG_ID, call, county_console
from tests.support.daemon import free_port

Handler = Any


@web.middleware
async def roles_from_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("X-Test-Roles")
    if header is not None:
        request["user"] = User("tester", frozenset(Role(r) for r in header.split(",") if r))
    return await handler(request)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[str]:
    """The county daemon fills the store (and stays up); the people parts serve it here with users by role."""
    root = tmp_path_factory.mktemp("console-people-api")
    with county_console(root, module_store_url, log_dir / f"console-people-api-{root.name}.jsonl") as daemon:
        config = load_config(daemon.config).config
        assert config is not None
        store, resolver, port = open_engine(config.store), resolver_of(config), free_port()
        app = console.application(
            console_people.parts(store, lambda: config, lambda: resolver), [roles_from_header]
        )
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            store.dispose()


def as_(roles: str) -> dict[str, str]:
    return {"X-Test-Roles": roles}


def open_review(api: str) -> dict[str, Any]:
    status, reviews = call(f"{api}/api/v1/mpi/reviews", headers=as_("clinical"))
    assert status == 200 and reviews, reviews
    return dict(reviews[0])


def operations(api: str) -> list[tuple[str, str]]:
    status, document = call(f"{api}/api/v1/openapi.json", headers=as_("viewer"))
    assert status == 200 and document["openapi"].startswith("3.1")
    base = document["servers"][0]["url"]  # /api/v1: the paths are written under it
    return [(method.upper(), base + path) for path, item in document["paths"].items() for method in item]


def test_the_openapi_document_lists_every_people_operation(api: str) -> None:
    listed = set(operations(api))
    assert {("GET", "/api/v1/mpi/reviews"), ("POST", "/api/v1/mpi/reviews/{id}/accept"),
            ("GET", "/api/v1/persons/{person}/record"), ("GET", "/api/v1/tasks"),
            ("GET", "/api/v1/indicators"), ("GET", "/api/v1/audit"), ("POST", "/api/v1/mpi/merge")} <= listed


def test_every_operation_refuses_a_call_without_a_user(api: str) -> None:
    for method, path in operations(api):
        url = api + path.replace("{id}", "1").replace("{person}", WANG_ID)
        status, body = call(url, {} if method == "POST" else None)
        assert (status, method, path) == (401, method, path) and body["error"]


@pytest.mark.parametrize(
    ("roles", "path"),
    [
        ("viewer", f"/api/v1/persons/{WANG_ID}/record"),
        ("operator", "/api/v1/mpi/reviews"),
        ("operator", "/api/v1/tasks"),
        ("clinical", "/api/v1/audit"),
        ("operator", "/api/v1/audit"),
    ],
)
def test_a_role_that_does_not_reach_the_data_is_refused_403(api: str, roles: str, path: str) -> None:
    status, body = call(api + path, headers=as_(roles))
    assert status == 403 and "role" in body["error"]


@pytest.mark.parametrize("roles", ["operator", "clinical"])
def test_accepting_a_review_needs_operator_and_clinical_both(api: str, roles: str) -> None:
    review = open_review(api)
    status, body = call(f"{api}/api/v1/mpi/reviews/{review['id']}/accept", {"reason": "x"}, as_(roles))
    assert status == 403, body
    assert open_review(api)["id"] == review["id"]  # still open


def test_a_viewer_reads_the_indicators_of_a_quarter(api: str) -> None:
    status, table = call(f"{api}/api/v1/indicators?period=2026Q3&org=339901101", headers=as_("viewer"))
    assert status == 200 and table["period"]["label"] == "2026Q3"
    assert {r["org"] for r in table["rows"]} == {"339901101", "339901101201", "339901101202"}


def test_reading_a_residents_record_is_audited_with_the_user_and_the_person(api: str) -> None:
    status, record = call(f"{api}/api/v1/persons/{WANG_ID}/record", headers=as_("clinical"))
    assert status == 200 and "SC2026010101" in {c["contract"] for c in record["contracts"]}
    _, trail = call(f"{api}/api/v1/audit?action=console.read&patient={WANG_ID}&limit=1", headers=as_("admin"))
    [row] = trail["rows"]
    assert (row["actor"], row["target"], row["detail"]["view"]) == ("user:tester", record["person"], "record")


def test_a_review_shows_its_waterfall_and_the_view_is_audited(api: str) -> None:
    review = open_review(api)
    status, detail = call(f"{api}/api/v1/mpi/reviews/{review['id']}", headers=as_("clinical"))
    assert status == 200 and detail["explanation"]["rule"] == "same resident ID, conflicting demographics"
    e = detail["explanation"]
    total = e["prior_weight"] + sum(c["weight"] + c["tf_adjustment"] for c in e["contributions"])
    assert abs(total - e["weight"]) < 1e-9
    _, trail = call(f"{api}/api/v1/audit?action=console.read&limit=2", headers=as_("admin"))
    assert {r["target"] for r in trail["rows"]} == {detail["record"]["person"], detail["candidate"]["person"]}


def test_a_merge_and_its_unmerge_are_audited_with_the_user_before_and_after(api: str) -> None:
    review = open_review(api)
    _, detail = call(f"{api}/api/v1/mpi/reviews/{review['id']}", headers=as_("clinical"))
    kept, gone = detail["candidate"]["person"], detail["record"]["person"]
    body = {"surviving": kept, "retired": gone, "reason": "checked at the desk"}
    status, merged = call(f"{api}/api/v1/mpi/merge", body, as_("operator,clinical"))
    assert status == 200 and (merged["surviving"], merged["retired"]) == (kept, gone)
    status, undone = call(f"{api}/api/v1/mpi/merges/{merged['merge']}/unmerge", {"reason": "wrong"}, as_("admin"))
    assert status == 200 and undone["retired"] == gone
    _, trail = call(f"{api}/api/v1/audit?action=mpi.merge&action=mpi.unmerge", headers=as_("admin"))
    rows = {r["action"]: r for r in trail["rows"] if r["actor"] == "user:tester"}
    assert rows["mpi.merge"]["detail"]["why"] == "checked at the desk"
    assert {"before", "after"} <= rows["mpi.merge"]["detail"].keys() and "mpi.unmerge" in rows


def test_the_audit_trail_pages_newest_first(api: str) -> None:
    _, first = call(f"{api}/api/v1/audit?limit=2", headers=as_("admin"))
    _, second = call(f"{api}/api/v1/audit?limit=2&offset=2", headers=as_("admin"))
    assert first["total"] >= 4 and len(first["rows"]) == len(second["rows"]) == 2
    ids = [r["id"] for r in first["rows"] + second["rows"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/v1/audit?limit=0", "limit"),
        ("/api/v1/audit?since=yesterday", "since"),
        ("/api/v1/tasks?state=SOON", "state"),
        ("/api/v1/indicators?period=2026Q5", "period"),
        ("/api/v1/indicators?period=2026Q3&team=nobody", "nobody"),
        ("/api/v1/mpi/reviews?status=maybe", "status"),
    ],
)
def test_a_bad_parameter_is_refused_400_naming_it(api: str, path: str, named: str) -> None:
    status, body = call(api + path, headers=as_("admin"))
    assert status == 400 and named in body["error"]


def test_an_unknown_resident_is_404_and_an_mpi_change_that_cannot_be_done_409(api: str) -> None:
    status, body = call(f"{api}/api/v1/persons/360426190001010000/record", headers=as_("clinical"))
    assert status == 404 and "360426190001010000" in body["error"]
    status, body = call(f"{api}/api/v1/mpi/merges/999999/unmerge", {"reason": "x"}, as_("admin"))
    assert status == 409 and "999999" in body["error"]


def page(api: str, path: str, roles: str | None = None) -> tuple[int, str, str]:
    """GET a console page without following a redirect: the status, the Location header and the HTML."""
    connection = http.client.HTTPConnection(urlsplit(api).netloc, timeout=30)
    try:
        connection.request("GET", path, headers=as_(roles) if roles is not None else {})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Location", ""), answer.read().decode()
    finally:
        connection.close()


def test_a_people_page_without_a_user_sends_the_browser_to_the_login_page(api: str) -> None:
    status, location, _ = page(api, "/ui/audit?actor=x")
    assert status == 303 and parse_qs(urlsplit(location).query)["next"] == ["/ui/audit?actor=x"]


def test_a_people_page_the_role_does_not_reach_is_a_403_page_naming_the_role(api: str) -> None:
    status, _, html = page(api, "/ui/audit", "clinical")
    assert status == 403 and "admin" in html and 'class="refused"' in html


def test_an_unknown_resident_is_a_404_page_with_the_reason_the_api_gives(api: str) -> None:
    status, _, html = page(api, "/ui/residents/360426190001010000", "clinical")
    _, body = call(f"{api}/api/v1/persons/360426190001010000/record", headers=as_("clinical"))
    assert status == 404 and body["error"] in html


@pytest.mark.parametrize(
    ("roles", "shown", "hidden"),
    [
        ("viewer", ["/ui/", "/ui/messages", "/ui/indicators"], ["/ui/mpi/reviews", "/ui/residents", "/ui/audit"]),
        ("clinical", ["/ui/", "/ui/mpi/reviews", "/ui/residents", "/ui/indicators"], ["/ui/audit"]),
        ("admin", ["/ui/", "/ui/messages", "/ui/mpi/reviews", "/ui/residents", "/ui/indicators", "/ui/audit"], []),
    ],
)
def test_the_navigation_shows_the_pages_of_both_halves_the_roles_reach(
    api: str, roles: str, shown: list[str], hidden: list[str]
) -> None:
    status, _, html = page(api, "/ui/indicators?period=2026Q3", roles)
    nav = html[html.index("<nav>") : html.index("</nav>")]
    assert status == 200
    assert all(f'href="{link}"' in nav for link in shown) and not any(f'href="{link}"' in nav for link in hidden)
