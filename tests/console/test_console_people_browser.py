"""The console's people pages in a real browser (Debian's chromium through Playwright): a reviewer accepts an MPI
review from its waterfall, opens the resident's 360° view, and reads the indicator chart; the audit page shows what
they did. Screenshots go to $HUITONG_CONSOLE_SCREENSHOTS (docs/console to refresh the documentation's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.people_server import WANG_ID, Console, call, county_console

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-people")
    with county_console(root, f"sqlite:///{root / 'store.db'}", log_dir / f"console-people-{root.name}.jsonl") as c:
        yield c


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("HUITONG_CONSOLE_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    opened = context.new_page()
    yield opened
    context.close()


def canvas_drawn(page: object, selector: str) -> bool:
    """Whether ECharts drew something on the chart's canvas (not just created it blank)."""
    return bool(
        page.evaluate(  # type: ignore[attr-defined]
            """selector => { const c = document.querySelector(selector + ' canvas');
                 if (!c || !c.width || !c.height) return false;
                 const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
                 return false; }""",
            selector,
        )
    )


def test_a_reviewer_accepts_an_mpi_review_from_its_waterfall(console: Console, page: object, shots: Path) -> None:
    page.goto(f"{console.base}/ui/mpi/reviews")  # type: ignore[attr-defined]
    page.click("#reviews a")  # type: ignore[attr-defined]
    page.wait_for_selector("#waterfall canvas")  # type: ignore[attr-defined]
    assert canvas_drawn(page, "#waterfall")
    assert page.inner_text("h1").startswith("匹配审核")  # type: ignore[attr-defined]
    sides = page.inner_text(".columns")  # type: ignore[attr-defined]
    assert "王建华" in sides and "王建国" in sides  # the compared values: normalised, 王建國 simplified
    page.screenshot(path=str(shots / "mpi-review.png"), full_page=True)  # type: ignore[attr-defined]
    page.fill("#reason", "同一身份证号，乡镇卫生院登记时姓名录入错误")  # type: ignore[attr-defined]
    page.click("#accept")  # type: ignore[attr-defined]
    person = page.wait_for_selector("#person-link").inner_text()  # type: ignore[attr-defined]
    status, reviews = call(f"{console.base}/api/v1/mpi/reviews?status=all")
    assert status == 200 and [(r["status"], r["decided_by"]) for r in reviews] == [("accepted", "user:anonymous")]
    assert call(f"{console.base}/api/v1/mpi/persons/{WANG_ID}")[1]["person"] == person


def test_the_residents_360_view_shows_each_value_with_its_source_contracts_and_tasks(
    console: Console, page: object, shots: Path
) -> None:
    page.goto(f"{console.base}/ui/residents?q={WANG_ID}")  # type: ignore[attr-defined]
    timeline = page.inner_text("#timeline")  # type: ignore[attr-defined]
    assert "2026-07-06" in timeline and "his.county-people-hospital" in timeline
    assert "phs.county" in page.inner_text("#demographics") or "phs.county" in page.inner_text("#contracts")  # type: ignore[attr-defined]
    assert "SC2026010101" in page.inner_text("#contracts")  # type: ignore[attr-defined]
    assert page.locator("#tasks tr").count() > 1  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "resident.png"), full_page=True)  # type: ignore[attr-defined]


def test_the_indicator_chart_is_drawn_for_the_quarter(console: Console, page: object, shots: Path) -> None:
    page.goto(f"{console.base}/ui/indicators?period=2026Q3")  # type: ignore[attr-defined]
    page.wait_for_selector("#chart canvas")  # type: ignore[attr-defined]
    assert canvas_drawn(page, "#chart")
    assert "岚溪县" in page.inner_text("#rows")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "indicators.png"))  # the chart and the table's head: the table is long  # type: ignore[attr-defined]


def test_the_audit_page_in_english_lists_who_read_and_changed_what(console: Console, page: object, shots: Path) -> None:
    page.goto(f"{console.base}/ui/audit?lang=en")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Audit log"  # type: ignore[attr-defined]
    rows = page.inner_text("#audit")  # type: ignore[attr-defined]
    assert "console.read" in rows and "user:anonymous" in rows
    page.screenshot(path=str(shots / "audit.png"), full_page=True)  # type: ignore[attr-defined]
