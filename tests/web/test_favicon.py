"""The favicon (issue 14, item 12): /favicon.ico, which browsers ask for on their own, is served to anyone (logged in
or not) instead of a 404 on every visit, and is the icon the pages link."""

from __future__ import annotations

from pathlib import Path

import pytest

ICON = (Path(__file__).resolve().parents[2] / "static" / "favicon.svg").read_bytes()


@pytest.mark.parametrize("who", [None, "dongguan"])
def test_favicon_ico_is_served_to_anyone(app, client_as, who):
    from tests.clients import PageClient

    client = client_as(who) if who else PageClient(app)
    answer = client.get("/favicon.ico", follow_redirects=False)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.content == ICON


def test_the_pages_link_the_same_icon(app, client_as):
    from tests.clients import PageClient

    for client, path in ((PageClient(app), "/login"), (client_as("caiyuan"), "/")):
        html = client.get(path).text
        assert '<link rel="icon" href="/static/favicon.svg"' in html
        assert client.get("/static/favicon.svg").content == ICON
