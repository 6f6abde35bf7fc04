"""How the people pages answer: a Jinja2 template (HTML-escaped) with the words of the chosen language, and a
refusal (no login, a missing role, an unknown resident) as a page with its status rather than a stack trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from engine.views.mpi_review import NoRecord
from engine.views.record_view import PersonNotFound

from ..manage.people_service import BadRequest
from .i18n_people import COOKIE, LANGUAGES, language, translate

log = structlog.get_logger("huitong.console")
TEMPLATES = Path(__file__).with_name("templates")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(value: Any) -> Markup:
    """A value for a <script> block: JSON with <, > and & escaped so no text of the record can close the tag."""
    text = orjson.dumps(value).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True)
_ENV.filters["json"] = _json


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = language(request)
    html = _ENV.get_template(template).render(
        lang=lang, t=lambda key, **values: translate(lang, key, **values), path=request.path, **context
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax")
    return response


def page(handler: Handler) -> Handler:
    """Refusals as pages with their status; a failure of ours logged (path only) and shown as 503."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, "error_people.html", exc.status, message=exc.reason)
        except (PersonNotFound, NoRecord) as exc:
            return render(request, "error_people.html", 404, message=str(exc))
        except BadRequest as exc:
            return render(request, "error_people.html", 400, message=str(exc))
        except Exception:
            log.exception("console page failed", path=request.path)
            return render(request, "error_people.html", 503, message="the store could not be read; try again")

    return wrapped
