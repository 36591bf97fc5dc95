"""A closed season over HTTP: each write that belongs to it answers 422 with the field and its Chinese reason in the
API (CONTRACT.md: POST /seasons/{id}/close), and the page shows the reason; nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subsidy.core import clock, db
from subsidy.models import Batch, Household, Registration, Season, Slip
from tests.factories import sales as f
from subsidy.registry import households
from tests.factories.registry import household_input, row, xlsx
from tests.factories.supply import PDF
from tests.factories.settlement import approved_registrations, make_slip, supplier

REASON = "已由区发改局关闭"
BATCH = dict(product="briquette", quantity_kg=20000, origin="山西晋城", report_no="JC-CLOSED-1", lab="泰安市产品质量检验所",
             volatile_pct="9.80", sulfur_pct="0.35", ash_pct="18.00", calorific_mj_kg="24.5")


@pytest.fixture
def prepared(engine, demo):
    """A noticed and a registered registration, a standing slip, and an approved buyer who has bought nothing."""
    with db.transaction(engine) as s:
        _, noticed = f.household(s, "dongguan", status="noticed")
        _, registered = f.household(s, "dongguan", status="registered")
        buyer, approved = f.household(s, "dongguan")
        slip = make_slip(s, supplier=supplier(s, "coal-a"), registration=approved_registrations(s, "dongguan")[0],
                         issued_on=clock.today(), coal_kg=500)
        ids = {"noticed": noticed.id, "registered": registered.id, "approved": approved.id,
               "id_number": buyer.id_number, "slip": slip.number, "village": noticed.village_id,
               "household": registered.household_id}
        ids["season"] = s.execute(select(Season.id).where(Season.is_active.is_(True))).scalar_one()
    return ids


def _close(api_as, season_id):
    assert api_as("drc").post(f"/api/v1/seasons/{season_id}/close").status_code == 200


def _is_422_with_the_reason(answer, field="season_id"):
    assert answer.status_code == 422, (answer.status_code, answer.text[:300])
    body = answer.json()
    assert REASON in body["detail"] and REASON in body["errors"][field], body


def test_every_season_write_in_the_api_answers_422_with_the_field_and_the_reason(engine, api_as, prepared):
    _close(api_as, prepared["season"])
    village, town, seller = api_as("dongguan"), api_as("caiyuan"), api_as("coal-a")
    _is_422_with_the_reason(village.post(f"/api/v1/households/{prepared['household']}/registrations",
                                         json={"coal_kg": 1000, "stoves": 0}))
    _is_422_with_the_reason(village.post(f"/api/v1/villages/{prepared['village']}/notice"))
    _is_422_with_the_reason(town.post(f"/api/v1/registrations/{prepared['noticed']}/approve"))
    _is_422_with_the_reason(town.post(f"/api/v1/registrations/{prepared['noticed']}/reject",
                                      json={"reason": "不符合条件"}))
    _is_422_with_the_reason(seller.post("/api/v1/slips", json={
        "registration_id": prepared["approved"], "id_number": prepared["id_number"],
        "lines": [{"product": "briquette", "quantity": 500}]}), "registration_id")
    _is_422_with_the_reason(seller.post("/api/v1/registrations/lookup", json={"id_number": prepared["id_number"]}),
                            "id_number")
    _is_422_with_the_reason(seller.post("/api/v1/batches", json={
        "product": "briquette", "quantity_kg": 20000, "source": "山西晋城", "report_no": "JC-CLOSED-API",
        "lab": "泰安市产品质量检验所", "volatile_pct": "9.80", "sulfur_pct": "0.35", "ash_pct": "18.00",
        "calorific_mj_kg": "24.5"}))
    _is_422_with_the_reason(seller.post(f"/api/v1/slips/{prepared['slip']}/void", json={"reason": "开错了"}))
    _is_422_with_the_reason(seller.post(f"/api/v1/slips/{prepared['slip']}/delivery", json={
        "delivered_on": clock.today().isoformat(), "receiver": "测试户主"}))
    with db.new_session(engine) as s:
        assert s.get(Registration, prepared["noticed"]).status == "noticed"
        assert s.execute(select(Slip.status).where(Slip.number == prepared["slip"])).scalar_one() == "issued"
        assert s.execute(select(func.count(Slip.id)).where(Slip.registration_id == prepared["approved"])).scalar() == 0


def _page_refuses(answer, where):
    """A page write in a closed season: the form (or the error page) again, 422, with the reason."""
    assert answer.status_code == 422 and REASON in answer.text, (where, answer.status_code, answer.text[:300])


def test_the_pages_say_the_season_is_closed(engine, api_as, client_as, prepared):
    village = client_as("dongguan")
    stored = village.submit("/households/import", files={"file": ("form.xlsx", xlsx([row(name="赵闭季")]),
                                                                   "application/octet-stream")},
                            follow_redirects=False)
    assert stored.status_code == 303  # previewed while the season was open, confirmed after it closed
    _close(api_as, prepared["season"])
    town = client_as("caiyuan")
    for path, form in ((f"/registrations/{prepared['noticed']}/approve", {}),
                       (f"/registrations/{prepared['noticed']}/reject", {"reason": "不符合条件"}),
                       ("/registrations/approve-chosen", {"ids": str(prepared["noticed"])}),
                       ("/registrations/approve-all", {})):
        _page_refuses(town.submit(path, form, follow_redirects=False), path)
    seller = client_as("coal-a")
    _page_refuses(seller.submit(f"/slips/{prepared['slip']}/void", {"reason": "开错了"}, follow_redirects=False),
                  "void")
    # The counter says it at the lookup, before any line is typed.
    counter = seller.submit("/slips/new", {"step": "lookup", "id_number": prepared["id_number"]},
                            follow_redirects=False)
    _page_refuses(counter, "counter")
    assert 'name="product_0"' not in counter.text
    _page_refuses(seller.submit("/batches/new", {k: str(v) for k, v in BATCH.items()},
                                files={"report": ("报告.pdf", PDF, "application/pdf")}, follow_redirects=False),
                  "batch")
    _page_refuses(village.submit(f"{stored.headers['location']}/confirm", {}, follow_redirects=False), "confirm")
    _page_refuses(village.submit(f"/households/registrations/{prepared['registered']}/change",
                                 {"coal_tons": "0.5", "stoves": "0"}, follow_redirects=False), "change")
    _page_refuses(village.submit("/registrations/notice", {}, follow_redirects=False), "notice")
    _page_refuses(village.submit(f"/households/{prepared['household']}/registrations",
                                 {"coal_tons": "1", "stoves": "0"}, follow_redirects=False), "register")
    _page_refuses(village.submit("/households/import", files={"file": ("form.xlsx", xlsx([row()]),
                                                                        "application/octet-stream")},
                                 follow_redirects=False), "import")
    with db.new_session(engine) as s:
        assert s.get(Registration, prepared["noticed"]).status == "noticed"
        assert s.execute(select(func.count(Batch.id)).where(Batch.report_no == BATCH["report_no"])).scalar() == 0
        assert s.execute(select(func.count(Household.id)).where(Household.head_name == "赵闭季")).scalar() == 0
        assert s.get(Registration, prepared["registered"]).coal_kg != 500


def test_a_closed_seasons_household_page_offers_no_registration_form_but_the_reason(engine, api_as, client_as,
                                                                                    prepared):
    """Neither the form of a new registration (a household without one) nor the change of a registered one."""
    village = client_as("dongguan")
    with db.transaction(engine) as s:
        me = f.user(s, "dongguan")
        bare = households.register_household(s, me, me.village_id, household_input()).id
    pages = {f"/households/{bare}": 'action="/households/{bare}/registrations"'.format(bare=bare),
             f"/households/{prepared['household']}": 'action="/households/registrations/'}
    for path, form in pages.items():
        page = village.get(path).text
        assert form in page and "data-season-closed" not in page, path
    _close(api_as, prepared["season"])
    for path, form in pages.items():
        page = village.get(path).text
        assert form not in page and "data-season-closed" in page and REASON in page, path
        assert "<form" not in page.split("<h2>变更记录</h2>")[0].split("历年采暖季")[1], path
