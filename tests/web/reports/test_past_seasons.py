"""Past seasons: chosen once at the top of the reports and remembered for the browser session; the progress report
compares the season with the last; the acceptance report of a past season; a household's page shows every season."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Registration, Season
from tests.factories.accounts import season as make_season
from tests.factories.settlement import approved_registrations, make_slip, supplier


def _last_season_with_a_sale(engine, kg: int = 1500) -> tuple[int, int]:
    """A season a year before the demo's, in which the first approved dongguan household bought `kg`."""
    with db.transaction(engine) as s:
        active = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        last = make_season(s, name="上一采暖季", code="LAST", starts_on=(active.starts_on - timedelta(days=365)).isoformat(),
                           ends_on=(active.starts_on - timedelta(days=200)).isoformat())
        current = approved_registrations(s, "dongguan")[0]
        registration = Registration(household_id=current.household_id, season_id=last.id,
                                    village_id=current.village_id, coal_kg=3000, stoves=0, status="approved")
        s.add(registration)
        s.flush()
        make_slip(s, supplier=supplier(s, "coal-a"), registration=registration, issued_on=last.starts_on, coal_kg=kg)
        make_slip(s, supplier=supplier(s, "coal-a"), registration=current, issued_on=active.starts_on, coal_kg=500)
        return last.id, current.household_id


def test_the_progress_report_compares_the_season_with_the_last(engine, client_as):
    _last_season_with_a_sale(engine)
    page = client_as("drc").get("/reports/progress")
    assert page.status_code == 200
    assert "对比上季：上一采暖季" in page.text and "上季洁净煤(吨)" in page.text
    assert "1.500" in page.text  # last season's sale beside this season's 0.500


def test_a_season_chosen_once_is_remembered_by_the_reports_for_the_session(engine, client_as):
    last_id, _ = _last_season_with_a_sale(engine)
    drc = client_as("drc")
    assert "上一采暖季" in drc.get("/reports/season").text
    chosen = drc.submit("/reports/season", {"season_id": str(last_id), "next": "/reports/acceptance"},
                         follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/reports/acceptance"
    acceptance = drc.get("/reports/acceptance")
    assert "上一采暖季考核验收报告" in acceptance.text
    progress = drc.get("/reports/progress")
    assert "上一采暖季（往季）" in progress.text
    # another person's session is not moved
    assert "上一采暖季考核验收报告" not in client_as("auditor").get("/reports/acceptance").text
    # choosing the active season again goes back to the default
    with db.new_session(engine) as s:
        active_id = s.execute(select(Season.id).where(Season.is_active.is_(True))).scalar_one()
    drc.submit("/reports/season", {"season_id": str(active_id), "next": "https://elsewhere.example/"})
    assert "上一采暖季（往季）" not in drc.get("/reports/progress").text


def test_a_households_page_shows_all_its_seasons(engine, client_as):
    _, household_id = _last_season_with_a_sale(engine)
    page = client_as("caiyuan").get(f"/households/{household_id}")
    assert page.status_code == 200
    table = page.text[page.text.index("household-seasons"):]
    table = table[:table.index("</table>")]
    assert "上一采暖季" in table and "（当前采暖季）" in table
    assert table.index("（当前采暖季）") < table.index("上一采暖季")  # newest first
    assert "1.500" in table and "0.500" in table
