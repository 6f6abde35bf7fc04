"""huitong convert prints a Bundle for one file; huitong test runs the cases beside the mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mapping_engine.conftest import MappingDir
from tests.support.corpus import SAMPLES
from tests.support.daemon import huitong

MAPPING = """
mapping: test/adt
input: hl7v2
timezone: "+08:00"
messages: [ADT^*]
resources:
  - rule: patient
    resource: Patient
    body:
      name: [{text: "{{ PID-5.1 }}"}]
      gender: "{{ PID-8 | code: hl7v2-0001 }}"
  - rule: encounter
    resource: Encounter
    for: PV1
    body:
      subject: {reference: "{{ ref(patient) }}"}
      period: {start: "{{ PV1-44 | datetime }}"}
"""


@pytest.fixture
def config(mapping_dir: MappingDir, tmp_path: Path) -> Path:
    mapping_dir.write("test/adt.yaml", MAPPING)
    (tmp_path / "channels").mkdir()
    engine = tmp_path / "engine.yaml"
    engine.write_text(f"store: sqlite:///{tmp_path}/h.db\nchannels: channels\nmappings: {mapping_dir.root}\n")
    return engine


def test_convert_prints_a_bundle_with_references_as_full_urls(config: Path) -> None:
    done = huitong("convert", str(SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7"), "--charset", "gb18030", config=config)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    assert bundle["resourceType"] == "Bundle"
    patient, encounter = (e["resource"] for e in bundle["entry"])
    assert patient["name"] == [{"text": "张三"}]
    assert encounter["subject"]["reference"] == bundle["entry"][0]["fullUrl"]
    assert encounter["period"]["start"] == "2025-03-12T09:30:00+08:00"


def test_convert_names_the_file_when_it_cannot_be_mapped(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    done = huitong("convert", str(bad), config=config)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{bad}: XML with a DOCTYPE declaration is refused")


def _case(mapping_dir: MappingDir, expect: str) -> None:
    sample = (SAMPLES / "hl7v2" / "adt_a04_utf8.hl7").read_bytes()
    (mapping_dir.root / "tests").mkdir(parents=True, exist_ok=True)
    (mapping_dir.root / "tests" / "a04.hl7").write_bytes(sample)
    mapping_dir.write("tests/a04.yaml", f"input: a04.hl7\n{expect}")


def test_a_passing_case_prints_ok(config: Path, mapping_dir: MappingDir) -> None:
    _case(
        mapping_dir,
        "expect:\n  - {resourceType: Patient, gender: male}\n"
        "  - {resourceType: Encounter, subject: {reference: Patient}}\ncount: {Encounter: 1}\n",
    )
    done = huitong("test", config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    " in done.stdout and "1 case(s), 0 failed" in done.stdout


def test_a_failing_case_prints_a_diff_and_exits_1(config: Path, mapping_dir: MappingDir) -> None:
    _case(mapping_dir, "expect:\n  - {resourceType: Patient, gender: female}\n")
    done = huitong("test", "test/adt", config=config)
    assert done.returncode == 1
    assert "FAIL" in done.stdout
    assert "-gender: female" in done.stdout and "+gender: male" in done.stdout
