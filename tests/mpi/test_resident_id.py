from __future__ import annotations

from engine.domain.mpi import resident_id
from engine.domain.mpi.resident_id import ResidentId

from ._ids import MAN_1990, WOMAN_1992, with_check

GB_EXAMPLE = "11010519491231002X"  # the worked example in GB 11643-1999


def test_published_example_is_valid() -> None:
    assert resident_id.parse(GB_EXAMPLE) == ResidentId(GB_EXAMPLE, valid=True, birth_date="1949-12-31", sex="F")


def test_one_changed_digit_makes_it_invalid_but_keeps_date_and_sex() -> None:
    typo = "11010519491231003X"
    assert resident_id.parse(typo) == ResidentId(typo, valid=False, birth_date="1949-12-31", sex="M")


def test_sex_comes_from_the_parity_of_the_seventeenth_digit() -> None:
    assert resident_id.parse(MAN_1990).sex == "M"
    assert resident_id.parse(WOMAN_1992).sex == "F"


def test_clean_removes_spaces_hyphens_and_full_width_forms() -> None:
    assert resident_id.clean(" １１０１０５-1949 1231-002x ") == GB_EXAMPLE


def test_lower_case_check_x_is_accepted() -> None:
    assert resident_id.parse("11010519491231002x").value == GB_EXAMPLE


def test_fifteen_digit_id_upgrades_to_the_eighteen_digit_one() -> None:
    assert resident_id.upgrade15("110105491231002") == GB_EXAMPLE


def test_fifteen_digit_id_is_parsed_as_its_upgrade() -> None:
    assert resident_id.parse("110105491231002") == resident_id.parse(GB_EXAMPLE)


def test_upgrade_refuses_an_impossible_date() -> None:
    assert resident_id.upgrade15("110105490231002") is None


def test_upgrade_refuses_other_lengths() -> None:
    assert resident_id.upgrade15("11010549123100") is None
    assert resident_id.upgrade15(GB_EXAMPLE) is None


def test_absent_or_not_id_shaped_gives_none() -> None:
    for raw in (None, "", "   ", "12345", "1101051949123100", "11010519491231002Y", "A10105194912310021"):
        assert resident_id.parse(raw) is None, raw


def test_impossible_birth_date_is_invalid_without_date_or_sex() -> None:
    body = "33010619900230123"  # 30 February
    assert resident_id.parse(with_check(body)) == ResidentId(with_check(body), False, None, None)


def test_birth_year_before_1900_is_invalid() -> None:
    assert resident_id.parse(with_check("33010618991231123")).valid is False


def test_unknown_province_code_is_invalid() -> None:
    parsed = resident_id.parse(with_check("99010619900307123"))
    assert parsed is not None
    assert parsed.valid is False
    assert parsed.birth_date == "1990-03-07"


def test_id_from_macao_province_code_is_valid() -> None:
    assert resident_id.parse(with_check("82000019900307123")).valid is True


def test_newborn_under_mothers_id_contradicts_birth_date() -> None:
    mother = resident_id.parse(WOMAN_1992)
    assert resident_id.contradicts(mother, "2024-05-01", "F") is True


def test_different_sex_contradicts_when_the_record_has_no_birth_date() -> None:
    assert resident_id.contradicts(resident_id.parse(MAN_1990), None, "F") is True


def test_a_slip_in_the_sex_field_does_not_contradict_an_id_with_the_records_birth_date() -> None:
    assert resident_id.contradicts(resident_id.parse(MAN_1990), "1990-03-07", "F") is False


def test_a_birth_date_a_day_or_a_month_off_does_not_contradict() -> None:
    rid = resident_id.parse(MAN_1990)
    assert resident_id.contradicts(rid, "1990-03-08", "M") is False
    assert resident_id.contradicts(rid, "1990-08-07", "M") is False


def test_matching_birth_date_and_sex_do_not_contradict() -> None:
    assert resident_id.contradicts(resident_id.parse(MAN_1990), "19900307", "M") is False


def test_day_month_swap_does_not_contradict() -> None:
    assert resident_id.contradicts(resident_id.parse(MAN_1990), "1990-07-03", "M") is False


def test_unknown_record_values_never_contradict() -> None:
    assert resident_id.contradicts(resident_id.parse(MAN_1990), None, None) is False
