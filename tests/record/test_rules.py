"""The record's pure rules: whose value wins, when two facts are one, how local ids become stored ones."""

from __future__ import annotations

import orjson

from engine.domain.record.facts import fact_digest
from engine.domain.record.precedence import SourceVersion, merge
from engine.domain.record.references import rewrite

RULES = {"default": ["his.*", "phs.*"], "address": ["phs.*", "his.*"], "generalPractitioner": ["phs.*"]}
HIS = SourceVersion(
    "his.county", 200.0, {"name": [{"text": "王建国"}], "address": [{"text": "解放路18号"}], "gender": "male"}
)
PHS = SourceVersion(
    "phs.county", 100.0, {"name": [{"text": "王建囯"}], "address": [{"text": "洋港村3组"}], "birthDate": "1968-03-14"}
)


def test_each_field_comes_from_its_first_listed_source_and_says_so() -> None:
    merged = merge("Patient", "p1", [HIS, PHS], RULES)
    assert merged.body["name"] == [{"text": "王建国"}]
    assert merged.body["address"] == [{"text": "洋港村3组"}]
    assert merged.sources["name"] == ("his.county",)
    assert merged.sources["address"] == ("phs.county",)


def test_a_field_the_winning_source_lacks_comes_from_the_next_one() -> None:
    merged = merge("Patient", "p1", [HIS, PHS], RULES)
    assert (merged.body["birthDate"], merged.sources["birthDate"]) == ("1968-03-14", ("phs.county",))


def test_unlisted_sources_rank_after_listed_ones_most_recent_first() -> None:
    clinic_old = SourceVersion("clinic.a", 300.0, {"gender": "female"})
    clinic_new = SourceVersion("clinic.b", 400.0, {"gender": "unknown", "maritalStatus": {"text": "已婚"}})
    merged = merge("Patient", "p1", [clinic_old, HIS, clinic_new], RULES)
    assert merged.sources["gender"] == ("his.county",)
    older = SourceVersion("clinic.a", 300.0, {"maritalStatus": {"text": "未婚"}})
    merged = merge("Patient", "p1", [older, clinic_new], {})
    assert merged.body["maritalStatus"] == {"text": "已婚"}


def test_a_valid_value_survives_over_an_invalid_one_from_a_preferred_source() -> None:
    his = SourceVersion("his.county", 200.0, {"birthDate": "1968-02-30", "gender": "unknown"})
    phs = SourceVersion(
        "phs.county",
        100.0,
        {"birthDate": "1968-03-14", "gender": "male", "telecom": [{"system": "phone", "value": "13905790001"}]},
    )
    broken_phone = SourceVersion("his.county", 300.0, {"telecom": [{"system": "phone", "value": "12"}]})
    merged = merge("Patient", "p1", [his, phs, broken_phone], RULES)
    assert merged.sources["birthDate"] == merged.sources["gender"] == merged.sources["telecom"] == ("phs.county",)


def test_identifiers_are_the_union_of_every_source() -> None:
    his = SourceVersion("his.county", 2.0, {"identifier": [{"system": "urn:his", "value": "H1"}]})
    phs = SourceVersion(
        "phs.county", 1.0, {"identifier": [{"system": "urn:phs", "value": "P1"}, {"system": "urn:his", "value": "H1"}]}
    )
    merged = merge("Patient", "p1", [his, phs], RULES)
    assert [i["value"] for i in merged.body["identifier"]] == ["H1", "P1"]
    assert merged.sources["identifier"] == ("his.county", "phs.county")


def test_the_merged_resource_carries_the_id_it_is_given() -> None:
    assert merge("Patient", "person-1", [HIS], RULES).body["id"] == "person-1"


def observation(local_id: str, patient: str, encounter: str, source: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": local_id,
        "meta": {"source": source},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "收缩压"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "valueQuantity": {"value": 142, "unit": "mm[Hg]"},
    }


def test_identical_facts_have_one_digest_whatever_ids_meta_and_local_references() -> None:
    his = observation("obs-1", "pat-1", "enc-1", "his")
    phs = observation("bp-77", "p9", "v3", "phs")
    assert fact_digest(his) == fact_digest(phs)


def test_a_different_value_is_a_different_fact() -> None:
    other = observation("obs-1", "pat-1", "enc-1", "his") | {"valueQuantity": {"value": 128, "unit": "mm[Hg]"}}
    assert fact_digest(other) != fact_digest(observation("obs-1", "pat-1", "enc-1", "his"))


def test_key_order_does_not_change_the_digest() -> None:
    body = observation("obs-1", "pat-1", "enc-1", "his")
    assert fact_digest(dict(reversed(body.items()))) == fact_digest(body)


def test_rewrite_sets_the_stored_id_and_rewrites_known_local_references() -> None:
    body = observation("obs-1", "pat-1", "enc-1", "his") | {"basedOn": [{"reference": "ServiceRequest/sr-9"}]}
    ids = {"Patient/pat-1": "Patient/person-a", "Encounter/enc-1": "Encounter/e42"}
    out = orjson.loads(rewrite(body, "o77", ids))
    assert out["id"] == "o77"
    assert out["subject"] == {"reference": "Patient/person-a"}
    assert out["encounter"] == {"reference": "Encounter/e42"}
    assert out["basedOn"] == [{"reference": "ServiceRequest/sr-9"}]  # not in this message: left alone
    assert body["id"] == "obs-1"  # the input is not changed
