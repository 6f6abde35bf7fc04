"""HTTPS on the HTTP sources: fhir-push with mutual TLS (a client certificate required) and xml-http with a server
certificate, each with its bearer token; the real daemon, a real TLS handshake from a standard-library client."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.certs import Certs, make_certs
from tests.support.corpus import CORPUS
from tests.support.daemon import Daemon, free_port, write_config
from tests.support.store_view import journal

TOKEN = "push-t0ken"
PATIENT = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()[0]
CDA = b'<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="2.16.156" extension="TLS-1"/></ClinicalDocument>'


@dataclass
class Site:
    fhir: str
    xml: str
    certs: Certs
    config: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("http-tls")
    certs = make_certs(root)
    server = {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key)}
    fhir_port, xml_port = free_port(), free_port()
    config = write_config(
        root,
        f"sqlite:///{root / 'store.db'}",
        {
            "emr-push": {
                "source": {
                    "type": "fhir-push",
                    "listen": f"127.0.0.1:{fhir_port}",
                    "auth_token": TOKEN,
                    "tls": {**server, "ca_file": str(certs.ca), "client_auth": "required"},
                }
            },
            "phs-in": {
                "source": {
                    "type": "xml-http",
                    "mode": "listen",
                    "listen": f"127.0.0.1:{xml_port}",
                    "path": "/phs",
                    "token": TOKEN,
                    "tls": server,
                }
            },
        },
        log_dir / f"http-tls-{root.name}.jsonl",
    )
    with Daemon(config, ports=(fhir_port, xml_port)):
        yield Site(f"https://127.0.0.1:{fhir_port}/fhir", f"https://127.0.0.1:{xml_port}/phs", certs, config)


def _client(certs: Certs, *, certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if certificate:
        context.load_cert_chain(certs.client_cert, certs.client_key)
    return context


def _post(url: str, body: bytes, content_type: str, context: ssl.SSLContext | None, token: str | None) -> int:
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {token}"} if token else {})
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_fhir_push_over_mutual_tls_takes_a_patient_from_a_client_with_a_certificate(site: Site) -> None:
    status = _post(
        f"{site.fhir}/Patient", PATIENT.encode(), "application/fhir+json", _client(site.certs, certificate=True), TOKEN
    )
    assert status == 201
    assert any(r["control_id"] == json.loads(PATIENT)["id"] for r in journal(site.config))


def test_fhir_push_over_mutual_tls_refuses_the_handshake_of_a_client_without_a_certificate(site: Site) -> None:
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _post(
            f"{site.fhir}/Patient",
            PATIENT.encode(),
            "application/fhir+json",
            _client(site.certs, certificate=False),
            TOKEN,
        )


def test_fhir_push_over_tls_refuses_a_post_without_the_token_with_401(site: Site) -> None:
    context = _client(site.certs, certificate=True)
    assert _post(f"{site.fhir}/Patient", PATIENT.encode(), "application/fhir+json", context, None) == 401
    assert _post(f"{site.fhir}/Patient", PATIENT.encode(), "application/fhir+json", context, "guess") == 401


def test_a_tls_listener_does_not_answer_plain_http(site: Site) -> None:
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _post(site.xml.replace("https:", "http:"), CDA, "application/xml", None, TOKEN)


def test_xml_http_over_tls_takes_a_document_with_the_token_and_refuses_one_without(site: Site) -> None:
    context = _client(site.certs, certificate=False)
    assert _post(site.xml, CDA, "application/xml", context, None) == 401
    assert _post(site.xml, CDA, "application/xml", context, TOKEN) == 200
