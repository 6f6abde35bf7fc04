"""A mapping that cannot work is refused when the configuration loads, at the line that is wrong."""

from __future__ import annotations

from tests.mapping_engine.conftest import MappingDir


def _errors(mapping_dir: MappingDir, text: str) -> list[str]:
    mapping_dir.write("test/m.yaml", text)
    _, errors = mapping_dir.load()
    return [str(e) for e in errors]


def test_an_unknown_filter_is_reported_at_its_line(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        resources:
          - rule: patient
            resource: Patient
            body:
              birthDate: "{{ PID-7 | dat }}"
        """,
    )
    assert error.startswith(f"{mapping_dir.root / 'test/m.yaml'}:7:18: resources.0.body.birthDate: ")
    assert "unknown filter 'dat'" in error


def test_an_unknown_code_table_names_the_known_ones(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        resources:
          - {rule: patient, resource: Patient, body: {gender: "{{ PID-8 | code: sex }}"}}
        """,
    )
    assert "no code table 'sex'" in error
    assert "hl7v2-0001" in error


def test_a_reference_to_a_rule_that_does_not_exist_is_refused(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        resources:
          - {rule: encounter, resource: Encounter, body: {subject: {reference: "{{ ref(patiant) }}"}}}
        """,
    )
    assert "no rule named 'patiant'" in error


def test_a_malformed_hl7_path_says_what_a_path_looks_like(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        resources:
          - {rule: patient, resource: Patient, body: {gender: "{{ PID_8 }}"}}
        """,
    )
    assert "not an HL7 v2 path: 'PID_8'" in error


def test_a_rule_name_used_twice_is_refused(mapping_dir: MappingDir) -> None:
    errors = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        resources:
          - {rule: patient, resource: Patient}
          - {rule: patient, resource: Patient}
        """,
    )
    assert any("rule 'patient' is defined twice" in e for e in errors)


def test_a_missing_fragment_is_reported_at_the_include(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: hl7v2
        include: [test/_nothing]
        resources: []
        """,
    )
    assert ":3:" in error and "no fragment 'test/_nothing'" in error


def test_the_mapping_name_must_match_the_file(mapping_dir: MappingDir) -> None:
    [error] = _errors(mapping_dir, "mapping: other\ninput: hl7v2\nresources: []\n")
    assert "mapping: must be 'test/m'" in error


def test_a_bad_xpath_is_refused(mapping_dir: MappingDir) -> None:
    [error] = _errors(
        mapping_dir,
        """
        mapping: test/m
        input: xml
        resources:
          - {rule: patient, resource: Patient, body: {gender: "{{ h:patient[@ }}"}}
        """,
    )
    assert "not an XPath expression" in error


def test_a_channel_naming_a_mapping_that_does_not_exist_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.config import load_config

    (tmp_path / "channels").mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "engine.yaml").write_text("store: sqlite:///x.db\nchannels: channels\nmappings: mappings\n")
    (tmp_path / "channels" / "adt.yaml").write_text(
        "channel: adt\nsource: {type: mllp, listen: '127.0.0.1:1'}\nmap: hl7v2/adt\n"
    )
    errors = [str(e) for e in load_config(tmp_path / "engine.yaml", check_environment=False).errors]
    where = tmp_path / "mappings"
    assert errors == [f"{tmp_path / 'channels' / 'adt.yaml'}:3:6: map: no mapping 'hl7v2/adt' in {where} (known: none)"]


def test_a_channel_naming_a_mapping_beside_an_engine_yaml_copied_away_says_where_mappings_were_looked_for(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from engine.config import load_config

    (tmp_path / "channels").mkdir()
    (tmp_path / "engine.yaml").write_text("store: sqlite:///x.db\nchannels: channels\n")
    (tmp_path / "channels" / "adt.yaml").write_text(
        "channel: adt\nsource: {type: mllp, listen: '127.0.0.1:1'}\nmap: hl7v2/adt\n"
    )
    [error] = [str(e) for e in load_config(tmp_path / "engine.yaml", check_environment=False).errors]
    assert f"no mappings directory {tmp_path.parent / 'mappings'} (mappings: in engine.yaml)" in error
