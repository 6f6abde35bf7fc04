"""Mappings compiled to generated Python functions map every message exactly as the closures do.

On every shipped test case (mappings/tests) and every message of the corpus (tests/corpus: HL7 v2, C-CDA
and XML): the same resources (rule, key, body), events and notes, or the same error.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config.mappings import load_mappings
from engine.domain.mapping import MappingSet
from engine.pipeline.mapping import map_file

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
CASES = sorted((MAPPINGS / "tests").rglob("*.yaml"))
CORPUS = sorted(
    p for p in (ROOT / "tests" / "corpus").rglob("*") if p.suffix in (".hl7", ".hl7v2", ".ccda", ".xml")
)


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


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(MAPPINGS / "tests")))
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
