"""fhir_api.export_dir and export_expires in engine.yaml: defaults beside the store, checked at load."""

from __future__ import annotations

from pathlib import Path

from tests.config.config_site import Site


def test_export_dir_defaults_to_var_beside_the_store_and_files_keep_a_day(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.engine_yaml("fhir_api: {listen: 127.0.0.1:8090}\n")
    config = site.load(check_environment=False).config
    assert config is not None and config.fhir_api is not None
    assert config.fhir_api.export_dir == tmp_path / "var" / "fhir-export"
    assert config.fhir_api.export_expires == 86400.0


def test_an_export_dir_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    site = Site(tmp_path)
    (tmp_path / "exports").write_text("not a folder")
    site.engine_yaml("fhir_api: {listen: 127.0.0.1:8090, export_dir: ../exports, export_expires: 2h}\n")
    lines = site.lines(check_environment=False)
    assert any("export_dir" in line and "engine.yaml:1" in line and "is a file" in line for line in lines), lines
