"""The synthetic Chinese patient benchmark (bench/cn_patients.py) and its MPI metrics (bench/mpi_metrics.py)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from bench import cn_patients, mpi_metrics
from bench.cn_patients import Bench, generate

PERSONS = 300
SEED = 3


@pytest.fixture(scope="module")
def bench() -> Bench:
    return generate(PERSONS, SEED)


def _truth(b: Bench) -> dict[tuple[str, str], dict[str, str]]:
    return {(t["source"], t["local_id"]): t for t in b.truth}


def _perfect(b: Bench) -> dict[tuple[str, str], dict[str, str]]:
    return {(t["source"], t["local_id"]): {"person_id": t["entity_id"], "decision": "match"} for t in b.truth}


def test_deterministic_per_seed(bench: Bench) -> None:
    again = generate(PERSONS, SEED)
    assert again.people == bench.people and again.truth == bench.truth and again.summary == bench.summary
    assert generate(PERSONS, SEED + 1).people != bench.people


def test_shape(bench: Bench) -> None:
    assert len(bench.persons) == PERSONS == len({t["entity_id"] for t in bench.truth})
    assert all(1 <= len(h.members) <= 6 for h in bench.households)
    for source in ("his", "phs", "emr"):
        ids = [r["local_id"] for r in bench.people if r["source"] == source]
        assert len(ids) == len(set(ids)) and ids  # unique within source
    assert [(r["source"], r["local_id"]) for r in bench.people] == [(t["source"], t["local_id"]) for t in bench.truth]


def test_own_ids_valid_and_sex_digit_matches(bench: Bench) -> None:
    for p in bench.persons:
        assert mpi_metrics.valid_id18(p.own_id), p.own_id
        assert int(p.own_id[16]) % 2 == (1 if p.sex == 1 else 0)
        assert p.own_id[6:14] == p.dob.strftime("%Y%m%d")
    sex_of = {p.entity_id: p.sex for p in bench.persons}
    for row, t in zip(bench.people, bench.truth, strict=True):
        if "sex_missing" not in t["error_tags"]:
            assert cn_patients.SEX_FORMAT[row["source"]].index(row["sex"]) + 1 == sex_of[t["entity_id"]]


def test_twins_share_birth_date_and_household(bench: Bench) -> None:
    twins = defaultdict(list)
    for p in bench.persons:
        if p.relation == "twin":
            twins[p.household_id].append(p)
    assert twins
    for pair in twins.values():
        assert len(pair) == 2
        assert pair[0].dob == pair[1].dob
        assert pair[0].given != pair[1].given and pair[0].surname == pair[1].surname


def test_id_mother_records_carry_the_mothers_id() -> None:
    b = generate(PERSONS, SEED, error_scale=2.0)  # id_mother at 100% of eligible his infant records
    mother_of = {p.household_id: p.own_id for p in b.persons if p.relation == "mother"}
    found = 0
    for row, t in zip(b.people, b.truth, strict=True):
        if "id_mother" in t["error_tags"].split(";"):
            found += 1
            assert row["source"] == "his"
            assert row["id_number"] == mother_of[t["household_id"]] != t["own_id"]
    assert found


def test_metrics_perfect_clustering(bench: Bench) -> None:
    people = {(r["source"], r["local_id"]): r["id_number"] for r in bench.people}
    m = mpi_metrics.evaluate(_truth(bench), _perfect(bench), people)
    assert m["cluster_precision"] == m["cluster_recall"] == m["cluster_f1"] == 1.0
    assert m["false_merge_pairs"] == 0 and m["auto_merges_distinct_valid_ids"] == 0
    assert m["recall_by_error_tag"]["(all)"]["recall"] == 1.0


def test_metrics_joining_twins_is_a_relative_false_merge(bench: Bench) -> None:
    truth = _truth(bench)
    a, b = next(pair for pair in _twin_pairs(bench))
    clusters = _perfect(bench)
    for key, t in truth.items():
        if t["entity_id"] == b:
            clusters[key] = {"person_id": a, "decision": "match"}
    n_a = sum(1 for t in truth.values() if t["entity_id"] == a)
    n_b = sum(1 for t in truth.values() if t["entity_id"] == b)
    m = mpi_metrics.evaluate(truth, clusters)
    assert m["false_merges_relatives"] == n_a * n_b
    assert m["false_merges_not_relatives"] == 0
    assert m["cluster_precision"] < 1.0 and m["cluster_recall"] == 1.0


def test_metrics_unrelated_merge_and_distinct_ids() -> None:
    truth = {("his", "1"): {"entity_id": "E1", "household_id": "H1", "error_tags": ""},
             ("phs", "1"): {"entity_id": "E1", "household_id": "H1", "error_tags": "id_lower_x"},
             ("his", "2"): {"entity_id": "E2", "household_id": "H2", "error_tags": ""}}
    clusters = {k: {"person_id": "P", "decision": "review" if k == ("phs", "1") else "new"} for k in truth}
    people = {("his", "1"): "11010519491231002X", ("phs", "1"): "11010519491231002x",
              ("his", "2"): "110105194912310038"}
    m = mpi_metrics.evaluate(truth, clusters, people)
    assert m["false_merges_not_relatives"] == 2 and m["false_merges_relatives"] == 0
    assert m["auto_merges_distinct_valid_ids"] == 1
    assert m["review_share"] == 0.5
    assert m["recall_by_error_tag"]["id_lower_x"] == {"records": 1, "recalled": 1, "recall": 1.0}
    people[("his", "2")] = "110105194912310037"  # bad check digit: not a valid ID, so no conflict
    assert mpi_metrics.evaluate(truth, clusters, people)["auto_merges_distinct_valid_ids"] == 0


def test_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert cn_patients.main(["--persons", "50", "--seed", "5", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["persons"] == 50 and summary["seed"] == 5
    with (out / "truth.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    with (out / "people.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == cn_patients.PEOPLE_COLUMNS
    clusters = tmp_path / "clusters.csv"
    with clusters.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "local_id", "person_id", "decision"])
        w.writerows([t["source"], t["local_id"], t["entity_id"], "new"] for t in truth)
    capsys.readouterr()
    assert mpi_metrics.main(["--truth", str(out / "truth.csv"), "--clusters", str(clusters),
                             "--people", str(out / "people.csv")]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index("{"):])["cluster_f1"] == 1.0


def _twin_pairs(b: Bench) -> list[tuple[str, str]]:
    by_household = defaultdict(list)
    for p in b.persons:
        if p.relation == "twin":
            by_household[p.household_id].append(p.entity_id)
    return [(pair[0], pair[1]) for pair in by_household.values()]
