"""What the console's browser tests share: Debian's chromium through Playwright, and where screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "the browser tests need Debian's chromium (apt-get install chromium; .ci/run installs it)"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$HUITONG_CONSOLE_SCREENSHOTS (docs/console refreshes the documentation's), else a temporary folder: a test
    run leaves the tracked screenshots as they are."""
    wanted = os.environ.get("HUITONG_CONSOLE_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
