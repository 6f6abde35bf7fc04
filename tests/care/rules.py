"""The shipped care rules (mappings/care/), compiled as the configuration loader compiles them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from engine.config.rules import load_care
from engine.domain.care import CareRules

RULES_DIR = Path(__file__).resolve().parents[2] / "mappings" / "care"


@cache
def shipped_care() -> CareRules:
    care, errors = load_care(RULES_DIR)
    assert care is not None, errors
    return care
