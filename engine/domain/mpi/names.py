"""Person names: one written form per name, and pinyin keys under which differently written names meet.

The same patient arrives as 张伟, 張偉, "张 伟", ZHANG WEI or WEI ZHANG, and a clerk keying by sound may type 张玮.
clean() settles the script and spacing; pinyin_key() is the toneless reading, which homophones share on
purpose (the matcher weighs that as partial agreement); pinyin_variants() lists every reading and word order the
name could plausibly have been romanised with.

pypinyin (0.55) has no surname mode (mozillazg/python-pinyin#297), so polyphonic surnames get their surname
reading from the small table _SURNAME_READINGS below; all other readings come from pypinyin.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

from opencc import OpenCC
from pypinyin import Style, lazy_pinyin, pinyin

# Compound (two-character) surnames common enough today to meet in a county's records. A name starting with one
# is split after two characters; the ambiguity (东方明 could be 东 + 方明) is accepted.
# fmt: off
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "钟离", "闻人", "端木", "南宫", "独孤", "万俟", "澹台", "公冶", "申屠",
    "呼延", "赫连", "濮阳", "淳于", "鲜于", "闾丘", "拓跋", "司空", "西门", "第五",
})
# fmt: on

# Surnames whose first pypinyin reading (the everyday one) is not the surname reading. 尉迟 and 万俟 are read
# right by pypinyin's phrase table already and are listed so the table alone documents the surname readings.
# fmt: off
_SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao", "盖": "ge",
    "覃": "qin", "尉迟": "yuchi", "万俟": "moqi", "乐": "yue", "缪": "miao", "翟": "zhai", "秘": "bi",
    "种": "chong", "繁": "po", "员": "yun",
}
# fmt: on

# Middle-dot variants used between the parts of transcribed minority and foreign names.
_DOTS = re.compile(r"[·•‧・﹒.．∙⋅]+")
_WHITESPACE = re.compile(r"\s+")
_HAN_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN = re.compile(f"[{_HAN_CLASS}]")
_HAN_OR_RUN = re.compile(f"[{_HAN_CLASS}]|[^{_HAN_CLASS}]+")
# Latin names: commas and slashes separate parts ("ZHANG, WEI", "ZHANG/WEI"); other punctuation is dropped.
_LATIN_SEPARATORS = re.compile(r"[,/;]")
_LATIN_DROPPED = re.compile(r"[^\w\s-]|_")
_NOT_LETTER = re.compile(r"[^a-z]")


@cache
def _t2s() -> OpenCC:
    """The traditional -> simplified converter, built on first use (it loads OpenCC's dictionaries)."""
    return OpenCC("t2s")


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    """Traditional characters as simplified (OpenCC t2s, phrase-aware); costs tens of µs, hence the cache."""
    return _t2s().convert(text) if _HAN.search(text) else text


def is_han(name: str) -> bool:
    """Whether the name is written in Chinese characters (any Han character counts)."""
    return _HAN.search(name) is not None


@lru_cache(maxsize=65536)
def clean(name: str | None) -> str:
    """The one written form of a name: NFKC, simplified characters; Han names without spaces and with a single
    kind of middle dot (阿依古丽·买买提); Latin names upper-case, single-spaced, punctuation but hyphens dropped."""
    if not name:
        return ""
    text = to_simplified(unicodedata.normalize("NFKC", name))
    if is_han(text):
        text = _DOTS.sub("·", _WHITESPACE.sub("", text))
        return text.strip("·")
    text = _LATIN_DROPPED.sub("", _LATIN_SEPARATORS.sub(" ", text.upper()))
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def split(name: str) -> tuple[str, str]:
    """(family, given). Han: a known compound surname, else the first character; transcribed names with a
    middle dot have no family part we could identify, so all of it is given; Latin: the first word is the
    family name, the Chinese romanisation order ("ZHANG WEI")."""
    text = clean(name)
    if not text:
        return "", ""
    if is_han(text):
        if "·" in text:
            return "", text
        if len(text) > 2 and text[:2] in COMPOUND_SURNAMES:
            return text[:2], text[2:]
        return text[0], text[1:]
    family, _, given = text.partition(" ")
    return family, given


def _latin_key(text: str) -> str:
    """Letters only, lower-case, tone marks dropped, ü written v as in pypinyin ("Lǚ Wěi" -> "lvwei")."""
    text = unicodedata.normalize("NFD", text.lower().replace("ü", "v"))
    return _NOT_LETTER.sub("", text)


def _letters(syllables: Iterable[str]) -> str:
    """Syllables joined and reduced to a-z (pypinyin passes non-Han characters such as "·" through)."""
    return _latin_key("".join(syllables))


@lru_cache(maxsize=4096)
def _surname_syllables(family: str) -> tuple[str, ...]:
    """The family name's reading: the surname reading where it differs from pypinyin's first reading."""
    if family in _SURNAME_READINGS:
        return (_SURNAME_READINGS[family],)
    return tuple(_SURNAME_READINGS.get(ch) or lazy_pinyin(ch)[0] for ch in family)


@lru_cache(maxsize=65536)
def _given_syllables(given: str) -> tuple[str, ...]:
    """The given name's reading, phrase-aware (重阳 chongyang); cached apart from the full name because given
    names repeat across a population far more than full names do, and pypinyin costs ~20 µs a call."""
    return tuple(lazy_pinyin(given))


@lru_cache(maxsize=65536)
def pinyin_parts(name: str) -> tuple[str, str]:
    """(family key, given key): the pinyin keys of split(name), the family with its surname reading."""
    family, given = split(name)
    if not is_han(family + given):
        return _latin_key(family), _latin_key(given)
    return _letters(_surname_syllables(family)), _letters(_given_syllables(given))


def pinyin_key(name: str) -> str:
    """Toneless pinyin, family first, no separators ("张伟" -> "zhangwei", "ZHANG WEI" -> "zhangwei").

    Homophones share the key on purpose: 张伟 and 张玮 are one keying slip apart.
    """
    family, given = pinyin_parts(name)
    return family + given


@lru_cache(maxsize=4096)
def _char_readings(char: str) -> tuple[str, ...]:
    """Every toneless reading pypinyin knows for one character, plus the u / yu spellings of ü that passports
    and keyboards use (吕: lv, lu, lyu)."""
    readings: list[str] = []
    for reading in pinyin(char, style=Style.NORMAL, heteronym=True)[0]:
        forms = [reading, reading.replace("v", "u"), reading.replace("v", "yu")] if "v" in reading else [reading]
        readings.extend(form for form in forms if form not in readings)
    return tuple(readings)


def _han_variants(family: str, given: str, limit: int) -> frozenset[str]:
    """Reading combinations (canonical readings first, at most ``limit``) in both word orders."""
    family_first = _surname_syllables(family)
    canonical = [*family_first, *_given_syllables(given)]
    chars = list(family) if len(family_first) == len(family) else [family]  # a table entry reads as one unit
    units = [*chars, *_HAN_OR_RUN.findall(given)]  # pypinyin gives one item per Han character or non-Han run
    if len(units) != len(canonical):
        units = [""] * len(canonical)  # unexpected segmentation: canonical readings only
    options: list[tuple[str, ...]] = []
    for unit, first in zip(units, canonical, strict=True):
        others = _char_readings(unit) if _HAN.fullmatch(unit) else ()
        options.append((first, *(r for r in others if r != first)))
    split_at = len(chars)
    keys: set[str] = set()
    for combo in itertools.islice(itertools.product(*options), max(limit, 1)):
        keys.add(_letters(list(combo)))
        keys.add(_letters([*combo[split_at:], *combo[:split_at]]))
    return frozenset(keys)


@lru_cache(maxsize=65536)
def pinyin_variants(name: str, limit: int = 16) -> frozenset[str]:
    """Every key the name may have been written under: for Han names each character's possible readings
    combined (at most ``limit`` combinations, the canonical one first) in family-first and given-first order;
    for Latin names the words as given and with the first word moved last ("WEI ZHANG" <-> "ZHANG WEI").

    pinyin_key("WEI ZHANG") is among pinyin_variants("张伟"); so is "shanlei" among those of 单磊.
    """
    family, given = split(name)
    if not family and not given:
        return frozenset()
    if is_han(family + given):
        return _han_variants(family, given, limit)
    words = clean(name).split(" ")
    return frozenset({_latin_key("".join(words)), _latin_key("".join([*words[1:], words[0]]))})
