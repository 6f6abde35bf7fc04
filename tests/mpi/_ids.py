"""Resident IDs for tests, with the check character computed here independently of the code under test."""

from __future__ import annotations

_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def with_check(body: str) -> str:
    """17 digits plus their ISO 7064 MOD 11-2 check character, as GB 11643 defines it."""
    remainder = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
    return body + "10X98765432"[remainder]


# A man born 1990-03-07 in 杭州市西湖区 (sequence 123: odd) and a woman born 1992-11-20 there (sequence 246).
MAN_1990 = with_check("33010619900307123")
WOMAN_1992 = with_check("33010619921120246")
