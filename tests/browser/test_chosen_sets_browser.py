"""In a real browser at 1366×768 (issue 14, items 9 and 10): a town ticks some of its noticed registrations and
approves just those; the bureau ticks one of two summaries in its queue, confirms the unscanned copies and approves
just that one; a household search of several pages jumps to a page by its number (the search is POSTed, never in
the URL); a settled slip is offered no 作废 and its void page says why instead of a form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Household, Registration, Summary, Village
from tests.browser.conftest import login
from tests.factories import sales as f
from tests.web.navigation import test_batch_approval as batch_tests
from tests.web.sales import test_void_offered as void_tests
from tests.web.settlement.test_settlement_pages import seen, summary_ids

pytestmark = pytest.mark.browser


def _noticed(engine, *village_codes: str) -> dict[int, str]:
    """The noticed registrations of those villages: id -> the head's name."""
    with db.new_session(engine) as s:
        return dict(s.execute(
            select(Registration.id, Household.head_name).join(Household, Household.id == Registration.household_id)
            .join(Village, Village.id == Registration.village_id)
            .where(Village.code.in_(village_codes), Registration.status == "noticed")
            .order_by(Registration.id)).all())


def _statuses(engine, ids) -> list[str]:
    with db.new_session(engine) as s:
        return [s.get(Registration, i).status for i in ids]


def test_the_town_ticks_two_of_its_noticed_registrations_and_approves_only_those(page, engine):
    noticed = _noticed(engine, "dongguan", "xiguan")
    assert len(noticed) >= 3, noticed
    ids = list(noticed)
    chosen, left = ids[::2][:2], [i for i in ids if i not in ids[::2][:2]]
    login(page, "caiyuan")
    page.goto("/registrations?status=noticed")
    boxes = page.locator("input[type=checkbox][name=ids][form=approve-chosen]")
    assert boxes.count() == len(ids)
    for registration_id in chosen:
        page.check(f"input[name=ids][value='{registration_id}']")
    with page.expect_navigation(url=re.compile(r".*/registrations\?status=approved&done=all-2$")):
        page.click("button[type=submit] >> text=审核通过所勾选的登记")
    assert "已审核通过2户。" in page.locator(".alert-ok").inner_text()
    assert _statuses(engine, chosen) == ["approved", "approved"]
    assert set(_statuses(engine, left)) == {"noticed"}  # the ones not ticked are untouched
    page.goto("/registrations?status=noticed")
    still = page.locator("table.list tbody").inner_text()
    assert all(noticed[i] in still for i in left)


def test_the_bureau_ticks_one_of_two_summaries_confirms_its_unscanned_copies_and_approves_only_it(
        page, client_as, engine):
    built = batch_tests.submitted_pair(client_as, engine)
    for username in ("caiyuan", "daimiao"):
        town = client_as(username)
        for summary_id in summary_ids(town.get("/summaries").text):
            town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": seen(town, summary_id),
                                                                  "confirmed": "1"})
    assert batch_tests.summary_statuses(engine, built) == ["town_approved", "town_approved"]
    chosen, other = built
    login(page, "drc")
    page.goto("/summaries")
    queue = page.locator("section.card", has_text="等待我审核")
    assert queue.locator("tbody input[type=checkbox]").count() == 2
    queue.locator(f"tbody input[type=checkbox][value='{chosen}']").check()
    with page.expect_navigation(url=re.compile(r".*/summaries/approve-many$")):
        page.click("button[type=submit] >> text=批量审核通过所选")
    # The confirmation names the chosen summary's unscanned slips, and only its own.
    step = page.locator("[data-confirm-step=approve]")
    assert "尚未扫码登记" in step.inner_text()
    assert page.locator("table[data-unscanned]").count() == 1
    assert re.findall(r'name="ids" value="(\d+)"', page.content()) == [str(chosen)]
    with page.expect_navigation(url=re.compile(r".*/summaries(/\d+)?\?notice=.*")):
        page.click("button[type=submit] >> text=确认审核通过")
    assert page.locator(".alert-ok").inner_text().strip() == "已审核通过1张汇总表"
    assert batch_tests.summary_statuses(engine, [chosen, other]) == ["drc_approved", "town_approved"]


def test_a_household_search_of_several_pages_jumps_to_the_page_typed(page, engine):
    with db.transaction(engine) as s:
        for _ in range(45):
            f.household(s, "dongguan", head_name="宋测试户")
    login(page, "dongguan")
    page.goto("/households")
    page.fill("#q", "宋测试")
    page.select_option("form.filter-bar select[name=per_page]", "20")
    with page.expect_navigation(url=re.compile(r".*/households/search$")):
        page.click("button[type=submit] >> text=查询")
    assert "“宋测试”的查询结果：45 户" in page.content()
    first = page.locator("table.list tbody tr").all_inner_texts()
    assert len(first) == 20
    pager = page.locator("nav.pager")
    assert "第 1/3 页" in pager.inner_text()
    pager.locator("form.jump input[name=page]").fill("3")
    with page.expect_navigation(url=re.compile(r".*/households/search$")):  # POSTed: no search in the URL
        pager.locator("form.jump button[type=submit]").click()
    assert "第 3/3 页" in page.locator("nav.pager").inner_text()
    third = page.locator("table.list tbody tr").all_inner_texts()
    assert len(third) == 5 and not set(third) & set(first)
    assert all("宋测试户" in row for row in third)
    assert page.input_value("#q") == "宋测试"  # the search and the page size are kept on the page it jumped to
    assert page.locator("form.filter-bar select[name=per_page]").input_value() == "20"
    assert "宋" not in page.url


def test_a_settled_slip_offers_no_void_and_its_void_page_says_why(page, engine):
    number, _ = void_tests._settled_slip(engine)
    login(page, "coal-a")
    page.goto(f"/slips/{number}")
    assert page.locator(".toolbar a", has_text="作废").count() == 0
    page.goto(f"/slips/{number}/void")
    assert void_tests.SETTLED in page.locator("[data-void-refused]").inner_text()
    assert page.locator("#f-reason").count() == 0 and page.locator("button", has_text="确认作废").count() == 0
    assert page.locator("nav.breadcrumbs a").first.get_attribute("href") == "/slips"
