"""Browser tests of the console: Debian's headless Chromium driven by Playwright (nothing downloads a
browser), against real API and worker processes on the run's PostgreSQL and Redis.

Every page a test opens may reach loopback only: any other request is refused and fails the test,
and so does any Content-Security-Policy violation the browser reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from bench.processes import REPO_ROOT, api_process, celery_worker
from bench.scratch import ScratchServices
from tests.browser.stack import Seeded, loopback_site, seed
from tests.utils.api import TestKey, make_key

CHROMIUM = os.environ.get("SIE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "docs" / "console"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# Dead letters die at once here: the flaky page's job is dead after its first attempt.
STACK_ENV = {"TASK_MAX_RETRIES": "0"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    with loopback_site() as url:
        yield url


@pytest.fixture(scope="module")
def stack_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-stack")


@pytest.fixture(scope="module")
def api_url(stack_logs: Path, site_url: str) -> Iterator[str]:
    """The API and a worker for this module only: a worker left running would take other tests' jobs."""
    logs = stack_logs
    with (
        api_process(STACK_ENV, log_path=logs / "api.log") as (url, _),
        celery_worker(concurrency=1, env=STACK_ENV, log_path=logs / "worker.log"),
    ):
        yield url


@pytest.fixture(scope="module")
def seeded(api_url: str, site_url: str) -> Seeded:
    return seed(api_url, site_url, make_key(admin=True))


@pytest.fixture(scope="module")
def other_tenant() -> TestKey:
    return make_key(admin=True)


# Module scope: Playwright's sync API runs an event loop on the main thread until it stops, and a
# later test that runs its own loop (kopf, kmock, pytest-asyncio) would find it running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (scripts/test.sh does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class BrowserLog:
    """What the browser tried beyond loopback (refused) and the CSP violations it reported."""

    def __init__(self) -> None:
        self.offsite: list[str] = []
        self.csp_violations: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort()

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def new_page(browser: Browser, browser_log: BrowserLog) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context (its own sessionStorage), signed in with `key` when given;
    requests beyond loopback are refused (and fail the test) unless `intercept` is false."""
    contexts = []

    def open_page(key: TestKey | None = None, *, intercept: bool = True) -> Page:
        context = browser.new_context(viewport=DESKTOP)
        contexts.append(context)
        if key is not None:
            # As the sign-in form leaves it: the key in this tab's sessionStorage, nowhere else.
            context.add_init_script(f"sessionStorage.setItem('sie.apiKey', {key.plain!r});")
        page = context.new_page()
        if intercept:  # each request makes a round trip through this process: not for timings
            page.route("**/*", browser_log.route)
        page.on("console", browser_log.console)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert browser_log.offsite == [], f"requests beyond loopback: {browser_log.offsite}"
    assert browser_log.csp_violations == [], browser_log.csp_violations


@pytest.fixture(scope="session")
def screenshots() -> Callable[[Page, str], None]:
    """Save the whole page as `docs/console/<name>-1280.png` and, 390 px wide, `<name>-390.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}-1280.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)  # the layout settles (and charts redraw) at the new width
        page.screenshot(path=str(SCREENSHOTS / f"{name}-390.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return shoot
