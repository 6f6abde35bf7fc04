"""A public-health system (公卫系统) stand-in: holds the county's family-doctor contracts and takes back the
services the hospital delivered (数据回流).

    python samples/phs_simulator.py --port 8091 --data samples/county/phs

- GET /contracts: every contract it holds, as one `<FamilyDoctorContracts>` document (mappings/contract/contract.xsd,
  docs/contract-xml.md); the engine polls it.
- POST /service-records: a `<ServiceRecords>` document of `<ServiceRecord>` elements, each with `<RecordId>` and
  `<ContractId>`; answered 200, or 400 when the body is not such a document. A record whose RecordId came before is
  counted as a duplicate: the engine promises each service once.

`sign()` and `terminate()` change the contracts during a scenario the way the real system would (a new record; the
same record with its version raised and the vendor's own 解约 code), so the next poll carries the change;
`post_contracts()` pushes the document to an engine that listens instead of polling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config.mappings import load_table
from engine.domain.formats.xml import XmlError, parse_xml

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
XML = "application/xml"
_ONE, _MANY = "FamilyDoctorContract", "FamilyDoctorContracts"


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One service record as received; `fields` holds the text of its simple child elements by name."""

    record_id: str
    contract_id: str
    fields: dict[str, str]
    duplicate: bool  # the same RecordId was received before


class PhsSimulator:
    """The HTTP server; `await up()` binds it (port 0 picks a free one, kept for the next `up()`)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, contracts: bytes | None = None, mappings: Path = MAPPINGS
    ) -> None:
        self.host = host
        self.port = port
        self.mappings = mappings
        self._root = parse_xml(contracts) if contracts else etree.Element(_MANY)
        if self._root.tag != _MANY:
            raise ValueError(f"the contracts document must have the root {_MANY}")
        self.received = 0  # service records, duplicates included
        self.duplicates = 0
        self.polls = 0  # GET /contracts served
        self._records: list[ServiceRecord] = []
        self._runner: web.AppRunner | None = None

    # -- contracts -------------------------------------------------------------------------------------------
    def document(self) -> bytes:
        """The contracts document as GET /contracts serves it."""
        etree.indent(self._root, space="  ")
        return etree.tostring(self._root, xml_declaration=True, encoding="UTF-8")

    def contract_ids(self) -> list[str]:
        return [str(r.findtext("ContractId", "")).strip() for r in self._root.iter(_ONE)]

    def _record(self, contract_id: str) -> etree._Element:
        for record in self._root.iter(_ONE):
            if str(record.findtext("ContractId", "")).strip() == contract_id:
                return record
        raise KeyError(f"no contract {contract_id}")

    def sign(self, record: bytes) -> str:
        """Hold a newly signed contract (a `<FamilyDoctorContract>` document); returns its ContractId."""
        element = parse_xml(record)
        if element.tag != _ONE:
            raise ValueError(f"a signed contract is one {_ONE} element")
        contract_id = str(element.findtext("ContractId", "")).strip()
        if contract_id in self.contract_ids():
            raise ValueError(f"contract {contract_id} is already held")
        self._root.append(element)
        return contract_id

    def terminate(self, contract_id: str, on: date, reason: str) -> int:
        """解约 from `on` (the first day not contracted) for `reason` (the vendor's stop-reason code or a canonical
        reason); the status becomes the vendor's code for TERMINATED and the version rises. Returns the version."""
        record = self._record(contract_id)
        status = record.find("StatusCode")
        version = record.find("Version")
        assert status is not None and version is not None  # both required by the schema
        status.text = self._terminated_code(record.get("vendor") or self._root.get("vendor") or "")
        version.text = str(int(str(version.text)) + 1)
        for old in record.findall("Termination"):
            record.remove(old)
        termination = etree.Element("Termination")
        etree.SubElement(termination, "TerminationDate").text = on.strftime("%Y%m%d")
        etree.SubElement(termination, "TerminationReasonCode").text = reason
        anchor = record.find("RenewalDueDate")
        (anchor if anchor is not None else status).addnext(termination)
        return int(version.text)

    def _terminated_code(self, vendor: str) -> str:
        """The vendor's status code whose canonical target is plain TERMINATED (mappings/tables)."""
        table = load_table(self.mappings / "tables" / f"contract-status-{vendor}.yaml")
        for code, target in table.codes.items():
            if target.code == "TERMINATED":
                return code
        raise ValueError(f"the {vendor} status codes have no plain TERMINATED")

    async def post_contracts(self, url: str, token: str) -> int:
        """POST the contracts document to an engine listen endpoint with its bearer token; returns the HTTP status."""
        headers = {"Content-Type": XML, "Authorization": f"Bearer {token}"}
        async with (
            ClientSession(timeout=ClientTimeout(total=30)) as session,
            session.post(url, data=self.document(), headers=headers) as response,
        ):
            return response.status

    # -- service records -------------------------------------------------------------------------------------
    def records(self) -> list[ServiceRecord]:
        return list(self._records)

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "duplicates": self.duplicates, "polls": self.polls}

    def receive(self, body: bytes) -> list[ServiceRecord]:
        """Keep every record of a `<ServiceRecords>` document; ValueError (nothing kept) when it is not one."""
        root = parse_xml(body)
        if root.tag != "ServiceRecords":
            raise ValueError("the root must be ServiceRecords")
        seen = {r.record_id for r in self._records}
        found: list[ServiceRecord] = []
        for i, element in enumerate(root.iter("ServiceRecord"), 1):
            record_id = str(element.findtext("RecordId", "")).strip()
            if not record_id:
                raise ValueError(f"ServiceRecord {i} has no RecordId")
            fields = {str(c.tag): (c.text or "").strip() for c in element if isinstance(c.tag, str) and len(c) == 0}
            found.append(ServiceRecord(record_id, fields.get("ContractId", ""), fields, record_id in seen))
            seen.add(record_id)
        self._records += found
        self.received += len(found)
        self.duplicates += sum(r.duplicate for r in found)
        return found

    # -- HTTP ------------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 << 20)
        app.router.add_get("/contracts", self._contracts)
        app.router.add_post("/service-records", self._service_records)
        return app

    async def _contracts(self, request: web.Request) -> web.Response:
        self.polls += 1
        return web.Response(body=self.document(), content_type=XML, charset="utf-8")

    async def _service_records(self, request: web.Request) -> web.Response:
        try:
            found = self.receive(await request.read())
        except (XmlError, ValueError) as exc:
            return web.Response(status=400, text=f"{exc}\n")
        return web.Response(text=f"accepted {len(found)} service records\n")

    async def up(self) -> None:
        if self._runner is None:
            self._runner = web.AppRunner(self.app(), access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.host, self.port, reuse_address=True).start()
            self.port = int(self._runner.addresses[0][1])

    async def down(self) -> None:
        """Stop serving (connections are refused until `up()`)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def _serve(args: argparse.Namespace) -> None:
    phs = PhsSimulator(args.host, args.port, contracts=(args.data / "contracts.xml").read_bytes())
    await phs.up()
    print(
        f"PHS simulator: {len(phs.contract_ids())} contracts at {phs.base_url}/contracts, "
        f"service records to {phs.base_url}/service-records",
        flush=True,
    )
    reported = 0
    try:
        while True:
            await asyncio.sleep(0.5)
            for record in phs.records()[reported:]:
                print(
                    f"service record {record.record_id} for contract {record.contract_id}"
                    + (" (duplicate)" if record.duplicate else ""),
                    flush=True,
                )
            reported = len(phs.records())
    finally:
        await phs.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--data", type=Path, default=Path("samples/county/phs"), help="directory with contracts.xml")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
