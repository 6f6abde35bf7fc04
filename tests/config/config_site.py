"""Helpers for config tests: a throwaway site (config/engine.yaml, channels/*.yaml) under tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from engine.config import LoadResult, load_config


class Site:
    """Writes real YAML files the way an engineer would, then loads them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_dir = root / "config"
        self.channels_dir = root / "channels"
        self.config_dir.mkdir()
        self.channels_dir.mkdir()
        self.engine = self.engine_yaml("")

    def engine_yaml(self, text: str) -> Path:
        path = self.config_dir / "engine.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def channel(self, name: str, text: str) -> Path:
        path = self.channels_dir / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def load(self, environ: Mapping[str, str] | None = None, check_environment: bool = True) -> LoadResult:
        return load_config(self.engine, environ=environ or {}, check_environment=check_environment)

    def lines(self, **kwargs: object) -> list[str]:
        return [str(e) for e in self.load(**kwargs).errors]  # type: ignore[arg-type]


def one_starting_with(lines: list[str], prefix: str) -> str:
    """The single error line that starts with ``prefix``; fails with every line shown otherwise."""
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, f"expected one line starting with {prefix!r}, got:\n" + "\n".join(lines)
    return found[0]
