"""The organisation tree: navigation, and every registry fault reported at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.orgs import SHIPPED, load_organisations
from engine.domain.orgs import Org, RegistryInvalid, Team, UnknownCode, build

COUNTY = [
    Org("33", "省", "province"),
    Org("3301", "县卫健局", "health_bureau", "33"),
    Org("H", "县医院", "lead_hospital", "3301"),
    Org("T1", "甲镇卫生院", "township", "H"),
    Org("V1", "甲村卫生室", "village", "T1"),
    Org("T2", "乙乡卫生院", "township", "H"),
]


def test_ancestors_run_from_parent_to_root() -> None:
    tree = build(COUNTY)
    assert [o.code for o in tree.ancestors("V1")] == ["T1", "H", "3301", "33"]
    assert tree.ancestors("33") == []


def test_descendants_are_depth_first_in_file_order() -> None:
    tree = build(COUNTY)
    assert [o.code for o in tree.descendants("H")] == ["T1", "V1", "T2"]
    assert tree.descendants("V1") == []


def test_rollup_is_the_institution_and_everything_below_it() -> None:
    tree = build(COUNTY)
    assert tree.rollup("T1") == {"T1", "V1"}
    assert tree.rollup("33") == {o.code for o in COUNTY}


def test_teams_belong_to_one_institution() -> None:
    tree = build(COUNTY, [Team("T1-a", "甲镇团队", "T1")])
    assert [t.team_id for t in tree.teams_of("T1")] == ["T1-a"]
    assert tree.teams_of("H") == []


def test_unknown_code_is_refused() -> None:
    with pytest.raises(UnknownCode, match="nowhere"):
        build(COUNTY).ancestors("nowhere")


def test_a_cycle_is_reported_once_with_its_members() -> None:
    orgs = [Org("A", "a", "township", "B"), Org("B", "b", "township", "A")]
    with pytest.raises(RegistryInvalid) as caught:
        build(orgs)
    cycles = [p for p in caught.value.problems if "cycle" in p.message]
    assert [(p.index, p.message) for p in cycles] == [(0, "parents form a cycle: A → B → A")]


def test_a_child_cannot_sit_above_its_parent_level() -> None:
    with pytest.raises(RegistryInvalid, match="a township cannot sit under a village"):
        build([Org("V", "v", "village"), Org("T", "t", "township", "V")])


def test_shipped_registry_loads() -> None:
    tree, errors = load_organisations(SHIPPED)
    assert errors == []
    assert tree is not None
    assert [o.level for o in tree.roots] == ["province"]
    assert all(tree.get(t.org) for t in tree.teams)


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "organisations.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def _lines(tmp_path: Path, text: str) -> list[str]:
    file = _write(tmp_path, text)
    tree, errors = load_organisations(file)
    assert tree is None
    return [str(e).replace(str(file), "F") for e in errors]


def test_unknown_parent_names_file_line_and_field(tmp_path: Path) -> None:
    text = """organisations:
  - {code: "H", name: 县医院, level: lead_hospital}
  - {code: "T1", name: 甲镇卫生院, level: township, parent: "HX"}
"""
    assert _lines(tmp_path, text) == [
        "F:3:56: organisations[1].parent: unknown parent 'HX': no organisation has that code"
    ]


def test_duplicate_code_names_the_second_occurrence(tmp_path: Path) -> None:
    text = """organisations:
  - code: "H"
    name: 县医院
    level: lead_hospital
  - code: "H"
    name: 另一家
    level: lead_hospital
"""
    assert _lines(tmp_path, text) == ["F:5:11: organisations[1].code: duplicate code 'H' (first at item 0)"]


def test_cycle_names_file_and_line(tmp_path: Path) -> None:
    text = """organisations:
  - {code: "A", name: a, level: township, parent: "B"}
  - {code: "B", name: b, level: township, parent: "A"}
"""
    assert _lines(tmp_path, text) == ["F:2:51: organisations[0].parent: parents form a cycle: A → B → A"]


def test_team_of_unknown_institution_names_its_line(tmp_path: Path) -> None:
    text = """organisations:
  - {code: "H", name: 县医院, level: lead_hospital}
teams:
  - {id: "H-T1", name: 团队, org: "H2"}
"""
    assert _lines(tmp_path, text) == ["F:4:33: teams[0].org: unknown organisation 'H2' for this team"]


def test_schema_errors_use_the_channel_file_messages(tmp_path: Path) -> None:
    text = """organisations:
  - {code: 330000, name: 浙江省, level: provnce}
"""
    lines = _lines(tmp_path, text)
    assert lines[0].startswith("F:2:12: organisations[0].code: expected text, got 330000")
    assert lines[1].startswith("F:2:38: organisations[0].level: expected one of: province")
    assert "did you mean 'province'" in lines[1]
