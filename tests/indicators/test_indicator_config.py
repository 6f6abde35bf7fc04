"""Indicator definition files: mistakes are reported at file, line and field."""

from __future__ import annotations

from pathlib import Path

from engine.config.indicators import load_indicators
from engine.config.mappings import load_mappings

REPO = Path(__file__).resolve().parents[2]

GOOD = """indicators:
  - code: admitted
    name: {zh: 住院率, en: Admission rate}
    window: period
    denominator: {residents: {contracted: true}}
    numerator: {residents: {has: {kind: admission}}}
    source: test
"""


def _lines(path: Path) -> list[str]:
    found, errors = load_indicators(path)
    assert found == []
    return [str(e).replace(str(path.parent if path.is_file() else path) + "/", "") for e in errors]


def test_unknown_fact_kind_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    file = tmp_path / "x.yaml"
    file.write_text(GOOD.replace("kind: admission", "kind: admision"), encoding="utf-8")
    (line,) = _lines(file)
    assert line.startswith("x.yaml:6:41: indicators[0].numerator.residents.has.kind: expected one of: follow_up")
    assert "did you mean 'admission'" in line


def test_unit_facts_without_denominator_facts_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "x.yaml"
    file.write_text(GOOD.replace("    window:", "    unit: facts\n    window:"), encoding="utf-8")
    (line,) = _lines(file)
    assert line.startswith("x.yaml:6:18: indicators[0].denominator: unit: facts counts facts")


def test_age_bounds_must_be_ordered(tmp_path: Path) -> None:
    file = tmp_path / "x.yaml"
    file.write_text(GOOD.replace("{contracted: true}", "{age: {min: 75, max: 50}}"), encoding="utf-8")
    (line,) = _lines(file)
    assert "indicators[0].denominator.residents.age.max: max (50) is below min (75)" in line


def test_a_code_defined_twice_across_files_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    assert _lines(tmp_path) == [
        "b.yaml:2:11: indicators[0].code: duplicate indicator code 'admitted' (first defined at a.yaml:2)"
    ]


def test_the_mapping_loader_leaves_the_indicator_directory_alone() -> None:
    _, errors = load_mappings(REPO / "mappings")
    assert not [e for e in errors if "indicators" in str(e.file)]
