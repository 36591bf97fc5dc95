"""Past seasons: chosen once at the top of the reports and remembered for the browser session; the progress report
compares the season with the last; the acceptance report of a past season; a household's page shows every season."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import db
from subsidy.models import Registration, Season, Slip
from tests.factories.settlement import approved_registrations, make_slip, past_season_with_a_sale, supplier


def _last_season_with_a_sale(engine, kg: int = 1500) -> tuple[int, int]:
    """A season a year before the demo's, in which the first approved dongguan household bought `kg`."""
    with db.transaction(engine) as s:
        last, registration, _ = past_season_with_a_sale(s, kg)
        active = s.execute(select(Season).where(Season.is_active.is_(True))).scalar_one()
        current = approved_registrations(s, "dongguan")[0]
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


def _slip_numbers(engine, season_id: int) -> set[str]:
    with db.new_session(engine) as s:
        return set(s.execute(select(Slip.number).where(Slip.season_id == season_id)).scalars())


def test_the_slip_list_shows_the_active_season_unless_a_past_one_is_picked(engine, client_as):
    last_id, _ = _last_season_with_a_sale(engine)
    last_slips = _slip_numbers(engine, last_id)
    auditor = client_as("auditor")
    now = auditor.get("/slips").text
    assert not any(n in now for n in last_slips) and 'name="season_id"' in now
    past = auditor.get(f"/slips?season_id={last_id}")
    assert past.status_code == 200 and "上一采暖季（往季）" in past.text
    assert all(n in past.text for n in last_slips)
    sheet = load_workbook(BytesIO(auditor.get(f"/slips.xlsx?season_id={last_id}").content)).active
    assert {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)} == last_slips
    assert auditor.get("/slips?season_id=999999").status_code == 404


def test_the_registration_list_counts_and_export_follow_the_season_chosen_for_the_session(engine, client_as):
    last_id, household_id = _last_season_with_a_sale(engine)
    auditor = client_as("auditor")
    auditor.submit("/reports/season", {"season_id": str(last_id), "next": "/registrations"})
    listed = auditor.get("/registrations").text
    assert "上一采暖季（往季）" in listed and f"/households/{household_id}" in listed
    assert listed.count('href="/households/') == 1  # last season had one registration
    counts = auditor.get("/registrations/counts").text
    assert "上一采暖季" in counts
    rows = list(load_workbook(BytesIO(auditor.get("/registrations/export.xlsx").content)).active
                .iter_rows(values_only=True))
    assert len([r for r in rows[1:] if any(r)]) == 1
    # picking on the list itself wins over the session's choice
    with db.new_session(engine) as s:
        active_id = s.execute(select(Season.id).where(Season.is_active.is_(True))).scalar_one()
    assert auditor.get(f"/registrations?season_id={active_id}").text.count('href="/households/') > 1


def test_a_past_season_offers_no_decisions(engine, client_as):
    last_id, _ = _last_season_with_a_sale(engine)
    with db.transaction(engine) as s:
        current = approved_registrations(s, "dongguan")[1]
        noticed = Registration(household_id=current.household_id, season_id=last_id, village_id=current.village_id,
                               coal_kg=1000, stoves=0, status="noticed")
        s.add(noticed)
        s.flush()
        noticed_id, household_id = noticed.id, noticed.household_id
    page = client_as("caiyuan").get(f"/registrations?season_id={last_id}&status=noticed").text
    assert f"/households/{household_id}" in page  # listed, for reading
    assert f"/registrations/{noticed_id}/approve" not in page and f"/registrations/{noticed_id}/reject" not in page
    assert "/registrations/approve-all" not in page and "approve-chosen" not in page
    assert "/registrations/approve-all" in client_as("caiyuan").get("/registrations").text  # the active season does
