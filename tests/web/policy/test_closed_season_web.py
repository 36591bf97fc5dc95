"""A closed season over HTTP: each write that belongs to it answers 409 (not 422: nothing is wrong with the input)
with the Chinese reason in the API, and the page shows the reason; nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subsidy.core import clock, db
from subsidy.models import Registration, Season, Slip
from tests.factories import sales as f
from tests.factories.settlement import approved_registrations, make_slip, supplier

REASON = "已由区发改局关闭"


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


def _is_409_with_the_reason(answer):
    assert answer.status_code == 409, (answer.status_code, answer.text[:300])
    assert REASON in answer.json()["detail"]


def test_every_season_write_in_the_api_answers_409_with_the_reason(engine, api_as, prepared):
    _close(api_as, prepared["season"])
    village, town, seller = api_as("dongguan"), api_as("caiyuan"), api_as("coal-a")
    _is_409_with_the_reason(village.post(f"/api/v1/households/{prepared['household']}/registrations",
                                         json={"coal_kg": 1000, "stoves": 0}))
    _is_409_with_the_reason(village.post(f"/api/v1/villages/{prepared['village']}/notice"))
    _is_409_with_the_reason(town.post(f"/api/v1/registrations/{prepared['noticed']}/approve"))
    _is_409_with_the_reason(town.post(f"/api/v1/registrations/{prepared['noticed']}/reject",
                                      json={"reason": "不符合条件"}))
    _is_409_with_the_reason(seller.post("/api/v1/slips", json={
        "registration_id": prepared["approved"], "id_number": prepared["id_number"],
        "lines": [{"product": "briquette", "quantity": 500}]}))
    _is_409_with_the_reason(seller.post(f"/api/v1/slips/{prepared['slip']}/void", json={"reason": "开错了"}))
    _is_409_with_the_reason(seller.post(f"/api/v1/slips/{prepared['slip']}/delivery", json={
        "delivered_on": clock.today().isoformat(), "receiver": "测试户主"}))
    with db.new_session(engine) as s:
        assert s.get(Registration, prepared["noticed"]).status == "noticed"
        assert s.execute(select(Slip.status).where(Slip.number == prepared["slip"])).scalar_one() == "issued"
        assert s.execute(select(func.count(Slip.id)).where(Slip.registration_id == prepared["approved"])).scalar() == 0


def test_the_pages_say_the_season_is_closed(engine, api_as, client_as, prepared):
    _close(api_as, prepared["season"])
    town = client_as("caiyuan")
    for path, form in ((f"/registrations/{prepared['noticed']}/approve", {}),
                       ("/registrations/approve-chosen", {"ids": str(prepared["noticed"])}),
                       ("/registrations/approve-all", {})):
        answer = town.submit(path, form, follow_redirects=False)
        assert answer.status_code == 409 and REASON in answer.text, (path, answer.status_code)
    answer = client_as("coal-a").submit(f"/slips/{prepared['slip']}/void", {"reason": "开错了"},
                                        follow_redirects=False)
    assert answer.status_code == 409 and REASON in answer.text
    village = client_as("dongguan")
    answer = village.submit("/registrations/notice", {}, follow_redirects=False)
    assert answer.status_code == 409 and REASON in answer.text
    answer = village.submit(f"/households/{prepared['household']}/registrations", {"coal_tons": "1", "stoves": "0"},
                            follow_redirects=False)
    assert answer.status_code in (409, 422) and REASON in answer.text  # the form again, with the reason
    with db.new_session(engine) as s:
        assert s.get(Registration, prepared["noticed"]).status == "noticed"
