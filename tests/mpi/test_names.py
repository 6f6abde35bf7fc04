from __future__ import annotations

import pytest

from engine.domain.mpi import names


def test_traditional_characters_become_simplified() -> None:
    assert names.clean("張偉") == "张伟"


def test_whitespace_inside_a_han_name_is_removed() -> None:
    assert names.clean(" 张　伟 ") == "张伟"


@pytest.mark.parametrize("dot", ["·", "•", "‧", "・", "﹒", ".", "．"])
def test_middle_dot_variants_become_one_dot(dot: str) -> None:
    assert names.clean(f"阿依古丽 {dot} 买买提") == "阿依古丽·买买提"


def test_latin_name_is_upper_case_single_spaced() -> None:
    assert names.clean("  zhang    wei ") == "ZHANG WEI"


def test_full_width_latin_name_is_half_width() -> None:
    assert names.clean("ＺＨＡＮＧ　ＷＥＩ") == "ZHANG WEI"


def test_latin_punctuation_is_dropped_except_hyphen() -> None:
    assert names.clean("O'Neil, Mary-Jane.") == "ONEIL MARY-JANE"


def test_absent_name_cleans_to_empty() -> None:
    assert names.clean(None) == ""


def test_is_han() -> None:
    assert names.is_han("张伟") is True
    assert names.is_han("ZHANG WEI") is False


def test_han_name_splits_after_the_first_character() -> None:
    assert names.split("张伟") == ("张", "伟")


def test_compound_surname_stays_whole() -> None:
    assert names.split("欧阳娜娜") == ("欧阳", "娜娜")


def test_minority_name_with_dot_is_all_given() -> None:
    assert names.split("阿依古丽·买买提") == ("", "阿依古丽·买买提")


def test_latin_name_family_is_the_first_word() -> None:
    assert names.split("ZHANG XIAO-MING") == ("ZHANG", "XIAO-MING")


def test_pinyin_key_is_toneless_family_first_without_separators() -> None:
    assert names.pinyin_key("张伟") == "zhangwei"


def test_traditional_and_simplified_share_a_key() -> None:
    assert names.pinyin_key("張偉") == names.pinyin_key("张伟")


def test_homophones_share_a_key() -> None:
    assert names.pinyin_key("张伟") == names.pinyin_key("张玮") == names.pinyin_key("张薇") == "zhangwei"


def test_latin_key_keeps_letters_only() -> None:
    assert names.pinyin_key("ZHANG WEI") == names.pinyin_key("Zhang-Wei") == "zhangwei"


def test_latin_key_drops_tone_marks() -> None:
    assert names.pinyin_key("Zhāng Wěi") == "zhangwei"


@pytest.mark.parametrize(
    ("name", "key"),
    [("单磊", "shanlei"), ("曾伟", "zengwei"), ("解明", "xieming"), ("区华", "ouhua"), ("仇英", "qiuying"),
     ("查良", "zhaliang"), ("朴成", "piaocheng"), ("覃军", "qinjun"), ("尉迟恭", "yuchigong")],
)  # fmt: skip
def test_polyphonic_surname_takes_its_surname_reading(name: str, key: str) -> None:
    assert names.pinyin_key(name) == key


def test_surname_reading_applies_only_to_the_family_name() -> None:
    assert names.pinyin_key("张乐") == "zhangle"


def test_pinyin_parts_split_family_and_given() -> None:
    assert names.pinyin_parts("欧阳娜娜") == ("ouyang", "nana")


def test_given_first_romanisation_is_a_variant() -> None:
    assert names.pinyin_key("WEI ZHANG") in names.pinyin_variants("张伟")


def test_other_readings_of_a_polyphonic_surname_are_variants() -> None:
    variants = names.pinyin_variants("单磊")
    assert {"shanlei", "danlei", "leishan"} <= variants


def test_variants_always_include_the_canonical_key() -> None:
    assert names.pinyin_key("乐乐") in names.pinyin_variants("乐乐", limit=1)


def test_variants_are_capped() -> None:
    assert len(names.pinyin_variants("阿依古丽·买买提", limit=4)) <= 2 * 4


def test_u_umlaut_is_also_spelt_u_and_yu() -> None:
    assert {"lvwei", "luwei", "lyuwei"} <= names.pinyin_variants("吕伟")


def test_latin_variants_include_the_first_word_moved_last() -> None:
    assert names.pinyin_variants("WEI ZHANG") == {"weizhang", "zhangwei"}


def test_non_han_characters_in_a_han_name_keep_their_letters_in_every_variant() -> None:
    assert names.pinyin_variants("张伟A") == {"zhangweia", "weiazhang"}
