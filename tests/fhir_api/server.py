"""Talking to the FHIR API of a test daemon: its address and token, GET with a bearer token (every answer checked
as R4), the sample resident."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from tests.support.daemon import huitong

HIS_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "county" / "his"
CHEN_ID = "360426194909020421"  # the resident ID of 陈桂兰 (02_a04, 03_oru)
TOKEN = [""]  # the module's system token, set by the fixture


@dataclass(frozen=True)
class Server:
    base: str
    config: Path
    store_url: str
    token: str
    log: Path  # the daemon's log file

    def __str__(self) -> str:
        return self.base


def make_token(config: Path, *args: str) -> str:
    made = huitong("tokens", "create", "--expires", "1d", *args, config=config)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def valid_r4(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after fhir.resources has accepted it (a Bundle with every resource in it). fhir.resources 8
    has no R4 package; R4B (4.3) is the nearest and has the same shape for the types served here."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def get(url: str, token: str | None = "") -> tuple[int, dict[str, Any]]:
    """The status and the FHIR JSON answered, validated: every answer of these tests is valid R4."""
    headers = {"Authorization": f"Bearer {token or TOKEN[0]}"} if token is not None else {}
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, valid_r4(json.loads(answer.read()))
    except urllib.error.HTTPError as refused:
        return refused.code, valid_r4(json.loads(refused.read()))


def chen(fhir: Server, token: str = "") -> dict[str, Any]:
    status, bundle = get(f"{fhir}/Patient?identifier={CHEN_ID}", token)
    assert status == 200, bundle
    [entry] = bundle["entry"]
    return entry["resource"]
