"""The CDA mappings (mappings/cda/*.yaml): their test cases pass, what they produce is valid FHIR R4, and
hostile XML is refused at the mapping entry point before any rule runs."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import pytest

from engine.config.mappings import load_mappings
from engine.domain.formats.xml import XmlError
from engine.domain.mapping import MappingSet
from engine.pipeline.mapping import map_file, map_message
from engine.runtime.mapping_tests import run_case

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
CASES = sorted((MAPPINGS / "tests" / "cda").rglob("*.yaml"))
CORPUS_CCDA = sorted((ROOT / "tests/corpus/microsoft-fhir-converter/data/SampleData/Ccda").glob("*"))


@cache
def mappings() -> MappingSet:
    found, errors = load_mappings(MAPPINGS)
    assert not errors, "\n".join(map(str, errors))
    return found


def r4b_model(resource_type: str) -> type:
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)  # type: ignore[no-any-return]


def assert_valid_r4b(resources: list[dict]) -> None:
    for body in resources:
        r4b_model(body["resourceType"]).model_validate(body)


def test_there_are_cda_cases() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(MAPPINGS / "tests")))
def test_case_passes_and_its_resources_are_valid_r4b(case: Path) -> None:
    result = run_case(case, mappings())
    assert result.ok, "\n".join(result.problems)
    import yaml

    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    data = (case.parent / spec["input"]).read_bytes()
    results = map_file(mappings(), [spec["mapping"]], data, format="xml")
    resources = [r.body for _, mapped in results for r in mapped.resources]
    assert resources
    assert_valid_r4b(resources)


@pytest.mark.parametrize("doc", CORPUS_CCDA, ids=lambda p: p.name)
def test_every_corpus_ccda_maps_to_valid_r4b(doc: Path) -> None:
    mapped = map_message(mappings(), ["cda/ccda"], doc.read_bytes(), format="xml")
    assert mapped.of_type("Patient"), "every C-CDA document has a recordTarget"
    assert_valid_r4b([r.body for r in mapped.resources])


def test_chinese_text_is_kept() -> None:
    data = (MAPPINGS / "tests" / "cda" / "cn" / "discharge-summary-wst500-53.xml").read_bytes()
    mapped = map_message(mappings(), ["cda/wst500"], data, format="xml")
    patient = mapped.of_type("Patient")[0].body
    assert patient["name"][0]["text"] == "王建国"
    assert patient["identifier"][0] == {
        "use": "official",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI"}]},
        "system": "urn:oid:2.16.156.10011.1.3",
        "value": "330781195803124513",
    }
    texts = [o.body.get("valueString") for o in mapped.of_type("Observation")]
    assert "低盐低脂饮食，规律服药，两周后心内科门诊复诊。" in texts


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><patient>
<name><family>&xxe;</family></name></patient></patientRole></recordTarget></ClinicalDocument>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>
"""


@pytest.mark.parametrize("mapping", ["cda/ccda", "cda/wst500"])
@pytest.mark.parametrize("payload", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_xml_is_refused_with_a_clear_xml_error(payload: bytes, mapping: str) -> None:
    # XXE: the parser leaves the entity alone and parse_xml refuses the DOCTYPE. Billion laughs: libxml2
    # stops the expansion itself while parsing ("entity amplification"), before parse_xml's DOCTYPE check.
    with pytest.raises(XmlError, match=r"DOCTYPE|entity amplification") as info:
        map_message(mappings(), [mapping], payload, format="xml")
    assert "root:" not in str(info.value) and "lollol" not in str(info.value)
