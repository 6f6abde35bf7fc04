"""Everything is compiled at load, into one bundle: `huitong validate` fails on a broken rule file beside the
mappings, and a loaded configuration carries every compiled rule (nothing is read from files later)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import load_config
from tests.support.daemon import SHIPPED_ENV, huitong

REPO = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    for name in ("config", "channels", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    return tmp_path / "config" / "engine.yaml"


@pytest.mark.parametrize(
    ("file", "broken"),
    [
        ("care/tasks.yaml", "tasks: 5\n"),
        ("indicators/inputs/record.yaml", "facts: {no_such_kind: []}\n"),
    ],
)
def test_validate_fails_on_a_broken_rule_file_and_names_it(tmp_path: Path, file: str, broken: str) -> None:
    engine_yaml = _copy(tmp_path)
    (tmp_path / "mappings" / file).write_text(broken, encoding="utf-8")
    done = huitong("validate", "--no-environment", config=engine_yaml)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{tmp_path / 'mappings' / file}:" in done.stdout + done.stderr


def test_the_loaded_configuration_carries_every_compiled_rule() -> None:
    result = load_config(REPO / "config" / "engine.yaml", environ=SHIPPED_ENV, check_environment=False)
    assert result.config is not None, result.errors
    rules = result.config.bundle.rules
    assert rules.care is not None and rules.care.labels and rules.care.tasks.controls
    assert rules.indicators and rules.record_inputs is not None
    assert rules.record_inputs.task_rules is rules.care.tasks
