"""In a real browser (issue 14, item 12): opening the pages asks the server for nothing it answers 404, the icon
included, and /favicon.ico, which browsers and bookmarks ask for on their own, is an icon."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_no_page_visit_asks_for_something_missing_and_the_favicon_is_served(page):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/login")
    login(page, "dongguan")
    for path in ("/", "/households", "/registrations"):
        page.goto(path)
        page.wait_for_load_state("load")
    assert missing == []
    icon = page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.body().startswith(b"<svg")
