"""Synthetic Chinese patients for benchmarking the master patient index (MPI).

Three layers, so that a benchmark can tell *why* a record was missed or wrongly joined:

* **truth** -- households of real-looking people (parents, children, twins, newborns, grandparents) living in
  real county-level divisions, each with a valid GB 11643 resident ID;
* **sources** -- the hospital (``his``), public-health (``phs``) and EMR (``emr``) systems each register a subset
  of the people, with their own formats for sex and birth date; ``his`` also re-registers some people;
* **errors** -- per-record mistakes seen in county registries (homophone characters, traditional characters,
  romanised names, mistyped IDs, the mother's ID on an infant, moved addresses...), each with a stated rate.

Everything comes from one ``random.Random(seed)``; dates are relative to :data:`REFERENCE_DATE`, never the clock,
so a seed always gives byte-identical files. Output (see :func:`write`):

* ``people.csv`` -- ``source,local_id,name,sex,birth_date,id_number,phone,address`` (UTF-8, empty cells allowed);
* ``truth.csv`` -- ``source,local_id,entity_id,household_id,relation,own_id,error_tags`` in the same row order
  (``own_id`` is the person's true ID, ``error_tags`` is ``;``-joined);
* ``summary.json`` -- counts per source and error tag, households, twins, newborns, the rates used, the seed.

CLI: ``python bench/cn_patients.py --persons 5000 --seed 1 --out DIR [--error-scale 1.0]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

# Ages and "newborn" are measured against this fixed day, so output never depends on when it is generated.
REFERENCE_DATE = date(2026, 7, 1)

# --- Error rates (per record, before --error-scale; capped at 1.0 after scaling) -----------------------------
# Why each exists: the mistakes county registration desks actually make, each of which defeats a naive matcher
# in a different comparison (exact name, exact ID, exact date, phone, address).
ERROR_RATES: dict[str, float] = {
    # Pinyin input methods offer same-sound characters; clerks pick the wrong one (伟 -> 玮, 静 -> 婧).
    "name_homophone": 0.03,
    # Names copied from Hong Kong / Taiwan documents or old Big5 systems arrive in traditional characters.
    "name_trad": 0.01,
    # Insurance and foreign-facing systems store romanised names, surname first or last ("ZHANG WEI").
    "name_pinyin": 0.01,
    # A character of a two-character given name is lost (王子涵 -> 王涵).
    "name_drop_char": 0.01,
    # A half- or full-width space typed between surname and given name (王 伟, 王\u3000伟).
    "name_fullwidth_space": 0.02,
    # Day and month transposed when both are <= 12 (2001-03-07 -> 2001-07-03).
    "dob_swap_dm": 0.01,
    # Birth date one day off (midnight births, time-zone of a form, a slip of the pen).
    "dob_off1": 0.01,
    # Birth date left empty at an emergency registration.
    "dob_missing": 0.02,
    # No ID at registration; multiplied for infants (no ID yet) and the very old (card left at home).
    "id_missing": 0.04,
    # One digit mistyped, so the MOD 11-2 check digit fails.
    "id_bad_check": 0.01,
    # The old 15-digit first-generation ID still on file (only for people born before 2000).
    "id_15digit": 0.03,
    # A final check character X written as lower-case x (only for IDs ending in X).
    "id_lower_x": 0.30,
    # Hospitals register infants under the mother's ID (his only, infants with a mother in the household).
    "id_mother": 0.50,
    # A new mobile number since the other registration.
    "phone_changed": 0.08,
    # No phone given.
    "phone_missing": 0.05,
    # Province dropped from the address ("杭州市西湖区..." instead of "浙江省杭州市西湖区...").
    "addr_short": 0.10,
    # Digits of the address typed full-width (１８号).
    "addr_fullwidth": 0.03,
    # The person moved: a different address altogether.
    "addr_moved": 0.05,
    # Sex left empty or coded "0" (unknown, GB/T 2261.1).
    "sex_missing": 0.02,
}
# id_missing multipliers: infants often have no ID yet; people over 75 often come without their card.
ID_MISSING_INFANT_FACTOR = 5.0
ID_MISSING_ELDERLY_FACTOR = 2.0

# --- Truth-layer shapes ---------------------------------------------------------------------------------------
SOURCE_SHARE = {"his": 0.75, "phs": 0.65, "emr": 0.55}  # share of persons each source registers
HIS_DUPLICATE_RATE = 0.05  # his re-registers a person under a second local_id
# Of households drawn with 2+ children; some of those end with one child (the mother too young for more), so
# about 25% of households that have 2+ children have twins -- far above nature: the hard case, on purpose.
TWIN_HOUSEHOLD_RATE = 0.20
NEWBORN_YOUNGEST_RATE = 0.26  # youngest child of a mother <= 42 is under 1 year: about 15% of all children
BORN_ELSEWHERE_RATE = 0.20  # the ID's area code is another division than where the household lives
LANDLINE_HOUSEHOLD_RATE = 0.15  # households (in divisions with a known area code) that have a landline

# Sex and birth date as each source writes them.
SEX_FORMAT = {"his": ("男", "女"), "phs": ("1", "2"), "emr": ("M", "F")}
DATE_FORMAT = {"his": "%Y-%m-%d", "phs": "%Y%m%d", "emr": "%Y/%m/%d"}

# Real county-level divisions (GB/T 2260 codes; checked against python-stdnum's cn/loc table) with the
# landline area code where we use one. Towns and villages inside them are invented. The ID area code is today's
# code for everyone, as on real second-generation cards: python-stdnum's strict ``ric.is_valid`` rejects such an
# ID when the county code postdates the birth year (德清县 330521 dates from 1983), about half of the IDs here;
# the MOD 11-2 check and the province always hold.
DIVISIONS: list[tuple[str, str, str, str, str | None]] = [
    # code, province, prefecture, county-level division, landline area code
    ("330106", "浙江省", "杭州市", "西湖区", "0571"),
    ("330122", "浙江省", "杭州市", "桐庐县", "0571"),
    ("330127", "浙江省", "杭州市", "淳安县", "0571"),
    ("330521", "浙江省", "湖州市", "德清县", None),
    ("330523", "浙江省", "湖州市", "安吉县", None),
    ("330782", "浙江省", "金华市", "义乌市", "0579"),
    ("320583", "江苏省", "苏州市", "昆山市", "0512"),
    ("341181", "安徽省", "滁州市", "天长市", None),
    ("350426", "福建省", "三明市", "尤溪县", None),
    ("410225", "河南省", "开封市", "兰考县", None),
    ("510121", "四川省", "成都市", "金堂县", "028"),
    ("440106", "广东省", "广州市", "天河区", "020"),
    ("430104", "湖南省", "长沙市", "岳麓区", "0731"),
    ("420106", "湖北省", "武汉市", "武昌区", "027"),
]
# Weights of the divisions as homes: mostly the Zhejiang counties (a county medical community), some elsewhere.
DIVISION_WEIGHTS = [10, 14, 10, 12, 10, 8, 6, 5, 5, 5, 5, 4, 3, 3]

# Surnames with approximate per-mille shares (census-like skew). Compound and polyphonic surnames are rare but
# present: they break character-level comparisons and naive romanisation. Value: (weight, romanisation or None
# to use pypinyin's default reading).
SURNAMES: dict[str, tuple[float, str | None]] = {
    "王": (71, None), "李": (70, None), "张": (67, None), "刘": (54, None), "陈": (46, None), "杨": (31, None),
    "黄": (21, None), "赵": (20, None), "吴": (20, None), "周": (19, None), "徐": (15, None), "孙": (15, None),
    "马": (14, None), "朱": (13, None), "胡": (13, None), "郭": (11, None), "何": (11, None), "林": (10, None),
    "高": (10, None), "罗": (9, None), "郑": (8, None), "梁": (8, None), "谢": (7, None), "宋": (6, None),
    "唐": (6, None), "许": (6, None), "韩": (6, None), "冯": (6, None), "邓": (6, None), "曹": (5, None),
    "彭": (5, None), "肖": (5, None), "田": (5, None), "董": (5, None), "袁": (4, None), "潘": (4, None),
    "于": (4, None), "蒋": (4, None), "蔡": (4, None), "余": (4, None), "杜": (4, None), "叶": (4, None),
    "程": (4, None), "苏": (3, None), "魏": (3, None), "吕": (3, None), "丁": (3, None), "任": (3, None),
    "沈": (3, None), "姚": (3, None), "卢": (3, None), "姜": (3, None), "崔": (3, None), "钟": (3, None),
    "谭": (3, None), "陆": (3, None), "汪": (3, None), "范": (3, None), "金": (3, None), "石": (3, None),
    "廖": (3, None), "贾": (3, None), "夏": (3, None), "方": (3, None), "邵": (2, None), "俞": (2, None),
    # polyphonic surnames: the surname reading differs from the everyday one
    "曾": (5, "ZENG"), "单": (0.4, "SHAN"), "解": (0.3, "XIE"), "区": (0.1, "OU"), "仇": (0.2, "QIU"),
    "查": (0.2, "ZHA"),
    # compound surnames
    "欧阳": (0.4, "OUYANG"), "司马": (0.05, "SIMA"), "诸葛": (0.03, "ZHUGE"), "上官": (0.03, "SHANGGUAN"),
}

# Given-name characters by birth cohort and sex, most common first (weights fall off as 1/rank, so 伟, 娜, 子涵
# recur and 王伟 / 张伟 / 李娜 appear many times: term-frequency weighting needs that). Share of one-character
# given names per cohort: common before 1990, rare today.
GIVEN_CHARS: dict[str, tuple[str, str]] = {
    # cohort: (male, female)
    "old": ("国建明华平军德文福忠荣林海学志伟强勇春生金祥兴成", "秀英兰芳玉珍桂华凤琴梅红霞莲淑萍丽云娥翠"),
    "mid": ("伟强军磊勇杰涛斌超明刚平辉鹏华飞波峰东亮海林建俊文", "娜静敏丽芳艳娟燕霞玲红婷洁琳慧丹萍颖晶莉雪倩"),
    "young": ("浩宇杰鑫磊帅鹏超晨阳博涛凯俊豪文龙斌昊睿航", "婷雪欣琳倩颖丹佳悦怡晶蕾璐敏月雯瑶静娜晴"),
    "new": ("子宇浩轩梓泽睿博一俊辰铭皓文逸航沐豪晨诚嘉奕", "子涵欣怡梓一诺雨萱可馨思佳梦悦琪语依彤妍晴若"),
}
SINGLE_CHAR_SHARE = {"old": 0.35, "mid": 0.5, "young": 0.3, "new": 0.08}
# Characters that only lead a two-character given name (子涵 but never 涵子).
FIRST_ONLY = frozenset("子梓一若可思嘉沐诗")
# Extra common characters so most given-name characters have a same-sound neighbour for name_homophone.
HOMOPHONE_EXTRA = (
    "维玮韦纳婧菁民珉莉立力利方洁婕捷韬君均花宏鸿虹凌灵霖雁彦妍庭亭新心昕雨语玉羽钰煜瑜萱宣璇寒晗含紫姿昊"
    "皓瑞锐则宜依仪艺亿臣波柏伯杨洋扬琦琪奇其齐祺淇悦越月岳跃彤桐童同思丝斯诗世士兵冰斌彬滨宾国果郭建健剑"
    "鉴明铭名鸣华桦骅平萍评屏军钧筠德得文雯闻福富芙忠中钟荣蓉容融林琳麟海凯楷恺强蔷墙勇永咏泳春纯淳生声笙"
    "金锦今瑾祥翔详兴星馨成诚承城秀修英莺瑛鹰兰岚蓝澜芳芬珍真贞桂贵凤峰锋枫琴勤芹梅玫美红莲涟廉淑舒书丽云"
    "芸韵娥霞侠磊蕾涛桃杰超朝刚钢纲辉慧惠鹏朋飞菲霏东冬亮靓俊峻艳燕娟鹃玲伶晶婷颖莹倩茜丹单"
)
# Mobile prefixes in use by the three carriers.
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "184", "185", "186", "187", "188",
    "189", "199",
]
# Syllables for invented town, village and road names.
PLACE_SYLLABLES = "青白东西南北新河山溪桥湖塘石桂花柳竹梅松龙凤云安平和兴福宁华乐丰长永双清金"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a GB 11643 ID."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def is_valid_id18(value: str) -> bool:
    """True for an 18-character ID whose check character matches (lower-case x accepted)."""
    v = value.strip().upper()
    return len(v) == 18 and v[:17].isdigit() and v[17] in ID_CHECK and id_check_digit(v[:17]) == v[17]


def id15_from_id18(id18: str) -> str:
    """The first-generation 15-digit form: area + YYMMDD + 3-digit sequence, no check digit."""
    return id18[:6] + id18[8:17]


@dataclass
class Person:
    """One real person of the truth layer."""

    entity_id: str
    household_id: str
    relation: str
    surname: str
    given: str
    sex: int  # 1 male, 2 female
    dob: date
    own_id: str = ""
    phone: str = ""
    address: str = ""
    mother_id: str = ""  # own_id of the mother in the same household, for id_mother

    @property
    def name(self) -> str:
        """The full name as written in Chinese: surname then given name, no space."""
        return self.surname + self.given

    @property
    def age_days(self) -> int:
        """Age in days at the reference date."""
        return (REFERENCE_DATE - self.dob).days


@dataclass
class Household:
    """People sharing an address (and often a phone); all its members are relatives."""

    household_id: str
    division: tuple[str, str, str, str, str | None]
    address: str
    landline: str
    members: list[Person] = field(default_factory=list)


@dataclass
class Bench:
    """What :func:`generate` returns: output rows in file order plus the summary."""

    people: list[dict[str, str]]
    truth: list[dict[str, str]]
    summary: dict[str, Any]
    persons: list[Person]
    households: list[Household]


def _zipf_cum(n: int) -> list[float]:
    """Cumulative 1/rank weights for ``rng.choices``: a few very common values, a long tail."""
    cum, total = [], 0.0
    for rank in range(n):
        total += 1.0 / (rank + 1)
        cum.append(total)
    return cum


def _homophone_groups() -> dict[str, list[str]]:
    """Character -> other characters with the same toneless pinyin, over the name and extra pools."""
    from pypinyin import Style, lazy_pinyin

    pool: list[str] = []
    for male, female in GIVEN_CHARS.values():
        pool.extend(male)
        pool.extend(female)
    pool.extend(HOMOPHONE_EXTRA)
    pool = list(dict.fromkeys(pool))  # de-duplicate, keep order (deterministic)
    by_sound: dict[str, list[str]] = {}
    for ch in pool:
        by_sound.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    return {ch: [o for o in group if o != ch] for group in by_sound.values() for ch in group if len(group) > 1}


class _Generator:
    """State of one generation run: the random stream, tables derived once, IDs handed out."""

    def __init__(self, seed: int, error_scale: float) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.error_scale = error_scale
        self.rates = {k: min(1.0, v * error_scale) for k, v in ERROR_RATES.items()}
        self.surnames = list(SURNAMES)
        self.surname_cum = _cum([SURNAMES[s][0] for s in self.surnames])
        self.given_cum = {k: (_zipf_cum(len(m)), _zipf_cum(len(f))) for k, (m, f) in GIVEN_CHARS.items()}
        self.homophones = _homophone_groups()
        self.used_ids: set[str] = set()
        self.used_mobiles: set[str] = set()
        self.towns: dict[str, list[tuple[str, list[str]]]] = {}
        self._cc: Any = None

    # --- names ---------------------------------------------------------------------------------------------

    def surname(self) -> str:
        """A surname drawn by its share."""
        return self.rng.choices(self.surnames, cum_weights=self.surname_cum)[0]

    def given(self, sex: int, dob: date, avoid: str = "") -> str:
        """A one- or two-character given name typical of the person's birth cohort and sex."""
        cohort = "old" if dob.year < 1970 else "mid" if dob.year < 1990 else "young" if dob.year < 2005 else "new"
        chars = GIVEN_CHARS[cohort][sex - 1]
        cum = self.given_cum[cohort][sex - 1]
        for _ in range(20):
            if self.rng.random() < SINGLE_CHAR_SHARE[cohort]:
                name = self.rng.choices(chars, cum_weights=cum)[0]
                if name in FIRST_ONLY:
                    continue
            else:
                a, b = self.rng.choices(chars, cum_weights=cum, k=2)
                if a == b or b in FIRST_ONLY:
                    continue
                name = a + b
            if name != avoid:
                return name
        return chars[0] + chars[1] if avoid != chars[0] + chars[1] else chars[1] + chars[0]

    def twin_given(self, sex: int, dob: date, sibling: str) -> str:
        """A twin's given name: different from the sibling's, often differing by one character (子涵/子轩)."""
        cohort = "new" if dob.year >= 2005 else "young"
        chars = GIVEN_CHARS[cohort][sex - 1]
        if len(sibling) == 2 and self.rng.random() < 0.5:
            for _ in range(20):
                other = self.rng.choices(chars, cum_weights=self.given_cum[cohort][sex - 1])[0]
                if other not in sibling and other not in FIRST_ONLY:
                    return sibling[0] + other
        return self.given(sex, dob, avoid=sibling)

    # --- ids, phones, addresses ----------------------------------------------------------------------------

    def resident_id(self, area: str, dob: date, sex: int) -> str:
        """A unique valid 18-digit ID: area + YYYYMMDD + 2 random digits + sex digit + check."""
        while True:
            sex_digit = self.rng.choice("13579" if sex == 1 else "02468")
            first17 = f"{area}{dob:%Y%m%d}{self.rng.randrange(100):02d}{sex_digit}"
            value = first17 + id_check_digit(first17)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def mobile(self) -> str:
        """A fresh 11-digit mobile number."""
        while True:
            value = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if value not in self.used_mobiles:
                self.used_mobiles.add(value)
                return value

    def _towns(self, code: str, is_district: bool) -> list[tuple[str, list[str]]]:
        """Invented towns (streets in a district) and their villages (communities), fixed per division."""
        if code not in self.towns:
            rng = random.Random(f"towns-{code}")  # independent of the main stream: same towns for every seed
            syl = PLACE_SYLLABLES
            towns = []
            for _ in range(6):
                town = rng.choice(syl) + rng.choice(syl) + ("街道" if is_district else rng.choice(["镇", "镇", "乡"]))
                villages = [rng.choice(syl) + rng.choice(syl) + ("社区" if is_district else "村") for _ in range(8)]
                towns.append((town, villages))
            self.towns[code] = towns
        return self.towns[code]

    def address(self, division: tuple[str, str, str, str, str | None]) -> str:
        """A full address: province, prefecture, county, invented town and village, house number."""
        code, province, prefecture, county, _ = division
        is_district = county.endswith("区")
        town, villages = self.rng.choice(self._towns(code, is_district))
        village = self.rng.choice(villages)
        if is_district:
            road = self.rng.choice(PLACE_SYLLABLES) + self.rng.choice(PLACE_SYLLABLES) + "路"
            rest = f"{road}{self.rng.randint(1, 300)}号{self.rng.randint(1, 30)}幢{self.rng.randint(101, 1802)}室"
            return f"{province}{prefecture}{county}{town}{village}{rest}"
        return f"{province}{prefecture}{county}{town}{village}{self.rng.randint(1, 200)}号"

    def division(self) -> tuple[str, str, str, str, str | None]:
        """A home division drawn by weight."""
        return self.rng.choices(DIVISIONS, weights=DIVISION_WEIGHTS)[0]

    # --- truth layer ---------------------------------------------------------------------------------------

    def dob_for_age(self, years_lo: int, years_hi: int) -> date:
        """A birth date for an age between the bounds (in whole years) at the reference date."""
        days = self.rng.randint(years_lo * 365, years_hi * 365 + 364)
        return REFERENCE_DATE - timedelta(days=days)

    def households(self, n_persons: int) -> list[Household]:
        """Households until exactly ``n_persons`` people exist (near the end, ones too big are drawn again)."""
        out: list[Household] = []
        count = 0
        while count < n_persons:
            hh = self.household(f"H{len(out) + 1:06d}")
            if len(hh.members) <= n_persons - count:
                count += len(hh.members)
                out.append(hh)
        return out

    def household(self, household_id: str) -> Household:
        """One household: a single adult, a couple, a nuclear or three-generation family, or a single parent."""
        rng = self.rng
        division = self.division()
        landline = ""
        if division[4] and rng.random() < LANDLINE_HOUSEHOLD_RATE:
            landline = f"{division[4]}-8{rng.randrange(10**7):07d}"
        hh = Household(household_id, division, self.address(division), landline)
        kind = rng.choices(["single", "couple", "nuclear", "three", "parent"], weights=[12, 14, 52, 17, 5])[0]
        m = hh.members

        def add(relation: str, surname: str, sex: int, dob: date, given: str = "") -> Person:
            p = Person("", household_id, relation, surname, given or self.given(sex, dob), sex, dob)
            m.append(p)
            return p

        if kind == "single":
            add("self", self.surname(), rng.choice((1, 2)), self.dob_for_age(20, 90))
        elif kind == "couple":
            age = rng.randint(22, 85)
            add("husband", self.surname(), 1, self.dob_for_age(age, age))
            add("wife", self.surname(), 2, self.dob_for_age(max(20, age - 5), age + 2))
        else:
            father_age = rng.randint(24, 45) if kind == "three" else rng.randint(22, 58)
            mother_age = max(20, father_age - rng.randint(-2, 5))
            family = self.surname()
            father = mother = None
            if kind != "parent" or rng.random() < 0.3:
                father = add("father", family, 1, self.dob_for_age(father_age, father_age))
            if kind != "parent" or father is None:
                mother_dob = self.dob_for_age(mother_age, mother_age)
                mother = add("mother", self.surname() if father else family, 2, mother_dob)
            if kind == "three":
                g_age = max(65, father_age + rng.randint(22, 32))
                if rng.random() < 0.7:
                    add("grandparent", family, 1, self.dob_for_age(g_age, g_age))
                if rng.random() < 0.8 or len(m) == 2:
                    add("grandparent", self.surname(), 2, self.dob_for_age(g_age - rng.randint(0, 4), g_age))
            n_children = min(rng.choices([1, 2, 3], weights=[50, 38, 12])[0], 6 - len(m))
            self.children(m, family, mother_age, n_children)
            if mother is not None:
                for p in m:
                    if p.relation in ("child", "twin", "newborn"):
                        p.mother_id = "mother"  # resolved to her ID once IDs exist
        self.identities(hh)
        return hh

    def children(self, members: list[Person], family: str, mother_age: int, n: int) -> None:
        """Children (siblings, twins, newborns) with birth dates the mother's age allows."""
        rng = self.rng
        max_years = min(mother_age - 20, 28)
        if max_years < 0:
            return
        twins = n >= 2 and rng.random() < TWIN_HOUSEHOLD_RATE
        births = n - 1 if twins else n
        if mother_age <= 42 and rng.random() < NEWBORN_YOUNGEST_RATE:
            youngest = REFERENCE_DATE - timedelta(days=rng.randint(0, 364))
        else:
            youngest = self.dob_for_age(min(1, max_years), max_years)
        dobs = [youngest]
        for _ in range(births - 1):
            prev = dobs[-1]
            nxt = prev - timedelta(days=rng.randint(365, 6 * 365))
            if (REFERENCE_DATE - nxt).days > max_years * 365 + 364:
                break
            dobs.append(nxt)
        twin_at = rng.randrange(len(dobs)) if twins else -1
        for i, dob in enumerate(dobs):
            infant = (REFERENCE_DATE - dob).days < 365
            if i == twin_at:
                sex_a, sex_b = rng.choice((1, 2)), rng.choice((1, 2))
                first = Person("", members[0].household_id, "twin", family, self.given(sex_a, dob), sex_a, dob)
                sib = first.given if sex_a == sex_b else ""
                given_b = self.twin_given(sex_b, dob, sib) if sib else self.given(sex_b, dob)
                second = Person("", members[0].household_id, "twin", family, given_b, sex_b, dob)
                members.extend((first, second))
            else:
                sex = rng.choice((1, 2))
                taken = {p.given for p in members}
                given = self.given(sex, dob)
                while given in taken:
                    given = self.given(sex, dob)
                members.append(Person("", members[0].household_id, "newborn" if infant else "child", family,
                                      given, sex, dob))

    def identities(self, hh: Household) -> None:
        """IDs (area = home, 20% born elsewhere), phones (children and the old share one) and the address."""
        rng = self.rng
        for p in hh.members:
            area = hh.division[0]
            if rng.random() < BORN_ELSEWHERE_RATE:
                area = rng.choice([d[0] for d in DIVISIONS if d[0] != area])
            p.own_id = self.resident_id(area, p.dob, p.sex)
            p.address = hh.address
        adults = [p for p in hh.members if 14 * 365 <= p.age_days <= 75 * 365 + 18]
        for p in adults:
            p.phone = hh.landline if hh.landline and rng.random() < 0.05 else self.mobile()
        carers = [p for p in adults if p.relation in ("father", "mother")] or adults
        for p in hh.members:
            if p.phone:
                continue
            if p.age_days > 75 * 365 and hh.landline and rng.random() < 0.5:
                p.phone = hh.landline
            elif carers:
                p.phone = rng.choice(carers).phone
            elif p.age_days > 75 * 365:
                p.phone = self.mobile() if rng.random() < 0.7 else hh.landline
        mother = next((p for p in hh.members if p.relation == "mother"), None)
        for p in hh.members:
            if p.mother_id:
                p.mother_id = mother.own_id if mother else ""

    # --- source and error layers ---------------------------------------------------------------------------

    def hit(self, tag: str, factor: float = 1.0) -> bool:
        """Whether an error with this tag happens on this record."""
        return self.rng.random() < min(1.0, self.rates[tag] * factor)

    def record(self, p: Person, source: str) -> tuple[dict[str, str], list[str]]:
        """One source's registration of a person, with its errors applied; returns (row, error tags)."""
        rng = self.rng
        tags: list[str] = []
        name, dob, id_number, phone, address = p.name, p.dob, p.own_id, p.phone, p.address
        sex = SEX_FORMAT[source][p.sex - 1]

        # name: romanised, or any of the character-level errors
        if self.hit("name_pinyin"):
            name = self.pinyin(p)
            tags.append("name_pinyin")
        else:
            given = p.given
            if len(given) == 2 and self.hit("name_drop_char"):
                given = given[rng.randrange(2)]
                tags.append("name_drop_char")
            if self.hit("name_homophone"):
                spots = [i for i, ch in enumerate(given) if ch in self.homophones]
                if spots:
                    i = rng.choice(spots)
                    given = given[:i] + rng.choice(self.homophones[given[i]]) + given[i + 1 :]
                    tags.append("name_homophone")
            name = p.surname + given
            if self.hit("name_trad"):
                trad = self.opencc().convert(name)
                if trad != name:
                    name = trad
                    tags.append("name_trad")
            if self.hit("name_fullwidth_space"):
                cut = len(p.surname) if rng.random() < 0.8 else rng.randrange(1, len(name))
                name = name[:cut] + rng.choice((" ", "\u3000")) + name[cut:]
                tags.append("name_fullwidth_space")

        # birth date
        birth = dob.strftime(DATE_FORMAT[source])
        if self.hit("dob_missing"):
            birth = ""
            tags.append("dob_missing")
        else:
            if dob.day <= 12 and dob.day != dob.month and self.hit("dob_swap_dm"):
                dob = dob.replace(month=dob.day, day=dob.month)
                tags.append("dob_swap_dm")
            if self.hit("dob_off1"):
                dob = dob + timedelta(days=rng.choice((-1, 1)))
                tags.append("dob_off1")
            birth = dob.strftime(DATE_FORMAT[source])

        # ID
        infant = p.age_days < 365
        factor = ID_MISSING_INFANT_FACTOR if infant else ID_MISSING_ELDERLY_FACTOR if p.age_days > 75 * 365 else 1.0
        if source == "his" and infant and p.mother_id and self.hit("id_mother"):
            id_number = p.mother_id
            tags.append("id_mother")
        elif self.hit("id_missing", factor):
            id_number = ""
            tags.append("id_missing")
        elif p.dob.year < 2000 and self.hit("id_15digit"):
            id_number = id15_from_id18(id_number)
            tags.append("id_15digit")
        elif self.hit("id_bad_check"):
            i = rng.randrange(17)
            digit = rng.choice([d for d in "0123456789" if d != id_number[i]])
            id_number = id_number[:i] + digit + id_number[i + 1 :]
            tags.append("id_bad_check")
        elif id_number.endswith("X") and self.hit("id_lower_x"):
            id_number = id_number[:-1] + "x"
            tags.append("id_lower_x")

        # phone
        if self.hit("phone_missing"):
            phone = ""
            tags.append("phone_missing")
        elif self.hit("phone_changed"):
            phone = self.mobile()
            tags.append("phone_changed")

        # address
        if self.hit("addr_moved"):
            address = self.address(self.division())
            tags.append("addr_moved")
        if self.hit("addr_short"):
            province = next(d[1] for d in DIVISIONS if address.startswith(d[1]))
            address = address[len(province) :]
            tags.append("addr_short")
        if self.hit("addr_fullwidth"):
            address = address.translate(FULLWIDTH_DIGITS)
            tags.append("addr_fullwidth")

        # sex
        if self.hit("sex_missing"):
            sex = rng.choice(("", "0"))
            tags.append("sex_missing")

        row = {"source": source, "local_id": "", "name": name, "sex": sex, "birth_date": birth,
               "id_number": id_number, "phone": phone, "address": address}
        return row, tags

    def pinyin(self, p: Person) -> str:
        """The romanised name, surname first or last, sometimes with the everyday (wrong) surname reading."""
        from pypinyin import Style, lazy_pinyin

        fixed = SURNAMES[p.surname][1]
        if fixed and self.rng.random() < 0.7:
            surname = fixed
        else:
            surname = "".join(lazy_pinyin(p.surname, style=Style.NORMAL)).upper()
        given = "".join(lazy_pinyin(p.given, style=Style.NORMAL)).upper()
        return f"{surname} {given}" if self.rng.random() < 0.7 else f"{given} {surname}"

    def opencc(self) -> Any:
        """The simplified -> traditional converter, loaded once on first use."""
        if self._cc is None:
            from opencc import OpenCC

            self._cc = OpenCC("s2t")
        return self._cc


def _cum(weights: list[float]) -> list[float]:
    """Cumulative weights for ``rng.choices``."""
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def generate(persons: int, seed: int, error_scale: float = 1.0) -> Bench:
    """Generate the truth, source and error layers for ``persons`` people; deterministic per seed."""
    g = _Generator(seed, error_scale)
    rng = g.rng
    households = g.households(persons)
    everyone: list[Person] = []
    for hh in households:
        for p in hh.members:
            p.entity_id = f"E{len(everyone) + 1:07d}"
            everyone.append(p)

    pending: list[tuple[dict[str, str], dict[str, str]]] = []
    duplicates = 0
    for p in everyone:
        sources = [s for s, share in SOURCE_SHARE.items() if rng.random() < share]
        if not sources:
            sources = rng.choices(list(SOURCE_SHARE), weights=list(SOURCE_SHARE.values()))
        if "his" in sources and rng.random() < HIS_DUPLICATE_RATE:
            sources.append("his")
            duplicates += 1
        for source in sources:
            row, tags = g.record(p, source)
            truth = {"source": source, "local_id": "", "entity_id": p.entity_id, "household_id": p.household_id,
                     "relation": p.relation, "own_id": p.own_id, "error_tags": ";".join(tags)}
            pending.append((row, truth))

    rng.shuffle(pending)
    counters: Counter[str] = Counter()
    for row, truth in pending:  # local ids in shuffled order, so they carry no hint of the entity
        counters[row["source"]] += 1
        row["local_id"] = truth["local_id"] = f"{row['source']}-{counters[row['source']]:06d}"

    people = [row for row, _ in pending]
    truth_rows = [truth for _, truth in pending]
    summary = _summary(g, households, everyone, truth_rows, duplicates, persons)
    return Bench(people, truth_rows, summary, everyone, households)


def _summary(g: _Generator, households: list[Household], everyone: list[Person], truth: list[dict[str, str]],
             duplicates: int, persons: int) -> dict[str, Any]:
    """Counts a benchmark report quotes, and the parameters that produced them."""
    by_source: dict[str, dict[str, int]] = {}
    for s in SOURCE_SHARE:
        rows = [t for t in truth if t["source"] == s]
        by_source[s] = {"records": len(rows), "persons": len({t["entity_id"] for t in rows})}
    tags: Counter[str] = Counter()
    for t in truth:
        tags.update(x for x in t["error_tags"].split(";") if x)
    children = [p for p in everyone if p.relation in ("child", "twin", "newborn")]
    infants = [p for p in children if p.age_days < 365]
    twin_households = {p.household_id for p in everyone if p.relation == "twin"}
    kids = Counter(p.household_id for p in children)
    multi_child = sum(1 for n in kids.values() if n >= 2)
    return {
        "seed": g.seed,
        "error_scale": g.error_scale,
        "reference_date": REFERENCE_DATE.isoformat(),
        "persons": persons,
        "records": len(truth),
        "households": len(households),
        "household_sizes": dict(sorted(Counter(len(h.members) for h in households).items())),
        "relations": dict(sorted(Counter(p.relation for p in everyone).items())),
        "twins": sum(1 for p in everyone if p.relation == "twin"),
        "twin_pairs": len(twin_households),
        "twin_share_of_multichild_households": round(len(twin_households) / multi_child, 4) if multi_child else 0.0,
        "newborns": len(infants),
        "newborn_share_of_children": round(len(infants) / len(children), 4) if children else 0.0,
        "his_duplicates": duplicates,
        "sources": by_source,
        "error_tags": dict(sorted(tags.items())),
        "records_with_errors": sum(1 for t in truth if t["error_tags"]),
        "rates": {
            "errors": g.rates,
            "id_missing_infant_factor": ID_MISSING_INFANT_FACTOR,
            "id_missing_elderly_factor": ID_MISSING_ELDERLY_FACTOR,
            "source_share": SOURCE_SHARE,
            "his_duplicate": HIS_DUPLICATE_RATE,
            "twin_household": TWIN_HOUSEHOLD_RATE,
            "newborn_youngest": NEWBORN_YOUNGEST_RATE,
            "born_elsewhere": BORN_ELSEWHERE_RATE,
            "landline_household": LANDLINE_HOUSEHOLD_RATE,
        },
    }


PEOPLE_COLUMNS = ["source", "local_id", "name", "sex", "birth_date", "id_number", "phone", "address"]
TRUTH_COLUMNS = ["source", "local_id", "entity_id", "household_id", "relation", "own_id", "error_tags"]


def write(bench: Bench, out: Path) -> None:
    """Write people.csv, truth.csv and summary.json into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, columns, rows in (("people.csv", PEOPLE_COLUMNS, bench.people),
                                ("truth.csv", TRUTH_COLUMNS, bench.truth)):
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(bench.summary, ensure_ascii=False, indent=2) + "\n",
                                      encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--error-scale", type=float, default=1.0, help="multiplies every error rate (0 = clean)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    bench = generate(args.persons, args.seed, args.error_scale)
    write(bench, args.out)
    s = bench.summary
    print(f"{s['persons']} persons in {s['households']} households -> {s['records']} records "
          f"({s['records_with_errors']} with errors, {s['twin_pairs']} twin pairs, {s['newborns']} newborns) "
          f"in {time.perf_counter() - started:.1f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
