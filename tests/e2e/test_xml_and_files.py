"""XML over HTTP (POST and poll) and FHIR/XML files: refused documents are journaled with the reason, and the
engine keeps serving the next one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.corpus import CORPUS, one
from tests.support.daemon import Daemon, free_port, wait_until, write_config
from tests.support.http import request
from tests.support.store_view import journal

CDA = one("hl7-c-cda-examples/Unstructured/CDA with Embedded Text plain/CDA_Embedded_Text_Plain_Surgical_Consult.xml")
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE record [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<record><id extension="XXE-1"/><note>&secret;</note></record>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""
FOLLOW_UPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<FollowUpList xmlns="urn:example:phs">
  <FollowUp><id extension="FU-2024-0001"/><type>hypertension</type><date>2024-03-01</date></FollowUp>
  <FollowUp><id extension="FU-2024-0002"/><type>diabetes</type><date>2024-03-02</date></FollowUp>
</FollowUpList>"""


@dataclass(frozen=True)
class Site:
    """One daemon for the module: the XML listener and the file channels, each test on channels of its own."""

    url: str
    config: Path
    root: Path


def file_channel(path: Path, glob: str, format: str) -> dict[str, object]:
    path.mkdir(parents=True)
    return {"source": {"type": "file", "path": str(path), "glob": glob, "format": format, "poll_interval": "200ms"}}


@pytest.fixture(scope="module")
def site(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("xml-and-files")
    port = free_port()
    channels = {
        "phs-in": {"source": {"type": "xml-http", "mode": "listen", "listen": f"127.0.0.1:{port}", "path": "/phs"}},
        "bulk": file_channel(root / "inbox", "*.ndjson", "ndjson"),
        "fhir-files": file_channel(root / "fhir", "*.json", "fhir-json"),
        "cda-files": file_channel(root / "xml", "*.xml", "xml"),
    }
    config = write_config(root, module_store_url, channels, log_dir / f"xml-and-files-{root.name}.jsonl")
    with Daemon(config, ports=(port,)):
        yield Site(f"http://127.0.0.1:{port}/phs", config, root)


def drop(path: Path, data: bytes) -> None:
    """Whole or not at all: the file source polls the folder while the test writes."""
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.rename(path)


def test_a_posted_cda_document_is_journaled_with_its_type_and_id(site: Site) -> None:
    answer = request(site.url, CDA, content_type="application/xml")
    assert answer.status == 200 and b"journaled as message" in answer.body
    row = journal(site.config, channel="phs-in")[-1]
    assert (row["message_type"], row["control_id"], row["status"]) == ("ClinicalDocument", "X451212", "PROCESSED")


@pytest.mark.parametrize(("attack", "name"), [(XXE, "XXE"), (LAUGHS, "billion laughs")])
def test_an_xml_attack_is_refused_with_400_journaled_as_error_and_the_next_document_served(
    site: Site, attack: bytes, name: str
) -> None:
    answer = request(site.url, attack, content_type="application/xml")
    assert answer.status == 400, name
    assert b"DOCTYPE" in answer.body and b"root:" not in answer.body  # the reason, and no file content
    refused = journal(site.config, channel="phs-in")[-1]
    assert refused["status"] == "ERROR" and "DOCTYPE declaration is refused" in refused["error"]
    assert request(site.url, FOLLOW_UPS, content_type="application/xml").status == 200


class _Phs(BaseHTTPRequestHandler):
    """A public-health system's list endpoint: GET answers `body`."""

    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_polled_list_is_split_into_one_message_per_record_and_an_unchanged_answer_is_not_journaled_again(
    store_url: str, tmp_path: Path, log_dir: Path
) -> None:
    phs = type("Phs", (_Phs,), {"body": FOLLOW_UPS, "hits": 0})  # fresh state for this run
    server = ThreadingHTTPServer(("127.0.0.1", 0), phs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/follow-ups"
    spec = {"type": "xml-http", "mode": "poll", "url": url, "poll_interval": "200ms", "split": "FollowUp"}
    config = write_config(
        tmp_path, store_url, {"phs-poll": {"source": spec}}, log_dir / f"xml-poll-{tmp_path.name}.jsonl"
    )
    try:
        with Daemon(config):
            wait_until(lambda: len(journal(config)) == 2)
            wait_until(lambda: phs.hits >= 4)  # polled again and again, the same answer
            phs.body = LAUGHS
            wait_until(lambda: len(journal(config)) == 3)
            rows = journal(config)
    finally:
        server.shutdown()
    assert [(r["message_type"], r["control_id"], r["status"]) for r in rows[:2]] == [
        ("FollowUp", "FU-2024-0001", "PROCESSED"),
        ("FollowUp", "FU-2024-0002", "PROCESSED"),
    ]
    assert rows[2]["status"] == "ERROR" and "DOCTYPE" in rows[2]["error"]


def test_an_ndjson_file_with_one_bad_line_journals_every_line_and_names_the_bad_one(site: Site) -> None:
    inbox = site.root / "inbox"
    lines = (CORPUS / "smart-sample-bulk-fhir" / "Patient.000.ndjson").read_bytes().splitlines()
    drop(inbox / "Patient.ndjson", b"\n".join([*lines[:3], b'{"resourceType": "Patient", "id"', *lines[3:5]]))
    wait_until(lambda: len(journal(site.config, channel="bulk")) == 6)
    rows = journal(site.config, channel="bulk")
    assert [r["status"] for r in rows] == ["PROCESSED"] * 3 + ["ERROR"] + ["PROCESSED"] * 2
    assert rows[3]["error"].startswith(f"{inbox / 'Patient.ndjson'}:4: invalid JSON")
    wait_until(lambda: (inbox / "error" / "Patient.ndjson").exists())


def test_fhir_json_and_xml_files_become_one_message_each_and_a_refused_one_goes_to_error(site: Site) -> None:
    fhir_in, xml_in = site.root / "fhir", site.root / "xml"
    bundle = b'{"resourceType": "Bundle", "id": "coll-1", "type": "collection", "entry": []}'
    drop(fhir_in / "a.json", bundle)
    drop(xml_in / "a.xml", CDA)
    drop(xml_in / "b.xml", XXE)

    def journaled() -> list[dict[str, Any]]:
        return journal(site.config, channel="fhir-files") + journal(site.config, channel="cda-files")

    wait_until(lambda: len(journaled()) == 3)
    rows = {r["control_id"] or r["source"]: r for r in journaled()}
    assert rows["coll-1"]["message_type"] == "Bundle^collection"
    assert rows["X451212"]["message_type"] == "ClinicalDocument"
    assert rows[str(xml_in / "b.xml")]["status"] == "ERROR"
