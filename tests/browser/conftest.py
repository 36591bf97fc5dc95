"""Browser tests: the app served by uvicorn on a 127.0.0.1 port the kernel picks (the fixture binds the socket and
hands it to uvicorn), driven by the SYSTEM chromium through Playwright's sync API (never a downloaded browser).

Fixtures other areas use for their scenarios:
- `live_server`: the base URL of the app, on this test's fresh SQLite database with the demo district loaded;
- `page`: a Playwright page (1366×768) whose relative URLs go to `live_server`;
- `open_page()`: one more such page in a context of its own (its own cookies: another person logged in at the same
  time), closed after the test;
- `login(page, username, password=None)` (import from tests.browser.conftest, or use the `login` fixture): log in
  through the real form and wait for the page that follows.

Mark browser test modules with `pytestmark = pytest.mark.browser` (`pytest -m "not browser"` leaves them out).
Without a chromium the tests are skipped, saying why; with SUBSIDY_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator

import pytest

from tests.sockets import listening_socket
from tests.sqlite_only import db_url  # noqa: F401  (browser tests run on SQLite only)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def _unavailable(reason: str):
    if os.environ.get("SUBSIDY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here (SUBSIDY_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium found (install Debian's `chromium` package; no browser is ever downloaded)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except Exception as error:  # a broken chromium install says so instead of erroring every test
        playwright.stop()
        _unavailable(f"chromium at {executable} did not start: {error}")
    yield launched
    launched.close()
    playwright.stop()


@pytest.fixture
def live_server(db_url, demo) -> Iterator[str]:  # noqa: F811
    """uvicorn serving `web.app:create_app` in a background thread against this test's database, on a socket this
    fixture bound."""
    import uvicorn

    from web.app import create_app

    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _new_context(browser, base_url: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser, live_server):
    context = _new_context(browser, live_server)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def open_page(browser, live_server):
    """`open_page()`: a fresh page in a context of its own, for a second (third...) person in the same scenario."""
    contexts = []

    def make():
        context = _new_context(browser, live_server)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page, username: str, password: str | None = None) -> None:
    """Log in through the real login form as a person would, and wait for the next page to load."""
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password or f"{username}-demo")
    with page.expect_navigation():
        page.click("form[action=\"/login\"] button[type=submit]")


@pytest.fixture(name="login")
def login_fixture():
    return login
