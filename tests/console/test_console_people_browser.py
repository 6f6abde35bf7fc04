"""The console's people pages in a real browser (Debian's chromium through Playwright): a reviewer accepts an MPI
review from its waterfall, opens the resident's 360° view, and reads the indicator chart; the audit page shows what
they did. Screenshots go to $HUITONG_CONSOLE_SCREENSHOTS (docs/console to refresh the documentation's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.console.people_server import WANG_ID, Console, call, county_console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-people")
    with county_console(root, f"sqlite:///{root / 'store.db'}", log_dir / f"console-people-{root.name}.jsonl") as c:
        yield c


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()


def canvas_drawn(page: Page, selector: str) -> bool:
    """Whether ECharts drew something on the chart's canvas (not just created it blank)."""
    return bool(
        page.evaluate(
            """selector => { const c = document.querySelector(selector + ' canvas');
                 if (!c || !c.width || !c.height) return false;
                 const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
                 return false; }""",
            selector,
        )
    )


def test_a_reviewer_accepts_an_mpi_review_from_its_waterfall(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/mpi/reviews")
    page.click("#reviews a")
    page.wait_for_selector("#waterfall canvas")
    assert canvas_drawn(page, "#waterfall")
    assert page.inner_text("h1").startswith("匹配审核")
    sides = page.inner_text(".columns")
    assert "王建华" in sides and "王建国" in sides  # the compared values: normalised, 王建國 simplified
    page.screenshot(path=str(shots / "mpi-review.png"), full_page=True)
    page.fill("#reason", "同一身份证号，乡镇卫生院登记时姓名录入错误")
    page.click("#accept")
    page.wait_for_selector("#person-link")
    person = page.inner_text("#person-link")
    status, reviews = call(f"{console.base}/api/v1/mpi/reviews?status=all")
    assert status == 200 and [(r["status"], r["decided_by"]) for r in reviews] == [("accepted", "user:anonymous")]
    assert call(f"{console.base}/api/v1/mpi/persons/{WANG_ID}")[1]["person"] == person


def test_the_residents_360_view_shows_each_value_with_its_source_contracts_and_tasks(
    console: Console, page: Page, shots: Path
) -> None:
    page.goto(f"{console.base}/ui/residents?q={WANG_ID}")
    timeline = page.inner_text("#timeline")
    assert "2026-07-06" in timeline and "his.county-people-hospital" in timeline
    assert "phs.county" in page.inner_text("#demographics") or "phs.county" in page.inner_text("#contracts")
    assert "SC2026010101" in page.inner_text("#contracts")
    assert page.locator("#tasks tr").count() > 1
    page.screenshot(path=str(shots / "resident.png"), full_page=True)


def test_the_indicator_chart_is_drawn_for_the_quarter(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/indicators?period=2026Q3")
    page.wait_for_selector("#chart canvas")
    assert canvas_drawn(page, "#chart")
    assert "岚溪县" in page.inner_text("#rows")
    # the chart and the table's head: the whole table is long
    page.screenshot(path=str(shots / "indicators.png"))


def test_the_audit_page_in_english_lists_who_read_and_changed_what(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/audit?lang=en")
    assert page.inner_text("h1") == "Audit log"
    rows = page.inner_text("#audit")
    assert "console.read" in rows and "user:anonymous" in rows
    page.screenshot(path=str(shots / "audit.png"), full_page=True)
