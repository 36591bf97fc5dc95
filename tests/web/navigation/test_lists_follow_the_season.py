"""Every list follows the season chosen once at the top of the reports and remembered for the browser session (issue
#18 item 5; web/deps.py: listed_season): cases, anomaly flags, batches, spot checks, summaries and deliveries show the
active season's rows by default and the past season's rows, and only them, once it is chosen (or asked for with
`season_id`). The acceptance report of a season compares it with the one before. One test per list: a row of each
season, told apart by a text of its own."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from subsidy.core import clock, db
from subsidy.models import AnomalyFlag, Batch, Contract, Household, Season, SpotCheck, Summary
from subsidy.oversight import cases
from subsidy.quality import inspections
from subsidy.settlement import summaries
from tests.factories import sales as f
from tests.factories.settlement import past_season_with_a_sale
from tests.services.quality import test_spot_checks as spot_tests


@pytest.fixture
def two_seasons(engine, demo):
    """The demo's active season and one a year before it (with an approved dongguan registration and a sale)."""
    with db.transaction(engine) as s:
        last, registration, slip = past_season_with_a_sale(s, 1500)
        active = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        return {"last": last.id, "active": active.id, "household": registration.household_id, "slip": slip.number}


def _choose(client, season_id: int) -> None:
    """The season picker at the top of the reports (remembered in the session's cookie)."""
    chosen = client.submit("/reports/season", {"season_id": str(season_id), "next": "/reports/progress"},
                           follow_redirects=False)
    assert chosen.status_code == 303


def _shows(client, path: str, mine: str, other: str) -> None:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:300])
    assert mine in page.text and other not in page.text, (path, mine, other)


def _both_ways(client, seasons: dict, path: str, now: str, then: str) -> None:
    """`path` shows `now` (the active season's row) by default, `then` (the past season's) once the past season is
    chosen at the top or asked for in the query, and `now` again when the active season is chosen again."""
    _shows(client, path, now, then)
    joiner = "&" if "?" in path else "?"
    _shows(client, f"{path}{joiner}season_id={seasons['last']}", then, now)
    _choose(client, seasons["last"])
    _shows(client, path, then, now)
    assert "（往季）" in client.get(path).text or "上一采暖季" in client.get(path).text
    _choose(client, seasons["active"])
    _shows(client, path, now, then)


def test_the_cases_list_follows_the_chosen_season(engine, client_as, two_seasons):
    with db.transaction(engine) as s:
        drc = f.user(s, "drc")
        cases.open_case(s, drc, channel="hotline", category="other", description="本季的投诉甲乙丙")
        old = cases.open_case(s, drc, channel="hotline", category="other", description="上季的投诉丁戊己",
                              season_id=two_seasons["last"])
        assert old.season_id == two_seasons["last"]
    _both_ways(client_as("drc"), two_seasons, "/cases", "本季的投诉甲乙丙", "上季的投诉丁戊己")


def test_the_anomaly_list_follows_the_chosen_season(engine, client_as, two_seasons):
    with db.transaction(engine) as s:
        now = clock.now()
        for season_id, subject in ((two_seasons["active"], "本季预警甲乙"), (two_seasons["last"], "上季预警丙丁")):
            s.add(AnomalyFlag(season_id=season_id, rule="undelivered", subject_key=subject, subject=subject,
                              member_kind="slip", members="1", size=1, figure=1, base=7,
                              fingerprint=f"{season_id:032d}", first_seen_at=now, last_seen_at=now))
    _both_ways(client_as("drc"), two_seasons, "/anomalies", "本季预警甲乙", "上季预警丙丁")


def _moved_to_the_past(engine, two_seasons, model, row_id: int) -> None:
    with db.transaction(engine) as s:
        s.execute(update(model).where(model.id == row_id).values(season_id=two_seasons["last"]))


def test_the_batch_list_follows_the_chosen_season(engine, client_as, two_seasons):
    with db.transaction(engine) as s:
        now_no, then_no = "JC-NOW-7781", "JC-THEN-7782"
        spot_tests.add_batch(s, report_no=now_no)
        old = spot_tests.add_batch(s, report_no=then_no)
        old_id = old.id
    _moved_to_the_past(engine, two_seasons, Batch, old_id)
    _both_ways(client_as("drc"), two_seasons, "/batches", now_no, then_no)


def test_the_spot_check_list_follows_the_chosen_season(engine, client_as, two_seasons):
    with db.transaction(engine) as s:
        drc = f.user(s, "drc")
        batch_id = s.execute(select(Batch.id).order_by(Batch.id)).scalars().first()
        inspections.record(s, drc, batch_id, spot_tests.check_input(report_no="CJ-NOW-5511"))
        old = inspections.record(s, drc, batch_id, spot_tests.check_input(report_no="CJ-THEN-5512"))
        old_id = old.id
    _moved_to_the_past(engine, two_seasons, SpotCheck, old_id)
    _both_ways(client_as("drc"), two_seasons, "/quality", "CJ-NOW-5511", "CJ-THEN-5512")


def test_the_summary_list_follows_the_chosen_season(engine, client_as, two_seasons):
    from tests.services.settlement.test_settlement import build, sell

    with db.new_session(engine) as s:
        sell(s, villages=("dongguan", "yingxi"), kg=400)
    drafts = build(engine)
    assert len(drafts) == 2
    with db.new_session(engine) as s:
        names = {d.id: s.get(Summary, d.id).town_id for d in drafts}
    now_id, then_id = sorted(names)
    _moved_to_the_past(engine, two_seasons, Summary, then_id)
    _both_ways(client_as("drc"), two_seasons, "/summaries", f"/summaries/{now_id}\"", f"/summaries/{then_id}\"")


def test_the_delivery_list_and_its_sheet_follow_the_chosen_season(engine, client_as, two_seasons):
    """The town's list of a past season holds that season's one approved registration (bought 1.5 of 3 t)."""
    town = client_as("caiyuan")
    with db.new_session(engine) as s:
        past = s.get(Household, two_seasons["household"]).head_name
    now = town.get("/deliveries?pending=0")
    assert now.status_code == 200 and now.text.count("<tr") > 3
    _choose(town, two_seasons["last"])
    then = town.get("/deliveries?pending=0")
    assert then.status_code == 200 and past in then.text and "上一采暖季（往季）" in then.text
    assert then.text.count('href="/deliveries/route?village_id=') == 1, "one household, one village"
    sheet = load_workbook(BytesIO(town.get("/deliveries.xlsx?pending=0").content)).active
    rows = [r for r in sheet.iter_rows(min_row=2, values_only=True) if any(r)]
    assert [r[2] for r in rows] == [past]
    assert rows[0][6] == 1.5  # what is left of the past season's 3 t, as a number


def test_the_acceptance_report_compares_the_season_with_the_last(engine, client_as, two_seasons):
    drc = client_as("drc")
    page = drc.get("/reports/acceptance")
    assert page.status_code == 200
    previous = page.text[page.text.index('data-row="previous"'):]
    previous = previous[:previous.index("</tr>")]
    assert "上季：上一采暖季" in previous and "1.500" in previous  # last season's 1.5 t beside this season's
    sheet = load_workbook(BytesIO(drc.get(f"/reports/acceptance.xlsx?season_id={two_seasons['active']}")
                                  .content)).active
    row = next(r for r in sheet.iter_rows() if str(r[0].value or "").startswith("上季（上一采暖季）"))
    assert row[7].data_type == "n" and float(row[7].value) == 1.5


def test_the_contract_list_and_coverage_follow_a_past_season_chosen_at_the_top(engine, client_as, two_seasons):
    """The contract list shows every season until a past one is chosen (its own season picker keeps 全部), then
    that season's contracts alone; the coverage table is the chosen season's."""
    with db.new_session(engine) as s:
        ids = sorted(s.execute(select(Contract.id)).scalars())
    old_id, now_id = ids[0], ids[-1]
    _moved_to_the_past(engine, two_seasons, Contract, old_id)
    drc = client_as("drc")
    listed = drc.get("/contracts?per_page=100").text
    assert f'href="/contracts/{old_id}"' in listed and f'href="/contracts/{now_id}"' in listed
    _choose(drc, two_seasons["last"])
    listed = drc.get("/contracts?per_page=100").text
    assert f'href="/contracts/{old_id}"' in listed and f'href="/contracts/{now_id}"' not in listed
    assert "配送覆盖：上一采暖季" in drc.get("/contracts/coverage").text


def test_the_api_case_and_anomaly_lists_take_a_season(engine, api_as, two_seasons):
    """The API has no chosen season (no browser session): every season without `season_id`, that season's with it."""
    with db.transaction(engine) as s:
        drc = f.user(s, "drc")
        cases.open_case(s, drc, channel="hotline", category="other", description="本季的投诉甲乙丙")
        cases.open_case(s, drc, channel="hotline", category="other", description="上季的投诉丁戊己",
                        season_id=two_seasons["last"])
        now = clock.now()
        for season_id, subject in ((two_seasons["active"], "本季预警甲乙"), (two_seasons["last"], "上季预警丙丁")):
            s.add(AnomalyFlag(season_id=season_id, rule="undelivered", subject_key=subject, subject=subject,
                              member_kind="slip", members="1", size=1, figure=1, base=7,
                              fingerprint=f"{season_id:032d}", first_seen_at=now, last_seen_at=now))
    api = api_as("drc")
    for path, key, now_text, then_text in (("/api/v1/cases", "description", "本季的投诉甲乙丙", "上季的投诉丁戊己"),
                                           ("/api/v1/reports/anomalies", "subject", "本季预警甲乙", "上季预警丙丁")):
        every = {item[key] for item in api.get(path).json()["items"]}
        assert {now_text, then_text} <= every, (path, every)
        past = api.get(f"{path}?season_id={two_seasons['last']}")
        assert past.status_code == 200, past.text
        assert {item[key] for item in past.json()["items"]} == {then_text}, path
        refused = api.get(f"{path}?season_id=0")
        assert refused.status_code == 422 and "season_id" in refused.text, (path, refused.text)
    assert api.get("/api/v1/cases?town_id=-1").status_code == 422
