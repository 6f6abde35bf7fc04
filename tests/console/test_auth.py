"""Signing in to the operators' listener (auth: users): users made with `huitong users`, sessions with CSRF
protection, roles, API tokens with a console scope; the real daemon over real HTTP (requests, a cookie jar)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from engine.api.login import MAX_DELAY, delay
from tests.support.certs import make_certs
from tests.support.daemon import HUITONG, Daemon, free_port, wait_until, write_config

PASSWORD = "correct horse battery"  # every test user's; long enough for `users create`


@dataclass
class Console:
    url: str
    config: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HUITONG, *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ},
        )

    def user(self, name: str, *roles: str) -> None:
        flags = [f"--role={r}" for r in roles]
        made = self.cli("users", "create", name, *flags, "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr

    def login(self, name: str, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
        browser = requests.Session()
        answer = browser.post(
            f"{self.url}/login", data={"name": name, "password": password}, allow_redirects=False, timeout=30
        )
        return browser, answer

    def signed_in(self, name: str) -> requests.Session:
        browser, answer = self.login(name)
        assert answer.status_code == 303, answer.text
        return browser

    def token(self, *scopes: str) -> str:
        made = self.cli("tokens", "create", *(f"--scope={s}" for s in scopes), "--expires", "1h")
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    def audit(self, action: str) -> list[dict]:
        shown = self.cli("audit", "--action", action, "--json")
        assert shown.returncode == 0, shown.stderr
        return list(json.loads(shown.stdout)["rows"])


def _console(root: Path, store_url: str, log_dir: Path, **settings: object) -> tuple[Console, Daemon]:
    port = free_port()
    config = write_config(
        root,
        store_url,
        {},
        log_dir / f"console-auth-{root.name}.jsonl",
        {"console": {"listen": f"127.0.0.1:{port}", **settings}},
    )
    return Console(f"http://127.0.0.1:{port}", config), Daemon(config, ports=(port,))


@pytest.fixture(scope="module")
def console(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    site, daemon = _console(tmp_path_factory.mktemp("console-auth"), module_store_url, log_dir)
    site.user("amy", "admin")
    site.user("vic", "viewer")
    with daemon:
        yield site


def test_signing_in_sets_an_httponly_strict_session_cookie_and_goes_to_the_console(console: Console) -> None:
    browser, answer = console.login("amy")
    assert (answer.status_code, answer.headers["Location"]) == (303, "/ui/")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain HTTP here
    me = browser.get(f"{console.url}/api/v1/me", timeout=30).json()
    assert (me["name"], me["roles"]) == ("amy", ["admin"])


def test_signing_in_goes_back_to_the_page_asked_for_but_never_off_the_listener(console: Console) -> None:
    for wanted, lands in (("/ui/messages?status=error", "/ui/messages?status=error"), ("//evil.example/", "/ui/")):
        answer = requests.post(
            f"{console.url}/login",
            data={"name": "amy", "password": PASSWORD, "next": wanted},
            allow_redirects=False,
            timeout=30,
        )
        assert (answer.status_code, answer.headers["Location"]) == (303, lands)


def test_signing_out_ends_the_session_on_the_server(console: Console) -> None:
    browser = console.signed_in("amy")
    cookie = dict(browser.cookies)
    csrf = browser.get(f"{console.url}/api/v1/me", timeout=30).json()["csrf_token"]
    out = browser.post(f"{console.url}/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False, timeout=30)
    assert (out.status_code, out.headers["Location"]) == (303, "/login")
    replayed = requests.get(f"{console.url}/api/v1/me", cookies=cookie, timeout=30)  # the old cookie, kept
    assert replayed.status_code == 401


def test_a_wrong_password_and_an_unknown_name_get_the_same_refusal(console: Console) -> None:
    console.user("wendy", "viewer")
    _, wrong_password = console.login("wendy", "not the password")
    _, unknown_name = console.login("nobody-here", "not the password")
    assert wrong_password.status_code == unknown_name.status_code == 401
    assert wrong_password.text == unknown_name.text
    assert "huitong_session" not in wrong_password.cookies
    listed = {u["name"]: u for u in json.loads(console.cli("users", "list", "--json").stdout)}
    assert listed["wendy"]["failed_logins"] == 1
    assert [r["target"] for r in console.audit("console.login_failed")] == ["user:wendy"]


def test_wrong_passwords_in_a_row_make_the_next_sign_in_wait_longer(console: Console) -> None:
    console.user("slow", "viewer")
    for _ in range(3):
        assert console.login("slow", "guess")[1].status_code == 401
    started = time.monotonic()
    _, answer = console.login("slow")  # the right password, after three wrong ones: 1 s later
    assert answer.status_code == 303
    delayed = time.monotonic() - started
    assert delayed >= 1.0
    started = time.monotonic()
    console.login("slow")  # a success clears the count: the same work without the second of waiting
    assert time.monotonic() - started < delayed - 0.5  # (relative: a loaded machine makes the work itself slow)


def test_the_wait_doubles_with_each_wrong_password_up_to_its_cap() -> None:
    assert [delay(n) for n in range(6)] == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    assert delay(100) == MAX_DELAY


def test_a_change_with_a_session_but_without_the_csrf_token_is_refused(console: Console) -> None:
    browser = console.signed_in("amy")
    csrf = browser.get(f"{console.url}/api/v1/me", timeout=30).json()["csrf_token"]
    missing = browser.post(f"{console.url}/logout", allow_redirects=False, timeout=30)
    wrong = browser.post(f"{console.url}/logout", headers={"X-CSRF-Token": "0" * 64}, allow_redirects=False)
    assert missing.status_code == wrong.status_code == 403
    assert "CSRF" in missing.json()["error"]
    assert browser.get(f"{console.url}/api/v1/me", timeout=30).status_code == 200  # still signed in
    by_form = browser.post(f"{console.url}/logout", data={"csrf_token": csrf}, allow_redirects=False, timeout=30)
    assert by_form.status_code == 303


def test_without_a_sign_in_the_api_answers_401_json_and_a_page_sends_to_the_login_form(console: Console) -> None:
    api = requests.get(f"{console.url}/api/v1/me", timeout=30)
    assert (api.status_code, api.headers["Content-Type"].split(";")[0]) == (401, "application/json")
    page = requests.get(f"{console.url}/ui/messages", allow_redirects=False, timeout=30)
    assert (page.status_code, page.headers["Location"]) == (303, "/login?next=/ui/messages")
    assert requests.get(f"{console.url}/metrics", timeout=30).status_code == 401
    assert requests.post(f"{console.url}/logout", timeout=30, allow_redirects=False).status_code == 401
    form = requests.get(f"{console.url}/login", timeout=30)
    assert form.status_code == 200 and 'name="password"' in form.text and "登录" in form.text
    assert "Sign in" in requests.get(f"{console.url}/login?lang=en", timeout=30).text
    assert requests.get(f"{console.url}/healthz", timeout=30).status_code == 200


def test_a_user_may_call_only_what_their_roles_allow(console: Console) -> None:
    viewer, admin = console.signed_in("vic"), console.signed_in("amy")
    assert viewer.get(f"{console.url}/api/v1/users", timeout=30).status_code == 403
    listed = admin.get(f"{console.url}/api/v1/users", timeout=30)
    assert listed.status_code == 200
    assert {u["name"]: u["roles"] for u in listed.json()}["vic"] == ["viewer"]
    assert all("password" not in key for u in listed.json() for key in u)


# (role, method, path): each operations endpoint a role does not reach; refused before anything is looked up
REFUSED_BY_ROLE = [
    ("viewer", "POST", "/channels/his-adt/stop"),
    ("viewer", "POST", "/reload"),
    ("viewer", "POST", "/messages/1/reprocess"),
    ("viewer", "POST", "/dead-letters/reprocess"),
    ("viewer", "GET", "/messages/1/content"),
    ("viewer", "GET", "/audit"),
    ("operator", "GET", "/messages/1/content"),
    ("operator", "GET", "/audit"),
    ("operator", "GET", "/users"),
    ("clinical", "POST", "/channels/his-adt/pause"),
    ("clinical", "POST", "/reload"),
    ("clinical", "POST", "/dead-letters/reprocess"),
    ("clinical", "GET", "/audit"),
]


@pytest.fixture(scope="module")
def role_token(console: Console) -> dict[str, str]:
    return {role: console.token(f"console/{role}") for role in {r for r, _, _ in REFUSED_BY_ROLE}}


@pytest.mark.parametrize(("role", "method", "path"), REFUSED_BY_ROLE)
def test_an_operations_endpoint_a_role_does_not_reach_is_a_403_naming_the_role_needed(
    console: Console, role_token: dict[str, str], role: str, method: str, path: str
) -> None:
    answer = requests.request(
        method,
        f"{console.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {role_token[role]}"},
        json={},
        timeout=30,
    )
    assert answer.status_code == 403, answer.text
    assert "role" in answer.json()["error"]


def test_a_token_with_a_console_scope_acts_with_that_role_and_needs_no_csrf_token(console: Console) -> None:
    operator = {"Authorization": f"Bearer {console.token('console/operator')}"}
    me = requests.get(f"{console.url}/api/v1/me", headers=operator, timeout=30).json()
    assert me["roles"] == ["operator"] and me["name"].startswith("token:") and "csrf_token" not in me
    assert requests.get(f"{console.url}/api/v1/users", headers=operator, timeout=30).status_code == 403
    changed = requests.post(f"{console.url}/logout", headers=operator, allow_redirects=False, timeout=30)
    assert changed.status_code == 303  # a bearer request carries no cookie a page could forge: no CSRF token asked
    admin = {"Authorization": f"Bearer {console.token('console/admin')}"}
    assert requests.get(f"{console.url}/api/v1/users", headers=admin, timeout=30).status_code == 200


def test_a_token_without_a_console_scope_or_an_unknown_one_is_refused(console: Console) -> None:
    fhir_only = {"Authorization": f"Bearer {console.token('system/*.read')}"}
    assert requests.get(f"{console.url}/api/v1/me", headers=fhir_only, timeout=30).status_code == 403
    unknown = {"Authorization": "Bearer not-a-token"}
    assert requests.get(f"{console.url}/api/v1/me", headers=unknown, timeout=30).status_code == 401
    refused = console.cli("tokens", "create", "--scope", "console/root", "--expires", "1h")
    assert refused.returncode == 1 and "no role 'root'" in refused.stderr


def test_a_disabled_user_is_signed_out_at_once_and_cannot_sign_in(console: Console) -> None:
    console.user("dora", "operator")
    browser = console.signed_in("dora")
    assert console.cli("users", "disable", "dora").returncode == 0
    assert browser.get(f"{console.url}/api/v1/me", timeout=30).status_code == 401
    assert console.login("dora")[1].status_code == 401


def test_a_role_change_counts_for_the_next_request_of_a_session(console: Console) -> None:
    console.user("rolf", "viewer")
    browser = console.signed_in("rolf")
    assert console.cli("users", "set-role", "rolf", "--role", "admin").returncode == 0
    assert browser.get(f"{console.url}/api/v1/users", timeout=30).status_code == 200


def test_a_new_password_ends_the_sessions_and_the_old_one_no_longer_signs_in(console: Console) -> None:
    console.user("pat", "viewer")
    browser = console.signed_in("pat")
    changed = console.cli("users", "password", "pat", "--password-stdin", stdin="another long password\n")
    assert changed.returncode == 0, changed.stderr
    assert browser.get(f"{console.url}/api/v1/me", timeout=30).status_code == 401
    assert console.login("pat")[1].status_code == 401
    assert console.login("pat", "another long password")[1].status_code == 303


def test_every_user_change_is_audited_with_who_what_before_and_after_but_no_password(console: Console) -> None:
    console.user("audra", "viewer")
    assert console.cli("users", "set-role", "audra", "--role", "operator", "--role", "clinical").returncode == 0
    assert console.cli("users", "disable", "audra").returncode == 0
    assert console.cli("users", "password", "audra", "--password-stdin", stdin="a third password!\n").returncode == 0
    rows = {
        action: next(r for r in console.audit(action) if r["target"] == "user:audra")
        for action in ("users.create", "users.set_role", "users.disable", "users.password")
    }
    assert rows["users.create"]["detail"] == {"before": None, "after": {"roles": ["viewer"], "disabled": False}}
    assert rows["users.set_role"]["detail"] == {
        "before": {"roles": ["viewer"], "disabled": False},
        "after": {"roles": ["clinical", "operator"], "disabled": False},
    }
    assert rows["users.disable"]["detail"]["after"] == {"roles": ["clinical", "operator"], "disabled": True}
    assert all(r["actor"] for r in rows.values())
    written = json.dumps(list(rows.values()))
    assert "argon2" not in written and PASSWORD not in written and "a third password!" not in written


def test_the_cli_refuses_a_short_password_and_a_user_without_a_role(console: Console) -> None:
    short = console.cli("users", "create", "shorty", "--role", "viewer", "--password-stdin", stdin="short\n")
    roleless = console.cli("users", "create", "nobody", "--password-stdin", stdin=PASSWORD + "\n")
    assert short.returncode == roleless.returncode == 1
    assert "at least 10 characters" in short.stderr and "--admin" in roleless.stderr
    assert "shorty" not in console.cli("users", "list").stdout


def test_a_session_ends_when_its_lifetime_is_over(store_url: str, tmp_path: Path, log_dir: Path) -> None:
    site, daemon = _console(tmp_path, store_url, log_dir, session_lifetime="2s")
    site.user("amy", "admin")
    with daemon:
        browser = site.signed_in("amy")
        assert browser.get(f"{site.url}/api/v1/me", timeout=30).status_code == 200
        wait_until(lambda: browser.get(f"{site.url}/api/v1/me", timeout=30).status_code == 401, timeout=10)


def test_over_tls_the_session_cookie_is_secure(tmp_path: Path, log_dir: Path) -> None:
    certs = make_certs(tmp_path)
    tls = {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key)}
    site, daemon = _console(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", log_dir, tls=tls)
    site.user("amy", "admin")
    with daemon:
        browser, ca, url = requests.Session(), str(certs.ca), site.url.replace("http:", "https:")
        form = {"name": "amy", "password": PASSWORD}
        answer = browser.post(f"{url}/login", data=form, allow_redirects=False, verify=ca, timeout=30)
        assert answer.status_code == 303 and "Secure" in answer.headers["Set-Cookie"]
        assert browser.get(f"{url}/api/v1/me", verify=ca, timeout=30).json()["name"] == "amy"
