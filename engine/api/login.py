"""Sign-in on the operators' listener (``auth: users``): who a request acts for, and the /login, /logout and
/api/v1/me routes (docs/console.md, "Users, roles and sign-in").

A request is someone's in one of two ways:

- an API token (``Authorization: Bearer``, ``huitong tokens create --scope console/<role>``): its console scopes
  are its roles; it needs no CSRF token, since a browser never adds the header by itself;
- a session cookie from ``POST /login``, kept server-side (engine/store/sessions.py). A browser sends the cookie
  with every request to the listener, so every state-changing one must also carry the session's CSRF token
  (header ``X-CSRF-Token`` or form field ``csrf_token``), which only the console's own pages know.

Anyone else gets 401 (JSON) on the API and /metrics, a redirect to /login for pages. /healthz, /readyz, /login
and /static are open. Wrong passwords are counted per name and each next try waits longer; a wrong name and a
wrong password get the same answer after the same work, so the answers name no user.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy import Engine

from engine.api import stored
from engine.config import ConsoleSpec
from engine.domain.access import USER_NAME
from engine.domain.roles import User, token_roles
from engine.store import audit, sessions, tokens, users

SESSION_COOKIE = "huitong_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login"})
OPEN_PREFIX = "/static/"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOME = "/ui/"
MAX_DELAY = 8.0  # seconds: the longest a sign-in waits after wrong passwords
_REMEMBERED = 10_000  # names with wrong passwords kept in memory; forgotten all at once beyond

_PAGE = Template((Path(__file__).parent / "pages" / "templates" / "login.html").read_text(encoding="utf-8"))
_TEXT = {
    "zh": {
        "title": "汇通 控制台登录",
        "name_label": "用户名",
        "password_label": "密码",
        "submit": "登录",
        "refused": "用户名或密码不正确。",
        "other_lang_label": "English",
    },
    "en": {
        "title": "Huitong console sign-in",
        "name_label": "User name",
        "password_label": "Password",
        "submit": "Sign in",
        "refused": "Wrong user name or password.",
        "other_lang_label": "中文",
    },
}


def csrf_token(session: str) -> str:
    """The session's CSRF token: derived from the cookie, which scripts cannot read (HttpOnly), so nothing more is
    stored, and a page shows it without showing the cookie."""
    return hmac.new(session.encode(), b"csrf", hashlib.sha256).hexdigest()


def delay(failures: int) -> float:
    """How long a sign-in waits after ``failures`` wrong passwords for its name in a row: 0, 0.25, 0.5, 1 ... s."""
    return 0.0 if failures <= 0 else min(0.25 * 2 ** (failures - 1), MAX_DELAY)


def _language(request: web.Request) -> str:
    lang = request.query.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if lang == "en" else "zh"


def _safe_next(value: object) -> str:
    """Where to go after signing in: a path on this listener only (never //host or a URL)."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith(("//", "/\\")) else HOME


def _page(request: web.Request, *, next_path: str, refused: bool, status: int = 200) -> web.Response:
    lang = _language(request)
    text = _TEXT[lang]
    body = _PAGE.substitute(
        {k: html.escape(v) for k, v in text.items() if k != "refused"},
        lang="zh-CN" if lang == "zh" else "en",
        error=html.escape(text["refused"]) if refused else "",
        next=html.escape(next_path),
        other_lang="zh" if lang == "en" else "en",
    )
    answer = web.Response(status=status, text=body, content_type="text/html", charset="utf-8")
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _refuse(status: int, text: str) -> web.Response:
    answer = web.json_response({"error": text}, status=status)
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer realm="huitong console"'
    return answer


class SignIn:
    """The listener's authentication: ``middleware`` for every request, ``part`` for the routes it serves."""

    def __init__(self, store: Engine, spec: ConsoleSpec) -> None:
        self.store = store
        self.lifetime = spec.session_lifetime
        self.secure = spec.tls is not None
        self._failures: dict[str, int] = {}

    async def _run(self, job: Callable[[Any], Any], *, write: bool = False) -> Any:
        return await stored.in_thread(self.store, job, write=write)

    @property
    def middleware(self) -> Middleware:
        @web.middleware
        async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIX):
                return await handler(request)
            if "Authorization" in request.headers:
                return await self._by_token(request, handler)
            session = request.cookies.get(SESSION_COOKIE)
            user = await self._run(lambda conn: sessions.user_of(conn, session, time.time())) if session else None
            if user is None or session is None:
                if request.method == "GET" and (request.path == "/" or request.path.startswith("/ui/")):
                    raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")
                return _refuse(401, "sign in at /login, or send an API token (Authorization: Bearer)")
            if request.method in STATE_CHANGING and not await self._csrf_ok(request, session):
                return _refuse(403, f"missing or wrong CSRF token: send the {CSRF_HEADER} header or {CSRF_FIELD}")
            request["user"], request["session"], request["csrf_token"] = user, session, csrf_token(session)
            return await handler(request)

        return authenticate

    async def _by_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, secret = request.headers["Authorization"].partition(" ")
        token = None
        if scheme.lower() == "bearer" and secret.strip():
            token = await self._run(lambda conn: tokens.valid(conn, secret.strip(), time.time()))
        if token is None:
            return _refuse(401, "the API token is not valid (unknown, expired or revoked)")
        roles = token_roles(token.scopes)
        if not roles:
            return _refuse(403, "the token has no console scope (huitong tokens create --scope console/<role>)")
        request["user"] = User(token.user or f"token:{token.id}", roles)
        return await handler(request)

    @staticmethod
    async def _csrf_ok(request: web.Request, session: str) -> bool:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        return given is not None and hmac.compare_digest(given.encode(), csrf_token(session).encode())

    def part(self, app: web.Application) -> None:
        app.router.add_get("/login", self._form)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/api/v1/me", self._me)

    async def _form(self, request: web.Request) -> web.Response:
        return _page(request, next_path=_safe_next(request.query.get("next")), refused=False)

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        next_path = _safe_next(form.get("next"))
        failures = self._failures.get(name, 0)
        await asyncio.sleep(delay(failures))
        account = await self._run(lambda conn: users.get(conn, name)) if USER_NAME.match(name) else None
        matches = await asyncio.to_thread(users.password_matches, account.password_hash if account else None, password)
        now = time.time()
        if account is None or not matches or account.disabled_at is not None:
            if len(self._failures) >= _REMEMBERED:
                self._failures.clear()
            self._failures[name] = failures + 1
            if account is not None:  # only known names reach the trail: a mistyped name may be a password

                def failed(conn: Any) -> None:
                    users.count_failure(conn, name)
                    audit.record(conn, "console.login_failed", f"user:{name}", {}, actor=name, at=now)

                await self._run(failed, write=True)
            return _page(request, next_path=next_path, refused=True, status=401)
        self._failures.pop(name, None)
        session = secrets.token_urlsafe(32)

        def signed_in(conn: Any) -> None:
            sessions.create(conn, session, name, now, now + self.lifetime)
            users.signed_in(conn, name)
            audit.record(conn, "console.login", f"user:{name}", {}, actor=name, at=now)

        await self._run(signed_in, write=True)
        answer = web.HTTPSeeOther(next_path)
        answer.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=int(self.lifetime),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )
        return answer

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        session: str | None = request.get("session")
        user: User = request["user"]
        if session is not None:

            def ended(conn: Any) -> None:
                sessions.end(conn, session)
                audit.record(conn, "console.logout", f"user:{user.name}", {}, actor=user.name)

            await self._run(ended, write=True)
        answer = web.HTTPSeeOther("/login")
        answer.del_cookie(SESSION_COOKIE, path="/")
        return answer

    async def _me(self, request: web.Request) -> web.Response:
        """Who the request acts for and their roles; for a session also its CSRF token, which a page's script
        sends back with each change."""
        user: User = request["user"]
        body: dict[str, Any] = {"name": user.name, "roles": sorted(r.value for r in user.roles)}
        if "csrf_token" in request:
            body["csrf_token"] = request["csrf_token"]
        return web.json_response(body)
