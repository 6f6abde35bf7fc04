"""The HL7 v2 mappings in mappings/: every case passes, and every resource they make is valid FHIR.

One test per case under mappings/tests/hl7v2 (its file name is the test id), run through the engine's
Python API as ``huitong test`` runs it; each produced resource is then validated with fhir.resources'
R4B models (R4B's data types and these resources are R4's, as far as this validation goes).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class

from engine.config.mappings import load_mappings, load_table
from engine.domain.mapping import MappingSet
from engine.pipeline.mapping import map_file
from engine.runtime.mapping_tests import run_case

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
CASES = sorted((MAPPINGS / "tests" / "hl7v2").rglob("*.yaml"))
TABLES = sorted((MAPPINGS / "tables").glob("*.yaml"))
HL7V2_MAPPINGS = sorted(p for p in (MAPPINGS / "hl7v2").glob("*.yaml") if not p.name.startswith("_"))


@cache
def _mappings() -> MappingSet:
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors, "\n".join(str(e) for e in errors)
    return mappings


def _case_id(path: Path) -> str:
    return path.relative_to(MAPPINGS / "tests" / "hl7v2").with_suffix("").as_posix()


def test_every_mapping_compiles() -> None:
    mappings, errors = load_mappings(MAPPINGS)
    assert not errors, "\n".join(str(e) for e in errors)
    for file in HL7V2_MAPPINGS:
        assert f"hl7v2/{file.stem}" in mappings.mappings


@pytest.mark.parametrize("file", TABLES, ids=lambda p: p.stem)
def test_every_table_loads_and_cites_a_source(file: Path) -> None:
    table = load_table(file)
    assert table.name == file.stem
    assert len(table.source.strip()) > 20, "source: must say where the codes come from"
    assert table.codes


def test_there_is_a_case_per_message_type() -> None:
    types: set[str] = set()
    for case in CASES:
        data = yaml.safe_load(case.read_text(encoding="utf-8"))
        raw = (case.parent / data["input"]).read_bytes().lstrip(b"\xef\xbb\xbf")
        msh = raw.split(b"\r")[0].split(b"\n")[0].split(b"|")
        types.add("^".join(msh[8].decode("ascii").split("^")[:2]))
    adt = (1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 28, 31, 40, 41, 42, 47, 60)
    wanted = {f"ADT^A{n:02d}" for n in adt} | {
        "ORU^R01", "VXU^V04", "ORM^O01", "OML^O21", "REF^I12", "REF^I14", "RDE^O11",
    }
    assert wanted <= types, f"no case for {sorted(wanted - types)}"


def _validate(resource: dict[str, Any]) -> None:
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(case: Path) -> None:
    mappings = _mappings()
    result = run_case(case, mappings)
    assert result.ok, "\n".join(result.problems)

    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    mapped = map_file(
        mappings,
        [data["mapping"]] if data.get("mapping") else None,
        (case.parent / data["input"]).read_bytes(),
        charset=data.get("charset"),
        source_system=str(data.get("source_system") or ""),
    )
    resources = [r for _, m in mapped for r in m.resources]
    assert resources
    problems = []
    for r in resources:
        try:
            _validate(r.body)
        except Exception as exc:  # pydantic ValidationError, or an unknown resourceType
            problems.append(f"{r.body.get('id')} ({r.type}): {exc}")
    assert not problems, "\n".join(problems)
    refs = {f"{r.type}/{r.body['id']}" for r in resources}
    for r in resources:
        for ref in _references(r.body):
            assert ref in refs, f"{r.body['id']} points at {ref}, which this message did not make"


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = [value["reference"]] if isinstance(value.get("reference"), str) else []
        for v in value.values():
            out.extend(_references(v))
        return out
    if isinstance(value, list):
        return [ref for v in value for ref in _references(v)]
    return []
