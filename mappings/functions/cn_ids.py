"""Chinese identifier helpers for mappings (``py:`` filters). Pure, no imports beyond the standard library.

GB 11643-1999 citizen identity number (居民身份证号): 17 digits and an ISO 7064 MOD 11-2 check character,
weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 and check characters "10X98765432" (domain-cn.md §0 [S13]).
"""

from __future__ import annotations

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _valid(text: str) -> bool:
    if len(text) != 18 or not text[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(text[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == text[17]


def resident_id(value: object) -> str | None:
    """The number, normalised (trimmed, trailing x as X), when it is a valid 18-digit resident ID; else absent.

    Used where a field may hold a resident ID or something else (PID-19 is the US SSN field, PID-20 a
    driver's licence), so only a number that passes the check digit is taken for one.
    """
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if _valid(text) else None


def normalize_id(value: object) -> object:
    """An identifier value as sent, except a valid resident ID with a lowercase x gets X (GB 11643)."""
    if isinstance(value, str) and value[-1:] == "x":
        fixed = value.strip().upper()
        if _valid(fixed):
            return fixed
    return value
