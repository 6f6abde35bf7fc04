"""Birth dates as ISO strings, whatever shape the source system wrote them in.

Hospital systems, HL7 v2 (DTM), FHIR and spreadsheets all write dates differently; the matcher compares one
form. Day/month swaps are a common keying error, so they get their own predicate instead of counting as a
plain disagreement.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from functools import lru_cache

# YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD (one- or two-digit month and day), optionally followed by a time part
# as in FHIR dateTime ("1990-03-07T08:30:00+08:00") or a database dump ("1990-03-07 08:30:00").
_SEPARATED = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[T\s].*)?")
# 1990年3月7日 (the 日 is often left out).
_CHINESE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
# YYYYMMDD and HL7 DTM: YYYYMMDD[HH[MM[SS[.S+]]]][+/-ZZZZ].
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d+)?)?)?)?(?:[+-]\d{4}|Z)?")


def iso(year: int, month: int, day: int) -> str | None:
    """The ISO form of a calendar date, or None when no such day exists (Feb 30, month 13)."""
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


@lru_cache(maxsize=16384)
def birth_date(raw: str | None) -> str | None:
    """ISO date ("1990-03-07") from the date formats sources use; None when absent, partial or not a real day.

    Partial dates (FHIR "1990" or "1990-03") give None: a year alone is too weak to compare as a birth date.
    """
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    if m := _SEPARATED.fullmatch(text):
        return iso(int(m[1]), int(m[3]), int(m[4]))
    if m := _CHINESE.fullmatch(text):
        return iso(int(m[1]), int(m[2]), int(m[3]))
    if m := _COMPACT.fullmatch(text):
        return iso(int(m[1]), int(m[2]), int(m[3]))
    return None


def swapped(a: str | None, b: str | None) -> bool:
    """Whether two different dates of the same year have month and day exchanged (1990-03-07 vs 1990-07-03).

    A swap is a typing slip (or a DD/MM vs MM/DD misreading), not evidence of two different people.
    """
    first, second = birth_date(a), birth_date(b)
    if first is None or second is None or first == second:
        return False
    return first[:4] == second[:4] and first[5:7] == second[8:10] and first[8:10] == second[5:7]
