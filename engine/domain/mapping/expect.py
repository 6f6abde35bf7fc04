"""Does the produced FHIR contain what a test case expects? Subset matching that ignores local ids."""

from __future__ import annotations

from typing import Any


def matches(expected: Any, actual: Any, key: str = "") -> bool:
    if key == "reference" and isinstance(expected, str) and isinstance(actual, str):
        return actual == expected or actual.startswith(expected.rstrip("/") + "/")
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k], k) for k, v in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        free = list(actual)
        for item in expected:
            hit = next((i for i, a in enumerate(free) if matches(item, a, key)), None)
            if hit is None:
                return False
            free.pop(hit)
        return True
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and not isinstance(expected, bool):
        return float(expected) == float(actual)
    return bool(expected == actual)


def missing(expected: list[dict[str, Any]], produced: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The expected resources that no produced resource matches (each produced one matches at most once)."""
    free = list(produced)
    out = []
    for item in expected:
        hit = next((i for i, r in enumerate(free) if matches(item, r)), None)
        if hit is None:
            out.append(item)
        else:
            free.pop(hit)
    return out
