"""The public-health contract XML: samples read and validate; bad or hostile documents are refused by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from engine.domain.contract import ContractReader, ContractXmlError, PackageKind, Status, TerminationReason
from engine.domain.formats.xml import parse_xml

from .conftest import MAPPINGS, SAMPLES

SIGNING = (SAMPLES / "signing.xml").read_bytes()


def _without(data: bytes, element: bytes) -> bytes:
    start = data.index(b"<" + element + b">")
    end = data.index(b"</" + element + b">") + len(element) + 3
    return data[:start] + data[end:]


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.xml")), ids=lambda p: p.name)
def test_every_sample_validates_against_the_xsd(sample: Path) -> None:
    schema = etree.XMLSchema(parse_xml((MAPPINGS / "contract" / "contract.xsd").read_bytes()).getroottree())
    assert schema.validate(parse_xml(sample.read_bytes()).getroottree()), schema.error_log


def test_a_signing_reads_as_an_active_contract_with_its_packages(reader: ContractReader) -> None:
    (c,) = reader.read(SIGNING)
    assert c.status is Status.ACTIVE
    assert c.resident.resident_id == "360426195803140024"
    assert (c.period.start, c.period.end) == (date(2025, 1, 6), date(2026, 1, 5))
    assert [i.times_per_year for i in c.packages[0].items] == [4, 1]
    assert c.labels == ("03", "04")


def test_a_renewal_names_the_contract_it_renews(reader: ContractReader) -> None:
    (c,) = reader.read((SAMPLES / "renewal.xml").read_bytes())
    assert c.previous_contract_id == "SC3604262025000044"
    assert c.renewal_due == date(2026, 12, 1)
    assert c.packages[1].kind is PackageKind.PERSONALIZED


def test_a_termination_maps_the_vendor_stop_reason(reader: ContractReader) -> None:
    (c,) = reader.read((SAMPLES / "termination.xml").read_bytes())
    assert c.status is Status.TERMINATED
    assert c.termination is not None
    assert (c.termination.on, c.termination.reason) == (date(2025, 8, 15), TerminationReason.MOVED_OUT)


def test_a_list_reads_every_record_with_the_list_vendor(reader: ContractReader) -> None:
    pending, requested = reader.read((SAMPLES / "list-yihu.xml").read_bytes())
    assert pending.status is Status.PENDING
    assert requested.status is Status.ACTIVE and requested.termination_requested


def test_the_vendor_can_be_passed_when_the_document_does_not_say(reader: ContractReader) -> None:
    data = SIGNING.replace(b' vendor="bsoft-scm"', b"")
    assert reader.read(data, vendor="bsoft-scm")[0].status is Status.ACTIVE
    with pytest.raises(ContractXmlError, match="no vendor"):
        reader.read(data)


def test_a_doctype_is_refused_before_the_schema_is_consulted(reader: ContractReader) -> None:
    hostile = SIGNING.replace(
        b"<FamilyDoctorContract ",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<FamilyDoctorContract ',
    ).replace(b"<Name>\xe6\x9d\x8e\xe7\xa7\x80\xe8\x8b\xb1</Name>", b"<Name>&e;</Name>")
    with pytest.raises(ContractXmlError, match="DOCTYPE"):
        reader.read(hostile)


def test_malformed_xml_is_refused_with_its_position(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError, match="malformed XML at line"):
        reader.read(SIGNING.replace(b"</TeamName>", b"</TeamNam>"))


def test_a_missing_element_is_named_with_the_record(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError) as caught:
        reader.read(_without(SIGNING, b"EffectiveTo"))
    assert "record 1 (ContractId SC3604262025000101)" in str(caught.value)
    assert "EffectiveTo" in str(caught.value)


def test_a_schema_error_never_repeats_a_personal_value(reader: ContractReader) -> None:
    bad = SIGNING.replace(b"360426195803140024", b"36042619580314002Z")
    with pytest.raises(ContractXmlError) as caught:
        reader.read(bad)
    assert caught.value.element == "IdNumber"
    assert "36042619580314002" not in str(caught.value)


def test_a_resident_id_with_a_wrong_check_digit_is_refused_without_repeating_it(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError) as caught:
        reader.read(SIGNING.replace(b"360426195803140024", b"360426195803140025"))
    assert caught.value.element == "Resident/IdNumber"
    assert "360426195803140025" not in str(caught.value)


def test_the_failing_record_of_a_list_is_named(reader: ContractReader) -> None:
    data = (SAMPLES / "list-yihu.xml").read_bytes()
    data = data.replace(b"<StatusCode>2</StatusCode>", b"<StatusCode>9</StatusCode>")
    with pytest.raises(ContractXmlError) as caught:
        reader.read(data)
    assert caught.value.record == "record 2 (ContractId 2b6e9d14-55c3-4f08-8e2a-7c9a1f3e5d22)"
    assert caught.value.element == "StatusCode"


def test_an_impossible_date_is_refused(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError, match=r"EffectiveTo.*not a real date"):
        reader.read(SIGNING.replace(b"20260105", b"20260230"))


def test_a_period_ending_before_it_starts_is_refused(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError, match="EffectiveTo"):
        reader.read(SIGNING.replace(b"20260105", b"20240105"))


def test_a_terminated_status_without_a_termination_is_refused(reader: ContractReader) -> None:
    data = _without((SAMPLES / "termination.xml").read_bytes(), b"Termination")
    with pytest.raises(ContractXmlError, match="Termination"):
        reader.read(data)


def test_another_root_element_is_refused(reader: ContractReader) -> None:
    with pytest.raises(ContractXmlError, match="root must be"):
        reader.read(b"<Contract/>")
