"""作废 is offered only while a slip can be voided (issue 14, item 9): a settled slip's void page says why in
Chinese and shows no form, and the void itself is refused by the service with the same reason, page, API and
service alike; nothing is given back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.core.errors import Conflict
from subsidy.core.scope import Scope
from subsidy.models import Registration, Slip, SlipStatus, Summary, SummaryStatus
from subsidy.rules.months import month_of
from subsidy.sales import voiding
from subsidy.settlement import statements, summaries
from tests.factories.settlement import approved_registrations, make_slip, supplier, user

SETTLED = "该销售单所在的月度汇总已经财政局审核、进入结算，不能作废"


def _settled_slip(engine) -> tuple[str, int]:
    """A slip of coal-a in a finance-approved summary that finance has settled: (its number, its registration)."""
    with db.transaction(engine) as s:
        seller = supplier(s, "coal-a")
        registration = approved_registrations(s, "dongguan")[0]
        slip = make_slip(s, supplier=seller, registration=registration, issued_on=clock.today(), coal_kg=1000)
        summary = Summary(supplier_id=seller.id, town_id=slip.town_id, season_id=slip.season_id,
                          month=month_of(slip.issued_on), status=SummaryStatus.FINANCE_APPROVED)
        s.add(summary)
        s.flush()
        slip.summary_id = summary.id
        summaries.recompute_totals(s, summary)
        number, registration_id, supplier_id, month = slip.number, registration.id, seller.id, summary.month
    with db.new_session(engine) as s:
        officer = user(s, "finance")
    with db.transaction(engine, scope=Scope.of(officer)) as s:
        statement, created = statements.settle(s, officer=officer, supplier_id=supplier_id, month=month)
        assert created and statement.subsidy_fen > 0
    return number, registration_id


def _state(engine, number: str, registration_id: int) -> tuple[str, int]:
    with db.new_session(engine) as s:
        status = s.execute(select(Slip.status).where(Slip.number == number)).scalar_one()
        sold = s.execute(select(Registration.sold_coal_kg).where(Registration.id == registration_id)).scalar_one()
    return status, sold


def test_a_settled_slip_is_offered_no_void_and_its_void_page_says_why(client_as, engine):
    number, registration_id = _settled_slip(engine)
    page = client_as("coal-a")
    detail = page.get(f"/slips/{number}")
    assert detail.status_code == 200 and f'href="/slips/{number}/void"' not in detail.text
    form = page.get(f"/slips/{number}/void")
    assert form.status_code == 200
    assert SETTLED in form.text and "data-void-refused" in form.text
    assert 'name="reason"' not in form.text and "确认作废" not in form.text
    # Posting anyway (an old tab, a crafted request) is refused with the same reason; nothing is given back.
    posted = page.submit(f"/slips/{number}/void", {"reason": "开错了"})
    assert posted.status_code == 409 and SETTLED in posted.text and 'name="reason"' not in posted.text
    assert _state(engine, number, registration_id) == (SlipStatus.ISSUED, 1000)


def test_the_service_and_the_api_refuse_to_void_a_settled_slip(api_as, engine):
    number, registration_id = _settled_slip(engine)
    with db.new_session(engine) as s:
        clerk = user(s, "coal-a")
    with pytest.raises(Conflict) as refused:
        with db.transaction(engine, scope=Scope.of(clerk)) as s:
            voiding.void_slip(s, user=clerk, number=number, reason="开错了")
    assert refused.value.message == SETTLED
    answer = api_as("coal-a").post(f"/api/v1/slips/{number}/void", json={"reason": "开错了"})
    assert answer.status_code == 409 and answer.json()["detail"] == SETTLED, answer.text
    assert _state(engine, number, registration_id) == (SlipStatus.ISSUED, 1000)


def test_a_slip_still_voidable_gets_the_form_and_a_voided_one_the_reason(client_as, engine):
    with db.transaction(engine) as s:
        registration = approved_registrations(s, "dongguan")[0]
        slip = make_slip(s, supplier=supplier(s, "coal-a"), registration=registration,
                         issued_on=clock.today(), coal_kg=1000)
        number = slip.number
    page = client_as("coal-a")
    assert 'name="reason"' in page.get(f"/slips/{number}/void").text
    assert page.submit(f"/slips/{number}/void", {"reason": "开错了"}).status_code in (200, 303)
    again = page.get(f"/slips/{number}/void")
    assert "该销售单已经作废" in again.text and 'name="reason"' not in again.text
