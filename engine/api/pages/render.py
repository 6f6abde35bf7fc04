"""Rendering a console page: the Jinja2 environment over templates/, the request's language, the CSRF token the
page's forms send back (set on the request by the authentication middleware; none under ``auth: none``), and the
static files. A page without a user goes to the login page; a refusal (a role the user lacks, a bad parameter, an
unknown resident: common.refused, as the management API answers it) is a page with its status; a failure of ours
is logged (path only) and shown as 503."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engine.domain.roles import Role, User

from ..manage.common import refused
from . import i18n

log = structlog.get_logger("huitong.console")
HERE = Path(__file__).parent
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
ENV.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}  # the mapped FHIR, readable
_STATIC = web.AppKey("console_static", bool)
Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static(app: web.Application) -> None:
    """Serve /static/ (once, whichever page Part comes first): CSS, scripts, the vendored ECharts."""
    if _STATIC not in app:
        app[_STATIC] = True
        app.router.add_static("/static/", HERE / "static")


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = i18n.language(request)
    user = request.get("user")
    html = ENV.get_template(template).render(
        t=i18n.translator(lang),
        lang=lang,
        other_lang="en" if lang == "zh" else "zh",
        user=user,
        may=(lambda role: isinstance(user, User) and user.may(Role(role))),
        csrf_token=request.get("csrf_token", ""),
        path=request.path,
        **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if request.query.get(i18n.COOKIE) in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def page(handler: Page) -> Page:
    """401 -> the login page (back here after it); another refusal -> refused.html with its status."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPUnauthorized:
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}") from None
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, "refused.html", exc.status, code=exc.status, reason=exc.reason)
        except Exception as exc:
            known = refused(exc)
            if known is None:
                log.exception("console page failed", path=request.path)
                known = (503, "the engine's store could not be read; try again")
            return render(request, "refused.html", known[0], code=known[0], reason=known[1])

    return wrapped
