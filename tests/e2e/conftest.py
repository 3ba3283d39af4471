"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Chromium comes from the distribution (`apt-get install chromium`), never from
Playwright's own download. Without /usr/bin/chromium these tests are skipped,
saying so. On a failure, screenshots of the pages a test registered (the
dashboard, the order page) are written to test-artifacts/.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.slow


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    )
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module. Playwright's sync API keeps an event loop in this
    thread, which Django would take for an async context: the ORM calls of these
    tests (seeding, checks) are allowed for the module's duration only."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def live_settings(settings: Any) -> Any:
    # The live server speaks plain HTTP: cookies must not require HTTPS.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return settings


@dataclass
class Screens:
    """Pages to photograph if the test fails: (name, page, url)."""

    watched: list[tuple[str, Any, str]] = field(default_factory=list)

    def watch(self, name: str, page: Any, url: str) -> None:
        self.watched.append((name, page, url))


@pytest.fixture
def screens(request: pytest.FixtureRequest, new_page: Any) -> Iterator[Screens]:
    """Depends on new_page so that its pages are still open when it takes the pictures."""
    screens = Screens()
    yield screens
    if not request.node.stash.get(_FAILED, False):
        return
    ARTIFACTS.mkdir(exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shot_pages: set[int] = set()
    for name, page, url in screens.watched:
        try:
            if id(page) not in shot_pages:  # where the page was when the test failed
                page.screenshot(path=ARTIFACTS / f"{prefix}-at-failure-{name}.png", full_page=True)
                shot_pages.add(id(page))
            if url:
                page.goto(url)
                page.screenshot(path=ARTIFACTS / f"{prefix}-{name}.png", full_page=True)
        except Exception as error:  # noqa: BLE001 (a screenshot must not hide the failure)
            print(f"screenshot {name} failed: {error}")


@pytest.fixture
def new_page(browser: Any, live_server: Any, live_settings: Any) -> Iterator[Any]:
    """new_page() -> a page in a fresh browser context (its own cookies)."""
    contexts = []

    def make() -> Any:
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
