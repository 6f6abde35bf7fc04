"""`huitong mpi ...` through the real script: a CSV export deduplicated, and operators working on the store."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from engine.pipeline.record import apply
from engine.store import mpi as store
from engine.store.database import migrate, open_engine
from tests.mpi._ids import with_check
from tests.record.people import HIS, HIS_MRN, PHS, PHS_MRN, message, mrn, patient, resident, source
from tests.support.daemon import huitong, write_config
from tests.support.mpi import shipped_resolver

PEOPLE = Path(__file__).with_name("people.csv")
LI_ID = with_check("33078119680314001")


def clusters(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        return {f"{r['source']}:{r['local_id']}": r["person_id"] for r in csv.DictReader(handle)}


def test_dedupe_of_a_csv_export_writes_the_documented_clusters_file(tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = huitong("mpi", "dedupe", "--input", str(PEOPLE), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "11 records" in result.stdout
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "source,local_id,person_id,decision"
    person = clusters(out)
    # 李建国 in three systems: no ID in one, a homophone and pinyin; 赵敏 with a 15-digit ID and a traditional name.
    assert person["his:H-1001"] == person["phs:P-2001"] == person["emr:E-3001"]
    assert person["his:H-1005"] == person["emr:E-3005"]
    # Twins registered under their mother's ID are neither their mother nor each other.
    assert len({person["his:H-1002"], person["his:H-1003"], person["his:H-1004"]}) == 3
    assert person["his:H-1003"] == person["phs:P-2003"] and person["his:H-1004"] == person["phs:P-2004"]


def test_a_csv_without_the_documented_header_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text("source,id,name\nhis,1,张三\n", encoding="utf-8")
    result = huitong("mpi", "dedupe", "--input", str(bad), "--output", str(tmp_path / "out.csv"))
    assert result.returncode == 1
    assert f"{bad}:1: the header lacks local_id" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_train_on_a_csv_writes_a_model_the_settings_can_load(tmp_path: Path) -> None:
    from bench.cn_patients import generate, write

    data = tmp_path / "data"
    write(generate(400, 3, 1.0), data)
    model = tmp_path / "model.json"
    result = huitong("mpi", "train", "--input", str(data / "people.csv"), "--output", str(model))
    assert result.returncode == 0, result.stderr
    trained = json.loads(model.read_text(encoding="utf-8"))
    name = next(c for c in trained["comparisons"] if c["name"] == "name")
    same = name["levels"][0]
    assert same["m"] / same["u"] > 100  # agreeing on the name is strong evidence, learnt from the data


@pytest.fixture
def config(store_url: str, tmp_path: Path, log_dir: Path) -> Path:
    path = write_config(tmp_path, store_url, {}, log_dir / f"mpi-cli-{tmp_path.name}.jsonl")
    engine = open_engine(store_url)
    migrate(engine)
    li = {"name": [{"text": "李建国"}], "gender": "male", "birthDate": "1968-03-14"}
    li["telecom"] = [{"system": "phone", "value": "13907921011"}]
    his = message(patient(resident(LI_ID), mrn(HIS_MRN, "H-1"), **li))
    phs = message(patient(mrn(PHS_MRN, "P-1"), name=[{"text": "李建国"}], birthDate="1975-02-02"))
    with engine.begin() as conn:
        apply(conn, [(his, source(HIS, 1)), (phs, source(PHS, 2, "phs-xml"))], time.time(), shipped_resolver())
    engine.dispose()
    return path


def test_search_by_resident_id_finds_the_person_as_certain(config: Path) -> None:
    result = huitong("mpi", "search", "--id", LI_ID, config=config)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert "certain" in line and "p=1.0000" in line and "李建国" in line


def test_search_by_phone_alone_finds_the_person_with_that_phone(config: Path) -> None:
    result = huitong("mpi", "search", "--phone", "139-0792-1011", "--json", config=config)
    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)
    shown = json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)
    assert found["person"] == shown["person"]


@pytest.mark.parametrize("name", ["李建国", "李建國", "Li Jianguo"])
def test_search_by_name_alone_finds_both_persons_of_that_name_written_any_way(config: Path, name: str) -> None:
    result = huitong("mpi", "search", "--name", name, "--json", config=config)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2  # the HIS's 李建国 of 1968 and the other of 1975


def test_search_as_fhir_gives_a_searchset_with_match_grades(config: Path) -> None:
    result = huitong("mpi", "search", "--name", "李建国", "--birth-date", "1968-03-14", "--fhir", config=config)
    bundle = json.loads(result.stdout)
    assert bundle["type"] == "searchset"
    first = bundle["entry"][0]
    assert first["resource"]["resourceType"] == "Patient"
    assert first["search"]["extension"][0]["valueCode"] == "certain"


def test_search_with_too_little_to_go_on_says_what_to_give(config: Path) -> None:
    result = huitong("mpi", "search", "--birth-date", "1968-03-14", config=config)
    assert result.returncode == 1
    assert "give a resident ID, a name or a phone" in result.stderr


def test_explain_prints_each_fields_contribution_and_the_thresholds(config: Path) -> None:
    shown = json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)
    other = json.loads(huitong("mpi", "show", f"{PHS_MRN}|P-1", "--json", config=config).stdout)
    result = huitong("mpi", "explain", shown["records"][0]["record"], other["records"][0]["record"], config=config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("name") and "same name" in line for line in lines)
    assert any(line.strip().startswith("birth_date") and "else" in line for line in lines)
    assert any("blocking rule that pairs them" in line for line in lines)
    assert any(line.strip().startswith("thresholds: link >= 0.99") for line in lines)


def test_merge_then_unmerge_by_an_operator(config: Path, store_url: str) -> None:
    merged = huitong("mpi", "merge", LI_ID, f"{PHS_MRN}|P-1", "--reason", "same man", "--actor", "op", config=config)
    assert merged.returncode == 0, merged.stderr
    merge_id = merged.stdout.split()[1].rstrip(":")
    shown = json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)
    assert len(shown["records"]) == 2
    undone = huitong("mpi", "unmerge", merge_id, "--reason", "not him", config=config)
    assert undone.returncode == 0, undone.stderr
    shown = json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)
    assert len(shown["records"]) == 1
    again = huitong("mpi", "unmerge", merge_id, "--reason", "twice", config=config)
    assert again.returncode == 1 and "already undone" in again.stderr


def test_an_operator_change_needs_a_reason(config: Path) -> None:
    result = huitong("mpi", "merge", LI_ID, f"{PHS_MRN}|P-1", config=config)
    assert result.returncode == 2
    assert "--reason" in result.stderr


def test_review_list_and_accept(config: Path, store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.begin() as conn:
        his_person = json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)["person"]
        his = store.of_persons(conn, [his_person])
        phs_person = json.loads(huitong("mpi", "show", f"{PHS_MRN}|P-1", "--json", config=config).stdout)["person"]
        [phs] = store.of_persons(conn, [phs_person])
        store.open_review(conn, phs.id, his[0].person_id, 0.7, time.time())
    engine.dispose()
    listed = huitong("mpi", "review", "list", config=config)
    assert f"record {phs.id}" in listed.stdout and "p=0.7000" in listed.stdout
    review_id = listed.stdout.split()[0]
    accepted = huitong("mpi", "review", "accept", review_id, "--reason", "checked", config=config)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(huitong("mpi", "show", LI_ID, "--json", config=config).stdout)["records"][1]["record"] == phs.id
    assert "no open reviews" in huitong("mpi", "review", "list", config=config).stdout
