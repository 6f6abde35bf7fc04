from __future__ import annotations

from typing import Any

import pytest

from engine.domain.mpi import features
from engine.domain.mpi.features import FEATURE_KEYS, from_fields, from_patient, from_row

from ._ids import MAN_1990, WOMAN_1992

ZHANG_WEI: dict[str, str | None] = {
    "name": "张伟",
    "sex": "男",
    "birth_date": "1990-03-07",
    "id_number": MAN_1990,
    "phone": "138-0013-8000",
    "address": "浙江省杭州市西湖区文三路1号",
}


def test_features_have_exactly_the_documented_keys() -> None:
    assert tuple(from_fields(**ZHANG_WEI)) == FEATURE_KEYS


def test_typical_record() -> None:
    assert from_fields(**ZHANG_WEI) == {
        "id": MAN_1990,
        "id_raw": MAN_1990,
        "guardian_id": None,
        "name": "张伟",
        "name_py": "zhangwei",
        "name_py_variants": "weizhang|zhangwei",
        "family_py": "zhang",
        "given_py": "wei",
        "name_sorted": "weizhang",
        "sex": "M",
        "birth_year": "1990",
        "dob": "1990-03-07",
        "phone": "13800138000",
        "address": "杭州市西湖区文三路1号",
        "division": None,
    }


def test_a_romanised_name_in_either_order_sorts_to_the_han_names_key() -> None:
    han = from_fields(**ZHANG_WEI)["name_sorted"]
    assert from_fields(**{**ZHANG_WEI, "name": "WEI ZHANG"})["name_sorted"] == han
    assert from_fields(**{**ZHANG_WEI, "name": "Zhang Wei"})["name_sorted"] == han


def test_empty_record_is_all_none() -> None:
    empty = from_fields(name=None, sex=None, birth_date=None, id_number=None, phone=None, address=None)
    assert set(empty.values()) == {None}


def test_invalid_id_is_kept_raw_but_not_as_id() -> None:
    typo = MAN_1990[:-2] + str((int(MAN_1990[-2]) + 1) % 10) + MAN_1990[-1]
    result = from_fields(**{**ZHANG_WEI, "id_number": typo})
    assert (result["id"], result["id_raw"], result["guardian_id"]) == (None, typo, None)


def test_fifteen_digit_id_is_upgraded() -> None:
    first_generation = MAN_1990[:6] + MAN_1990[8:17]
    assert from_fields(**{**ZHANG_WEI, "id_number": first_generation})["id"] == MAN_1990


def test_newborn_under_mothers_id_gets_it_as_guardian_id() -> None:
    newborn = from_fields(
        name="李小宝", sex="女", birth_date="2024-05-01", id_number=WOMAN_1992, phone=None, address=None
    )
    assert (newborn["id"], newborn["id_raw"], newborn["guardian_id"]) == (None, None, WOMAN_1992)


def test_birth_date_is_not_copied_from_the_id() -> None:
    assert from_fields(**{**ZHANG_WEI, "birth_date": None})["dob"] is None


def test_record_without_birth_date_keeps_its_own_id() -> None:
    assert from_fields(**{**ZHANG_WEI, "birth_date": None})["id"] == MAN_1990


def test_division_code_leading_the_address_is_read() -> None:
    result = from_fields(**{**ZHANG_WEI, "address": "330106 杭州市西湖区文三路1号"})
    assert (result["division"], result["address"]) == ("330106", "杭州市西湖区文三路1号")


@pytest.mark.parametrize(("raw", "code"), [("M", "M"), ("male", "M"), ("男", "M"), ("1", "M"),
                                           ("F", "F"), ("Female", "F"), ("女", "F"), ("2", "F")])  # fmt: skip
def test_sex_spellings(raw: str, code: str) -> None:
    assert features.sex(raw) == code


@pytest.mark.parametrize("raw", [None, "", "0", "9", "U", "unknown", "other"])
def test_unknown_sex_is_none(raw: str | None) -> None:
    assert features.sex(raw) is None


def test_csv_row_gives_the_same_features_as_its_fields() -> None:
    row = {"source": "his-a", "local_id": "0001", **{k: v or "" for k, v in ZHANG_WEI.items()}}
    assert from_row(row) == from_fields(**ZHANG_WEI)


def test_csv_row_empty_cells_are_absent() -> None:
    row = {"source": "his-a", "local_id": "0002", "name": "王芳", "sex": "", "birth_date": "", "id_number": "",
           "phone": "", "address": ""}  # fmt: skip
    result = from_row(row)
    assert (result["name"], result["sex"], result["dob"], result["id_raw"]) == ("王芳", None, None, None)


FHIR_PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [
        {"system": "urn:oid:2.16.156.10011.1.12", "value": "MRN-0042"},
        {"system": "urn:oid:2.16.156.10011.1.3", "value": MAN_1990},
    ],
    "name": [{"family": "张", "given": ["伟"]}],
    "gender": "male",
    "birthDate": "1990-03-07",
    "telecom": [{"system": "email", "value": "zw@example.cn"}, {"system": "phone", "value": "+86 138 0013 8000"}],
    "address": [
        {"state": "浙江省", "city": "杭州市", "district": "西湖区", "line": ["文三路1号"], "postalCode": "310013"}
    ],
}


def test_fhir_patient_gives_the_same_features_as_its_fields() -> None:
    assert from_patient(FHIR_PATIENT) == from_fields(**ZHANG_WEI)


def test_fhir_resident_id_found_by_identifier_type() -> None:
    typed = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NNCHN"}]},
             "value": MAN_1990}  # fmt: skip
    assert from_patient({**FHIR_PATIENT, "identifier": [typed]})["id"] == MAN_1990


def test_fhir_other_identifiers_are_not_resident_ids() -> None:
    assert from_patient({**FHIR_PATIENT, "identifier": FHIR_PATIENT["identifier"][:1]})["id_raw"] is None


def test_fhir_name_text_wins_over_parts() -> None:
    assert from_patient({**FHIR_PATIENT, "name": [{"text": "張偉", "family": "X"}]})["name"] == "张伟"


def test_fhir_latin_name_parts_are_family_then_given() -> None:
    assert from_patient({**FHIR_PATIENT, "name": [{"family": "Zhang", "given": ["Wei"]}]})["name"] == "ZHANG WEI"


def test_fhir_division_from_district_code() -> None:
    address = {**FHIR_PATIENT["address"][0], "district": "330106"}
    assert from_patient({**FHIR_PATIENT, "address": [address]})["division"] == "330106"


def test_fhir_postal_code_is_not_a_division() -> None:
    assert from_patient(FHIR_PATIENT)["division"] is None


def test_fhir_patient_without_anything_is_all_none() -> None:
    assert set(from_patient({"resourceType": "Patient"}).values()) == {None}
