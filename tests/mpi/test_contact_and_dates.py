from __future__ import annotations

import pytest

from engine.domain.mpi import contact, dates


def test_full_width_mobile_becomes_ascii_digits() -> None:
    assert contact.phone("１３８００１３８０００") == "13800138000"


@pytest.mark.parametrize("raw", ["+86 138 0013 8000", "+86-13800138000", "0086 13800138000", "8613800138000"])
def test_country_prefix_is_dropped(raw: str) -> None:
    assert contact.phone(raw) == "13800138000"


def test_landline_keeps_its_area_code() -> None:
    assert contact.phone("(0571) 8800-1234") == "057188001234"


def test_international_landline_regains_its_trunk_zero() -> None:
    assert contact.phone("+86 571 8800 1234") == "057188001234"


def test_bare_local_number_is_kept() -> None:
    assert contact.phone("8800-1234") == "88001234"


def test_mobile_dialled_with_trunk_zero_is_the_mobile() -> None:
    assert contact.phone("013800138000") == "13800138000"


def test_extension_is_dropped() -> None:
    assert contact.phone("0571-88001234转8001") == "057188001234"


def test_first_of_several_numbers_is_kept() -> None:
    assert contact.phone("13800138000 / 13900139000") == "13800138000"


@pytest.mark.parametrize("raw", [None, "", "12345", "120", "+1 415 555 0100", "23800138000"])
def test_not_a_mainland_phone_gives_none(raw: str | None) -> None:
    assert contact.phone(raw) is None


def test_address_with_and_without_province_compare_equal() -> None:
    assert contact.address("浙江省杭州市西湖区文三路1号") == contact.address("杭州市 西湖区 文三路 1 号")


def test_address_drops_country_and_short_province_name() -> None:
    assert contact.address("中国浙江杭州市西湖区") == "杭州市西湖区"


def test_address_drops_autonomous_region_whole() -> None:
    assert contact.address("广西壮族自治区南宁市青秀区") == "南宁市青秀区"


def test_address_becomes_simplified() -> None:
    assert contact.address("杭州市西湖區文三路1號") == "杭州市西湖区文三路1号"


def test_city_named_like_its_province_is_kept() -> None:
    assert contact.address("吉林市船营区") == "吉林市船营区"
    assert contact.address("吉林省吉林市船营区") == "吉林市船营区"


def test_prefecture_named_like_another_province_is_kept() -> None:
    assert contact.address("海南藏族自治州共和县") == "海南藏族自治州共和县"


def test_leading_division_code_is_not_part_of_the_address() -> None:
    assert contact.address("330106 浙江省杭州市西湖区") == "杭州市西湖区"


def test_empty_address_gives_none() -> None:
    assert contact.address(" ，。 ") is None


def test_division_code_at_the_start_is_read() -> None:
    assert contact.division("330106 杭州市西湖区文三路1号") == "330106"


def test_postal_code_that_is_no_division_gives_none() -> None:
    assert contact.division("310013") is None


def test_text_without_division_code_gives_none() -> None:
    assert contact.division("杭州市西湖区") is None
    assert contact.division("3301061") is None


@pytest.mark.parametrize(
    "raw",
    ["1990-03-07", "19900307", "1990/03/07", "1990.03.07", "1990年3月7日", "1990-3-7",
     "19900307083000", "199003070830+0800", "1990-03-07T08:30:00+08:00", "１９９０－０３－０７"],
)  # fmt: skip
def test_birth_date_formats_give_iso(raw: str) -> None:
    assert dates.birth_date(raw) == "1990-03-07"


@pytest.mark.parametrize("raw", [None, "", "1990", "1990-03", "1990-02-30", "19901301", "07/03/1990", "unknown"])
def test_not_a_full_real_date_gives_none(raw: str | None) -> None:
    assert dates.birth_date(raw) is None


def test_day_month_swap_is_detected() -> None:
    assert dates.swapped("1990-03-07", "1990-07-03") is True


def test_same_date_is_not_a_swap() -> None:
    assert dates.swapped("1990-03-03", "1990-03-03") is False


def test_swap_needs_the_same_year() -> None:
    assert dates.swapped("1990-03-07", "1991-07-03") is False


def test_unrelated_dates_are_not_a_swap() -> None:
    assert dates.swapped("1990-03-07", "1990-03-08") is False
