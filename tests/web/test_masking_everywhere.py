"""DESIGN.md invariant 5, decided once per role (subsidy/core/scope.py: SEES_PERSONAL_NUMBERS): each role sees a
household's ID number and phone the same way on every page, print, export and API answer it can open that shows
them: whole for the village and the town, masked for everyone else. One household, one slip of it in a submitted
summary; every place that shows them, for every role."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import db, vault
from subsidy.models import Household, Village
from subsidy.rules.idnumbers import mask_id_number, mask_phone
from tests.factories.settlement import allow_early
from tests.web.sales.test_slips import approved, issue

WHOLE = {"dongguan", "caiyuan"}  # the village and the town of the household
ROLES = ["dongguan", "caiyuan", "coal-a", "drc", "finance", "auditor", "admin"]


def _text(response) -> str:
    if "spreadsheetml" in response.headers.get("content-type", ""):
        book = load_workbook(BytesIO(response.content))
        return "\n".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
                         if c is not None)
    return response.text


@pytest.fixture
def sold(engine, api_as):
    """A dongguan household with a slip in a submitted summary: (household id, village id, slip number, summary id,
    ID number, phone)."""
    rid, id_number = approved(engine)
    coal_a = api_as("coal-a")
    number = issue(coal_a, (rid, id_number)).json()["number"]
    from subsidy.core import clock
    from subsidy.rules.months import month_of
    (summary,) = coal_a.post("/api/v1/summaries", json={"month": month_of(clock.today())}).json()
    allow_early(engine, summary["id"])
    assert coal_a.post(f"/api/v1/summaries/{summary['id']}/submit").status_code == 200
    with db.new_session(engine) as s:
        h = s.execute(select(Household).where(Household.id_number_hmac == vault.blind("id_number", id_number))).scalar_one()
        village = s.execute(select(Village.id).where(Village.code == "dongguan")).scalar_one()
        return h.id, village, number, summary["id"], id_number, h.phone


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_households_numbers_the_same_way_everywhere(role, sold, client_as, api_as):
    household_id, village_id, number, summary_id, id_number, phone = sold
    pages = [f"/households/{household_id}", f"/households?village_id={village_id}",
             f"/households/export.xlsx?village_id={village_id}", "/registrations",
             f"/slips/{number}", f"/slips/{number}/print", f"/slips/{number}/print?paper=a4",
             f"/slips/{number}/print?layout=continuous", "/slips", "/slips.xlsx", "/scans/missing",
             f"/summaries/{summary_id}", f"/summaries/{summary_id}/xlsx", f"/summaries/{summary_id}/print"]
    page_client = client_as(role)
    answers = {path: page_client.get(path) for path in pages}
    api = api_as(role)
    answers["API slip"] = api.get(f"/api/v1/slips/{number}")
    answers["API summary sheet"] = api.get(f"/api/v1/summaries/{summary_id}.xlsx")
    if role == "coal-a":
        answers["API lookup"] = api.post("/api/v1/registrations/lookup", json={"id_number": id_number})
        answers["counter"] = page_client.submit("/slips/new", {"step": "lookup", "id_number": id_number})
    whole = role in WHOLE
    showing_id, showing_phone = [], []
    for where, response in answers.items():
        if response.status_code != 200:
            continue
        # What the clerk typed stays in the ID field (the form keeps its input); that is not the system showing it.
        text = _text(response).replace(f'value="{id_number}"', "")
        # A household's history is read from the audit log, which holds the numbers masked for everyone (Record.LOG).
        text = re.sub(r'<table class="list history" id="history">.*?</table>', "", text, flags=re.S)
        if id_number in text or mask_id_number(id_number) in text:
            showing_id.append(where)
            assert (id_number in text) is whole, f"{role}: ID number {'masked' if whole else 'whole'} on {where}"
            assert (mask_id_number(id_number) in text) is not whole, f"{role}: both ways on {where}"
        if phone in text or mask_phone(phone) in text:
            showing_phone.append(where)
            assert (phone in text) is whole, f"{role}: phone {'masked' if whole else 'whole'} on {where}"
    # Not vacuous: each role meets the number on several pages, and every role that reads a slip sees its phone.
    assert len(showing_id) >= 3, (role, showing_id)
    assert showing_phone, role
