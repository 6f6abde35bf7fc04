"""The one place the care package reads files: rule YAML in, parsed data out (compiling stays pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parents[3] / "mappings" / "care"


def read_rules(name: str, directory: Path = RULES_DIR) -> dict[str, Any]:
    """`labels` or `tasks` from mappings/care/ (or another directory), parsed."""
    data: dict[str, Any] = yaml.safe_load((directory / f"{name}.yaml").read_text(encoding="utf-8"))
    return data
