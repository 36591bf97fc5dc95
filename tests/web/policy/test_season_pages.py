"""The DRC's season pages: the policy form, fund shares, tiers, activation, town targets; read-only for others."""

from __future__ import annotations

import re

from sqlalchemy import select

from subsidy.core import db
from subsidy.policy import seasons
from subsidy.models import Season, Town
from tests.factories.accounts import policy_form


def _season(engine, code: str) -> Season:
    with db.new_session(engine) as s:
        return s.execute(select(Season).where(Season.code == code)).scalar_one()


def test_the_drc_creates_a_season_with_tiered_rates_and_fund_shares(client_as, engine):
    form = policy_form(rate_briquette_ordinary="0:300, 2:150", fund_city="33.33", fund_district="66.67",
                       cap_coal="2.5")
    page = client_as("drc").submit("/seasons/new", form)
    assert page.status_code == 200 and "采暖季政策已保存" in page.text
    season = _season(engine, "27")
    assert season.cap_coal_kg == 2500 and not season.is_active
    with db.new_session(engine) as s:
        assert seasons.rate_table(s, season.id)[("briquette", "ordinary")] == [seasons.Tier(0, 30000),
                                                                               seasons.Tier(2000, 15000)]
        assert [(f.fund, f.share_bp) for f in seasons.funds_of(s, season.id)] == [("city", 3333), ("district", 6667)]
    assert 'value="0:300, 2:150"' in page.text and 'value="33.33"' in page.text and 'value="2.5"' in page.text


def test_fund_shares_that_do_not_add_up_to_100_percent_are_refused_on_the_page(client_as, engine):
    form = policy_form(name="试填的采暖季", fund_city="50", fund_district="40.5")
    page = client_as("drc").submit("/seasons/new", form)
    assert page.status_code == 422
    assert "各级资金比例合计须为100%，现为90.5%" in page.text
    assert 'value="试填的采暖季"' in page.text and 'value="40.5"' in page.text
    with db.new_session(engine) as s:
        assert s.execute(select(Season).where(Season.code == "27")).first() is None


def test_a_wrong_rate_cell_is_refused_next_to_the_cell_and_keeps_the_typed_text(client_as):
    page = client_as("drc").submit("/seasons/new", policy_form(rate_stove_low_income="0:300, 2:150",
                                                               rate_semi_coke_ordinary="abc"))
    assert page.status_code == 422
    assert "炉具补贴不分阶梯" in page.text and "金额格式不正确" in page.text
    assert 'value="abc"' in page.text


def test_every_wrong_field_is_named_at_once(client_as):
    page = client_as("drc").submit("/seasons/new", policy_form(starts_on="2028-04-01", notice_days="x",
                                                               code="", cap_coal="-1"))
    assert page.status_code == 422
    for reason in ("结束日期不能早于开始日期", "公示天数应为不小于0的整数", "采暖季代码为1至8位字母或数字"):
        assert reason in page.text
    assert re.search(r'id="f-cap_coal"[^>]*value="-1"|value="-1"', page.text)


def test_a_season_code_already_used_is_refused(client_as):
    page = client_as("drc").submit("/seasons/new", policy_form(code="21"))
    assert page.status_code == 422 and "该采暖季代码已被使用" in page.text


def test_editing_a_policy_replaces_its_rates(client_as, engine):
    drc = client_as("drc")
    drc.submit("/seasons/new", policy_form())
    season = _season(engine, "27")
    page = drc.submit(f"/seasons/{season.id}", policy_form(name="改名后的采暖季", rate_stove_ordinary="500"))
    assert page.status_code == 200 and "改名后的采暖季" in page.text
    with db.new_session(engine) as s:
        assert seasons.rate_table(s, season.id)[("stove", "ordinary")] == [seasons.Tier(0, 50000)]


def test_activating_a_season_leaves_exactly_one_active(client_as, engine):
    drc = client_as("drc")
    drc.submit("/seasons/new", policy_form())
    new = _season(engine, "27")
    listing = drc.submit(f"/seasons/{new.id}/activate")
    assert listing.status_code == 200 and listing.text.count("当前采暖季</span>") == 1
    with db.new_session(engine) as s:
        assert s.execute(select(Season.code).where(Season.is_active.is_(True))).scalars().all() == ["27"]
    drc.submit(f"/seasons/{_season(engine, '21').id}/activate")
    with db.new_session(engine) as s:
        assert s.execute(select(Season.code).where(Season.is_active.is_(True))).scalars().all() == ["21"]


def test_town_targets_are_entered_in_tons_and_refused_whole_when_a_cell_is_wrong(client_as, engine):
    drc = client_as("drc")
    season = _season(engine, "21")
    with db.new_session(engine) as s:
        towns = {t.code: t.id for t in s.execute(select(Town)).scalars()}
    form = {f"coal_{i}": "0" for i in towns.values()} | {f"stoves_{i}": "0" for i in towns.values()}
    form[f"coal_{towns['caiyuan']}"] = "1234.5"
    form[f"stoves_{towns['caiyuan']}"] = "88"
    bad = dict(form, **{f"coal_{towns['daimiao']}": "lots"})
    refused = drc.submit(f"/seasons/{season.id}/targets", bad)
    assert refused.status_code == 422 and "应为以吨为单位的数字" in refused.text and 'value="lots"' in refused.text
    with db.new_session(engine) as s:
        assert seasons.targets_of(s, season.id)[towns["caiyuan"]].coal_kg != 1_234_500
    saved = drc.submit(f"/seasons/{season.id}/targets", form)
    assert saved.status_code == 200 and "任务量已保存" in saved.text
    with db.new_session(engine) as s:
        target = seasons.targets_of(s, season.id)[towns["caiyuan"]]
        assert (target.coal_kg, target.stoves) == (1_234_500, 88)


def test_finance_auditor_and_admin_read_the_policy_but_cannot_change_it(client_as, engine):
    season = _season(engine, "21")
    for username in ("finance", "auditor", "admin"):
        client = client_as(username)
        page = client.get(f"/seasons/{season.id}")
        assert page.status_code == 200 and "<fieldset disabled" in page.text
        assert "只能查看" in page.text
        assert client.get(f"/seasons/{season.id}/targets").status_code == 200
        assert client.submit(f"/seasons/{season.id}", policy_form(code="21")).status_code == 403
        assert client.submit(f"/seasons/{season.id}/activate").status_code == 403
        assert client.get("/seasons/new").status_code == 403


def test_town_village_and_supplier_users_cannot_open_season_pages(client_as, engine):
    season = _season(engine, "21")
    for username in ("caiyuan", "dongguan", "coal-a"):
        client = client_as(username)
        assert client.get("/seasons").status_code == 403
        assert client.get(f"/seasons/{season.id}/targets").status_code == 403


def test_a_season_that_does_not_exist_is_not_found(client_as):
    drc = client_as("drc")
    assert drc.get("/seasons/999999").status_code == 404
    assert drc.submit("/seasons/999999/activate").status_code == 404
    assert drc.submit("/seasons/999999", policy_form()).status_code == 404
