"""The dashboard in a real browser: Debian's Chromium driven by Playwright, over a live server seeded with
signed webhooks. Chromium missing is a failure that says how to install it, never a skip.

DASHBOARD_SCREENSHOTS=docs/images writes the screenshots there (for the README); otherwise into tmp_path.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentic_memory.http.app import create_app
from tests.conftest import built_deps, make_settings
from tests.dashboard_seed import seed
from tests.elevenlabs_fake import serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ADMIN_KEY = "amadm_browser_admin_key_0123456789abcdef"
HERE = Path(__file__).resolve().parent
AXE = (HERE / "axe.min.js").read_text(encoding="utf-8")  # axe-core 4.11.0 from npm (MPL-2.0), vendored


@pytest.fixture(scope="module")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("dash") / "data", admin_key=ADMIN_KEY)
    with (built_deps(settings, embedder=embedder) as deps, serve(create_app(deps)) as url,
          httpx.Client(base_url=url, timeout=30) as client):
        seed(client, deps)
        yield url


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watch:
    """Console errors (CSP violations are reported there too) and page errors."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


def axe_serious(page: Any) -> list[tuple[str, str]]:
    page.evaluate(AXE + ";0")  # through the DevTools protocol: the page's own CSP still allows no inline script
    found = page.evaluate("axe.run(document).then(r => r.violations.map(v => [v.id, v.impact]))")
    return [(rule, impact) for rule, impact in found if impact in ("serious", "critical")]


def login(page: Any, url: str) -> None:
    page.goto(f"{url}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("#key", ADMIN_KEY)
    page.press("#key", "Enter")
    page.wait_for_url(f"{url}/dashboard")


def test_operator_journey(browser, live, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    audio_statuses: list[int] = []
    page.on("response", lambda r: "/audio" in r.url and audio_statuses.append(r.status))
    login(page, live)
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("svg.chart").count() == 4
    assert axe_serious(page) == []
    page.screenshot(path=str(shots / "dashboard-overview.png"), full_page=True)

    page.get_by_role("link", name="Callers").click()
    page.fill("#q", "(415) 555-0142")  # national format
    page.press("#q", "Enter")
    page.get_by_role("link", name="Liz").click()
    assert "4155550142" not in page.url
    deadline = time.monotonic() + 10  # polled from here: wait_for_function would need the CSP's 'unsafe-eval'
    while page.evaluate("document.querySelector('audio').readyState") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    duration = page.evaluate("document.querySelector('audio').duration")
    assert 1.3 < duration < 1.7
    assert 206 in audio_statuses
    assert axe_serious(page) == []
    page.screenshot(path=str(shots / "dashboard-caller.png"), full_page=True)

    assert "Liz" in page.locator("#first-message").inner_text()
    page.fill("#name", "Elizabeth")
    page.get_by_role("button", name="Save name").click()
    page.wait_for_selector("text=Name corrected.")
    assert "Elizabeth" in page.locator("#first-message").inner_text()
    handle = re.search(r"c_[0-9a-f]{32}", page.url).group(0)
    forged = page.request.post(f"{live}/dashboard/callers/{handle}/name", form={"name": "Mallory"})
    assert forged.status == 403  # the session cookie alone is not enough

    page.get_by_role("link", name="Search").click()
    page.select_option("#caller", label="Elizabeth (••• 0142)")
    page.fill("#sq", "what milk do I take?")
    page.press("#sq", "Enter")
    first = page.locator("#results tbody tr").first.inner_text()
    assert "almond" in first
    assert axe_serious(page) == []
    page.screenshot(path=str(shots / "dashboard-search.png"), full_page=True)

    page.get_by_role("link", name="Dead letters").click()
    assert "conv_bad" in page.content()
    assert axe_serious(page) == []
    page.screenshot(path=str(shots / "dashboard-dead-letters.png"), full_page=True)

    page.goto(f"{live}/dashboard/callers/{handle}")
    page.get_by_role("link", name="Erase this caller…").click()
    assert "2 stored call(s)" in page.locator("main").inner_text()
    assert axe_serious(page) == []
    page.screenshot(path=str(shots / "dashboard-erase.png"), full_page=True)
    page.get_by_role("button", name="Erase Elizabeth now").click()
    page.wait_for_selector("text=Caller erased")
    assert page.get_by_role("link", name="Elizabeth").count() == 0
    assert page.get_by_role("link", name="Bob").count() == 1
    assert watch.errors == []
    context.close()


def test_keyboard_only_and_a_phone(browser, live, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    login(page, live)
    page.goto(f"{live}/dashboard/callers")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(20):  # from the main content, Tab reaches the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    page.keyboard.type("bob")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Bob")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Bob":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboard/callers/c_[0-9a-f]+$"))
    assert page.locator("h1").inner_text().startswith("Bob")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                device_scale_factor=2)
    page = phone.new_page()
    watch = Watch(page)
    login(page, live)
    page.goto(f"{live}/dashboard/callers")
    page.get_by_role("link", name="Bob").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    page.screenshot(path=str(shots / "dashboard-phone.png"), full_page=True)
    page.goto(f"{live}/dashboard")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert watch.errors == []
    phone.close()
