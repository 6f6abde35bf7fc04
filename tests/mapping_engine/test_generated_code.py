"""HL7 v2 mappings compiled to generated Python functions map every message exactly as the closures do.

On every shipped HL7 v2 test case (mappings/tests/hl7v2) and every HL7 v2 message of the corpus (tests/corpus):
the same resources (rule, key, body), events and notes, or the same error. (XML and JSON mappings are closures
either way.)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config.mappings import load_mappings
from engine.domain.mapping import MappingError, MappingSet
from engine.pipeline.mapping import map_file
from tests.support.corpus import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
CASES = sorted((MAPPINGS / "tests" / "hl7v2").rglob("*.yaml"))
CORPUS = sorted(p for p in (ROOT / "tests" / "corpus").rglob("*") if p.suffix in (".hl7", ".hl7v2"))


@cache
def _mappings(generate: bool) -> MappingSet:
    found, errors = load_mappings(MAPPINGS, generate=generate)
    assert not errors, [str(e) for e in errors]
    return found


def _outcome(generate: bool, data: bytes, **options: Any) -> Any:
    try:
        mapped = map_file(_mappings(generate), options.pop("names", None), data, **options)
    except Exception as exc:  # the same error, word for word, is part of the same outcome
        return type(exc).__name__, str(exc)
    return [
        (seed, m.mapping, m.version, [(r.rule, r.key, r.body) for r in m.resources],
         [(e.kind, e.data) for e in m.events], m.notes)
        for seed, m in mapped
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(MAPPINGS / "tests" / "hl7v2")))
def test_a_shipped_case_maps_the_same_generated_and_interpreted(case: Path) -> None:
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    options = {
        "names": [spec["mapping"]] if spec.get("mapping") else None,
        "charset": spec.get("charset"),
        "source_system": str(spec.get("source_system") or ""),
    }
    data = (case.parent / spec["input"]).read_bytes()
    generated = _outcome(True, data, **options)
    assert generated == _outcome(False, data, **options)
    assert isinstance(generated, list) and generated, generated


@pytest.mark.parametrize("sample", CORPUS, ids=lambda p: str(p.relative_to(ROOT / "tests" / "corpus")))
def test_a_corpus_sample_maps_the_same_generated_and_interpreted(sample: Path) -> None:
    data = sample.read_bytes()
    assert _outcome(True, data, source_system="his.corpus") == _outcome(False, data, source_system="his.corpus")


FAILING_FUNCTION = """
def surname(value):
    raise ValueError("no surname rule for this name")
"""


def test_a_failure_in_generated_code_names_the_file_and_rule_as_the_closures_do(mapping_dir) -> None:  # type: ignore[no-untyped-def]
    mapping_dir.write("functions/cn.py", FAILING_FUNCTION)
    mapping_dir.write(
        "test/m.yaml",
        """
        mapping: test/m
        input: hl7v2
        resources:
          - rule: patient
            resource: Patient
            body:
              name: [{family: "{{ PID-5.1 | py: functions/cn.py:surname }}"}]
        """,
    )
    data = (SAMPLES / "hl7v2" / "adt_a04_gb18030.hl7").read_bytes()
    errors = []
    for generate in (True, False):
        found, problems = load_mappings(mapping_dir.root, generate=generate)
        assert not problems
        with pytest.raises(MappingError) as raised:
            map_file(found, None, data, charset="gb18030")
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith(f"{mapping_dir.root / 'test/m.yaml'}: rule patient: ValueError: no surname rule")
