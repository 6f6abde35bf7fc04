"""Talking to the daemon's FHIR API in tests: tokens made by the CLI, GET and POST with a bearer token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.daemon import huitong


def make_token(config: Path, *args: str) -> str:
    """A token made by `huitong tokens create` (printed once, on its last line)."""
    made = huitong("tokens", "create", "--expires", "1d", *args, config=config)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def call(url: str, token: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
    """(status, FHIR JSON answer) of a GET, or of a POST of ``body``; no token: no Authorization header."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/fhir+json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
