"""The console in a real browser (Debian's chromium driven by Playwright), signed in through the login form as an
operator with clinical read: the dashboard draws its chart, a search finds a resident's messages, one message
shows in full, and a dead letter reprocessed from its page (with the session's CSRF token) is sent. Each page is
saved as a screenshot (in $HUITONG_CONSOLE_SCREENSHOTS: docs/console refreshes
docs/console.md's)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.server import CHEN_ID, REFUSED, Console, county_console
from tests.support.daemon import huitong

OPERATOR, PASSWORD = "li.ops", "a long enough password"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-browser")
    url = f"sqlite:///{root / 'store.db'}"
    with county_console(url, root, log_dir / f"console-browser-{root.name}.jsonl", auth="users") as running:
        made = huitong(
            "users", "create", OPERATOR, "--role", "operator", "--role", "clinical", "--password-stdin",
            config=running.config, stdin=PASSWORD + "\n",
        )
        assert made.returncode == 0, made.stderr
        yield running


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A page signed in through the login form, as a person would."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    signed_in = context.new_page()
    signed_in.goto(f"{console.base}/ui/")
    expect(signed_in).to_have_url(re.compile(r"/login\?next="))
    signed_in.fill("#name", OPERATOR)
    signed_in.fill("#password", PASSWORD)
    signed_in.press("#password", "Enter")
    expect(signed_in).to_have_url(re.compile(r"/ui/$"))
    yield signed_in
    context.close()


def shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_the_dashboard_shows_the_channel_and_draws_its_per_minute_chart(
    console: Console, page: Page, shots: Path
) -> None:
    page.goto(f"{console.base}/ui/")
    expect(page.locator("#channels tr[data-channel='his-adt'] .state")).to_have_text("运行中")
    expect(page.locator("#throughput canvas")).to_have_count(1)
    expect(page.locator("#throughput")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
    shot(page, shots, "dashboard")


def test_the_console_speaks_english_when_asked_and_remembers_it(console: Console, page: Page) -> None:
    page.goto(f"{console.base}/ui/?lang=en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.goto(f"{console.base}/ui/messages")
    expect(page.locator("h1")).to_have_text("Messages")


def test_a_search_by_patient_identifier_lists_the_residents_messages(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/messages")
    page.fill("input[name=patient]", CHEN_ID)
    page.click("#search button[type=submit]")
    expect(page.locator("#results tbody tr")).to_have_count(5)
    expect(page.locator("#results")).to_contain_text("ORU^R01")
    shot(page, shots, "messages")


def test_a_message_shows_its_raw_text_deliveries_and_mapped_fhir(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/messages?control_id=HIS260708002")
    page.click("#results tbody tr a")
    expect(page.locator("#raw")).to_contain_text("陈桂兰")
    expect(page.locator("#mapped")).to_contain_text('"resourceType": "Observation"')
    expect(page.locator("#deliveries tr[data-destination='lis'] .delivery")).to_have_text("SENT")
    shot(page, shots, "message")


def test_a_dead_letter_reprocessed_from_its_page_is_sent(console: Console, page: Page, shots: Path) -> None:
    page.goto(f"{console.base}/ui/")
    page.click("#dead-letters tbody tr a")
    expect(page.locator("h1")).to_contain_text("消息")
    expect(page.locator("dl.facts")).to_contain_text(REFUSED)
    expect(page.locator("#deliveries tr[data-destination='lis'] .delivery")).to_have_text("DEAD")
    console.lis.refusing = False  # the LIS is fixed
    page.click("#reprocess")
    expect(page.locator("#reprocess-outcome")).to_have_text("重新处理完成", timeout=30_000)
    expect(page.locator("#deliveries tr[data-destination='lis'] .delivery")).to_have_text("SENT")
    shot(page, shots, "reprocessed")
