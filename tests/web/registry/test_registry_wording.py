"""The registry pages say things once and say which village: the notice's opening sentence does not repeat the
season's own words, the list of notices names each notice's village, and the page the menu calls 登记审核 is titled
登记审核."""

from __future__ import annotations

import re

from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Notice, Village
from subsidy.policy import seasons


def publish(engine, *codes: str) -> dict[str, int]:
    """A notice of each village, published today; their ids by village code."""
    ids = {}
    with db.transaction(engine) as s:
        season = seasons.active_season(s)
        for code in codes:
            village = s.execute(select(Village).where(Village.code == code)).scalar_one()
            notice = Notice(village_id=village.id, season_id=season.id, published_on=clock.today(),
                            ends_on=clock.today(), objection_contact="村委会")
            s.add(notice)
            s.flush()
            ids[code] = notice.id
    return ids


def test_the_notice_names_the_season_without_repeating_its_words(engine, client_as):
    ids = publish(engine, "dongguan")
    html = client_as("dongguan").get(f"/registrations/notices/{ids['dongguan']}").text
    opening = re.search(r"<p>(根据.*?)</p>", html).group(1)
    assert opening.count("散煤清洁化治理") == 1, opening
    assert "散煤清洁化治理（" in opening and "工作安排" in opening


def test_the_list_of_notices_names_each_village(engine, client_as):
    ids = publish(engine, "dongguan", "xiguan")
    html = client_as("caiyuan").get("/registrations").text
    links = dict(re.findall(r'<a href="/registrations/notices/(\d+)">([^<]*)</a>', html))
    assert links[str(ids["dongguan"])].startswith("东关村 ") and links[str(ids["xiguan"])].startswith("西关社区 ")


def test_the_registrations_page_is_titled_as_the_menu_names_it(client_as):
    html = client_as("caiyuan").get("/registrations").text
    assert '<a href="/registrations"' in html and ">登记审核</a>" in html
    assert "<title>登记审核 ·" in html and re.search(r"<h1>登记审核[ <]", html)
