"""The Chinese resident identity number (GB 11643-1999), the strongest identifier an MPI record can carry.

Layout of the 18 characters: 6-digit area code, birth date YYYYMMDD, 3-digit sequence (odd for men, even for
women), ISO 7064 MOD 11-2 check character (0-9 or X). First-generation cards (before 1999) had 15 digits: a
two-digit year and no check character; they are upgraded so that both forms of one person's number compare equal.

The check character comes from python-stdnum (stdnum.cn.ric). Validity is deliberately looser than stdnum's
``is_valid``, which also requires the exact county code to exist in its table for the birth year: county codes
are renumbered over time and a county-level mismatch says nothing about whether the number belongs to the
patient, so only the province-level part of the area code is checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum.cn import ric

from engine.domain.mpi import dates

# Province-level area codes (GB/T 2260 first two digits), including Taiwan (71), Hong Kong (81), Macao (82) and
# 83, used on residence permits for Taiwan residents.
# fmt: off
PROVINCE_CODES = frozenset(
    {
        *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66),
        71, 81, 82, 83,
    }
)
# fmt: on
# Earliest year of birth accepted as real: cards were first issued in 1984, to living adults.
_MIN_YEAR = 1900

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]")
_SHAPE18 = re.compile(r"\d{17}[\dX]")
_SHAPE15 = re.compile(r"\d{15}")


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A parsed resident ID; birth_date and sex are read from it even when it is invalid, to compare typos."""

    value: str  # 18 characters
    valid: bool
    birth_date: str | None  # ISO
    sex: str | None  # "M" / "F"


def clean(raw: str | None) -> str:
    """Full-width digits to ASCII, spaces and hyphens removed, a trailing x upper-cased; "" when absent."""
    if not raw:
        return ""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    return text[:-1] + "X" if text.endswith("x") else text


def _birth_date(value: str) -> str | None:
    """The embedded birth date of an 18-character number when it is a real day from 1900 on."""
    year = int(value[6:10])
    return dates.iso(year, int(value[10:12]), int(value[12:14])) if year >= _MIN_YEAR else None


def _with_check(body: str) -> str:
    """17 digits followed by their MOD 11-2 check character (stdnum expects a placeholder check position)."""
    return body + ric.calc_check_digit(body + "0")


def upgrade15(value: str) -> str | None:
    """The 18-character form of a 15-digit first-generation number: "19" before the year, a check character
    appended; None when the value is not 15 digits or its date is not a real day."""
    if not _SHAPE15.fullmatch(value):
        return None
    upgraded = _with_check(value[:6] + "19" + value[6:])
    return upgraded if _birth_date(upgraded) else None


@lru_cache(maxsize=65536)
def parse(raw: str | None) -> ResidentId | None:
    """The resident ID in raw text, or None when there is none (empty, wrong length, letters).

    ``valid`` requires the right check character, a real birth date from 1900 on and a real province code. A
    number that fails only its check still yields birth date and sex, so a one-digit typo can still be weighed.
    """
    text = clean(raw)
    if _SHAPE15.fullmatch(text):
        # Upgrade even when the date is impossible, so the value is still 18 characters (and invalid).
        value = _with_check(text[:6] + "19" + text[6:])
    elif _SHAPE18.fullmatch(text):
        value = text
    else:
        return None
    born = _birth_date(value)
    sex = ("M" if int(value[16]) % 2 else "F") if born else None
    valid = born is not None and value[17] == ric.calc_check_digit(value) and int(value[:2]) in PROVINCE_CODES
    return ResidentId(value=value, valid=valid, birth_date=born, sex=sex)


#: Birth dates further apart than this (a year) are two people, not a keying slip.
GUARDIAN_DAYS = 366


def contradicts(rid: ResidentId, birth_date: str | None, sex: str | None) -> bool:
    """Whether the ID cannot be the patient's own: it was born more than a year apart from the record.

    The usual cause is a newborn (or a child, or an elderly dependant) registered under a guardian's number;
    matching on that number would merge mother and baby, and a guardian is born decades apart. A day off, a
    mistyped month or a day/month swap is a keying slip in one of the two, not somebody else's ID: treating it
    as one would throw away the record's best evidence. Without a birth date to go by, a different sex says
    the same. A value the record does not have contradicts nothing. ``birth_date``: any format dates.birth_date
    reads.
    """
    record_date = dates.birth_date(birth_date)
    if rid.birth_date and record_date:
        apart = abs(date.fromisoformat(rid.birth_date) - date.fromisoformat(record_date)).days
        return apart > GUARDIAN_DAYS and not dates.swapped(rid.birth_date, record_date)
    return bool(rid.sex and sex and rid.sex != sex)
