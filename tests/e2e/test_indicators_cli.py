"""`huitong indicators` through the real script, on the store tests/indicators/test_from_record.py fills."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.indicators.test_from_record import fill
from tests.support.daemon import huitong, write_config


@pytest.fixture(scope="module")
def config(module_store_url: str, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("indicators-cli")
    path = write_config(root, module_store_url, {}, log_dir / f"indicators-cli-{root.name}.jsonl")
    fill(module_store_url)
    return path


def test_the_table_aligns_indicator_org_numerator_denominator_and_rate(config: Path) -> None:
    done = huitong("indicators", "--period", "2026Q3", config=config)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "period 2026Q3 (2026-07-01..2026-09-30)"
    header, rows = lines[1], lines[2:]
    assert header.split()[:5] == ["INDICATOR", "ORG/TEAM", "NUMERATOR", "DENOMINATOR", "RATE"]
    numbers_end = header.index("NUMERATOR") + len("NUMERATOR")
    assert all(r[numbers_end - 1].isdigit() and r[numbers_end] == " " for r in rows)
    standard = [r.split() for r in rows if r.startswith("hypertension_standard_management ")]
    team = ["hypertension_standard_management", "339901101-T01", "1", "1", "100.0%", "城关镇卫生院家庭医生第一团队"]
    assert team in standard
    assert ["hypertension_standard_management", "339901", "1", "2", "50.0%", "岚溪县卫生健康局"] in standard
    assert ["hypertension_standard_management", "339901104", "0", "0", "-", "岚溪县青山乡卫生院"] in standard


def test_csv_for_one_institution_keeps_it_what_is_below_it_and_their_teams(config: Path) -> None:
    done = huitong("indicators", "--period", "2026Q3", "--org", "339901101", "--format", "csv", config=config)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {r["org"] for r in rows} == {"339901101", "339901101201", "339901101202"}
    assert {r["team"] for r in rows} == {"", "339901101-T01", "339901101-T02"}
    [emergency] = [r for r in rows if r["indicator"] == "contracted_emergency_visit" and r["team"] == "339901101-T01"]
    assert (emergency["numerator"], emergency["denominator"], emergency["rate"]) == ("1", "1", "1.0")


def test_json_for_one_team_gives_only_that_teams_rows(config: Path) -> None:
    done = huitong("indicators", "--period", "2026Q3", "--team", "339901102-T01", "--format", "json", config=config)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows and {r["team"] for r in rows} == {"339901102-T01"}
    control = next(r for r in rows if r["indicator"] == "hypertension_control")
    assert (control["numerator"], control["denominator"], control["rate"]) == (0, 1, 0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026Q5"], "cannot read period '2026Q5'"),
        (["--period", "2026Q3", "--org", "999999"], "unknown organisation code '999999'"),
        (["--period", "2026Q3", "--team", "nobody"], "unknown family-doctor team 'nobody'"),
        (["--period", "2026Q3", "--org", "339901102", "--team", "339901101-T01"], "not 339901102 or below it"),
    ],
)
def test_an_unknown_period_institution_or_team_is_refused_with_exit_code_2(
    config: Path, args: list[str], message: str
) -> None:
    done = huitong("indicators", *args, config=config)
    assert (done.returncode, done.stdout) == (2, "")
    assert message in done.stderr
