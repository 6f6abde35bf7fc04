"""XML mappings read with XPath, and hostile XML refused before any mapping runs."""

from __future__ import annotations

import pytest

from engine.domain.formats.xml import XmlError
from engine.pipeline.mapping import map_message
from tests.mapping_engine.conftest import MappingDir

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <recordTarget><patientRole>
    <id root="2.16.156.10011.1.3" extension="11010519491231002X"/>
    <patient>
      <name>王秀英</name>
      <administrativeGenderCode code="2" codeSystem="2.16.156.10011.2.3.3.4"/>
      <birthTime value="19491231"/>
    </patient>
  </patientRole></recordTarget>
  <component><structuredBody>
    <component><section>
      <entry><observation><code code="8480-6"/><value value="150" unit="mm[Hg]"/></observation></entry>
      <entry><observation><code code="8462-4"/><value value="95" unit="mm[Hg]"/></observation></entry>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>
""".encode()

MAPPING = """
mapping: test/doc
input: xml
namespaces: {h: "urn:hl7-org:v3"}
messages: [ClinicalDocument]
resources:
  - rule: patient
    resource: Patient
    body:
      identifier: [{system: "urn:oid:{{ h:recordTarget/h:patientRole/h:id/@root }}",
                    value: "{{ h:recordTarget/h:patientRole/h:id/@extension }}"}]
      name: [{text: "{{ h:recordTarget/h:patientRole/h:patient/h:name }}"}]
      gender: "{{ h:recordTarget/h:patientRole/h:patient/h:administrativeGenderCode/@code | code: sex }}"
      birthDate: "{{ h:recordTarget/h:patientRole/h:patient/h:birthTime/@value | date }}"
  - rule: observation
    resource: Observation
    for: .//h:observation
    body:
      code: {coding: [{system: http://loinc.org, code: "{{ h:code/@code }}"}]}
      valueQuantity: {value: "{{ h:value/@value | number }}", unit: "{{ h:value/@unit }}"}
      subject: {reference: "{{ ref(patient) }}"}
"""


@pytest.fixture
def mappings(mapping_dir: MappingDir):  # type: ignore[no-untyped-def]
    mapping_dir.write("tables/sex.yaml", "table: sex\nsource: GB/T 2261.1-2003\ncodes: {'1': male, '2': female}\n")
    mapping_dir.write("test/doc.yaml", MAPPING)
    return mapping_dir.compiled()


def test_xpath_reads_attributes_and_text_of_a_chinese_document(mappings) -> None:  # type: ignore[no-untyped-def]
    patient, *observations = [r.body for r in map_message(mappings, None, DOC, format="xml").resources]
    assert patient["identifier"] == [{"system": "urn:oid:2.16.156.10011.1.3", "value": "11010519491231002X"}]
    assert patient["name"] == [{"text": "王秀英"}]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1949-12-31"
    assert [o["valueQuantity"] for o in observations] == [
        {"value": 150, "unit": "mm[Hg]"},
        {"value": 95, "unit": "mm[Hg]"},
    ]
    assert all(o["subject"] == {"reference": f"Patient/{patient['id']}"} for o in observations)


def test_an_xxe_document_is_refused_before_mapping(mappings) -> None:  # type: ignore[no-untyped-def]
    xxe = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><ClinicalDocument>&x;</ClinicalDocument>'
    with pytest.raises(XmlError, match="DOCTYPE"):
        map_message(mappings, None, xxe, format="xml")


def test_a_billion_laughs_document_is_refused_before_mapping(mappings) -> None:  # type: ignore[no-untyped-def]
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b"<ClinicalDocument>&d;</ClinicalDocument>"
    )
    with pytest.raises(XmlError, match="DOCTYPE"):
        map_message(mappings, None, lol, format="xml")


def test_an_oversized_document_is_refused(mappings) -> None:  # type: ignore[no-untyped-def]
    from engine.domain.formats.xml import parse_xml

    with pytest.raises(XmlError, match="exceeds the limit"):
        parse_xml(DOC, max_bytes=100)


def test_all_gives_the_text_of_every_matching_node(mapping_dir: MappingDir) -> None:
    mapping_dir.write(
        "test/names.yaml",
        """
        mapping: test/names
        input: xml
        namespaces: {h: "urn:hl7-org:v3"}
        resources:
          - rule: patient
            resource: Patient
            body:
              active: "{{ true }}"
              name: [{given: "{{ all(.//h:given) }}"}]
        """,
    )
    doc = b'<ClinicalDocument xmlns="urn:hl7-org:v3"><name><given>Adam</given><given>A</given></name>'
    doc += b"</ClinicalDocument>"
    [patient] = [r.body for r in map_message(mapping_dir.compiled(), None, doc, format="xml").resources]
    assert patient["name"] == [{"given": ["Adam", "A"]}]
    assert patient["active"] is True
