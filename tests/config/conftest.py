"""Fixtures for config tests; the helpers live in config_site.py so tests can import them by a unique name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.config_site import Site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)
