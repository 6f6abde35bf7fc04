"""/static: the console's vendored files (ECharts: static/SOURCE.md), served from the package, no network."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")


def part(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC, append_version=False)
