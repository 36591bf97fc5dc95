"""Pages offer only what can be done and ask before what cannot be undone: a confirmation step on the server (it
holds without script) for approving a summary whose copies the office has not scanned, naming them, and for
recording a payment; no 作废 on a settled slip; no early seal without a reviewer's allowance; the printed summary and
statement with their seal blocks."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.models import Settlement, Slip, Summary
from subsidy.rules import months
from tests.factories.settlement import allow_early
from tests.services.settlement.test_settlement import build, sell, settle, submit, through_the_chain, approve


def month() -> str:
    return months.month_of(clock.today())


@pytest.fixture
def submitted(engine, demo):
    """财源街道's summary of this month, sealed and submitted, its copies unscanned: (summary id, slip numbers)."""
    with db.new_session(engine) as s:
        slips = sell(s, villages=("dongguan",))
        numbers = [slip.number for slip in slips]
    (draft,) = build(engine)
    submit(engine, draft.id)
    return draft.id, numbers


def _seen(client, summary_id):
    return re.search(r'name="seen" value="([0-9:]+)"', client.get(f"/summaries/{summary_id}").text).group(1)


def _status(engine, summary_id):
    with db.new_session(engine) as s:
        return s.get(Summary, summary_id).status


def test_approving_with_unscanned_copies_asks_first_naming_them(engine, client_as, submitted):
    summary_id, numbers = submitted
    town = client_as("caiyuan")
    assert "张销售单的本单位联尚未扫码" in town.get(f"/summaries/{summary_id}").text
    asked = town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": _seen(town, summary_id)})
    assert asked.status_code == 200 and 'data-confirm-step="approve"' in asked.text
    for number in numbers:
        assert number in asked.text
    assert "第3联" in asked.text and _status(engine, summary_id) == "submitted"
    # The step carries what was seen and said: confirming approves those very figures.
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', asked.text))
    assert form["confirmed"] == "1" and form["comment"] == "同意" and form["seen"] == _seen(town, summary_id)
    done = town.submit(f"/summaries/{summary_id}/approve", form, follow_redirects=True)
    assert "已审核通过" in done.text and _status(engine, summary_id) == "town_approved"


def test_once_every_copy_is_scanned_the_approval_goes_through_at_once(engine, client_as, submitted):
    summary_id, numbers = submitted
    town = client_as("caiyuan")
    for number in numbers:
        town.submit("/scans", {"code": f"{number}-3"})
    page = town.get(f"/summaries/{summary_id}").text
    assert "尚未扫码，审核通过前将请您确认" not in page
    done = town.submit(f"/summaries/{summary_id}/approve", {"comment": "同意", "seen": _seen(town, summary_id)})
    assert "data-confirm-step" not in done.text and _status(engine, summary_id) == "town_approved"


def test_a_bulk_approval_asks_too_naming_each_summarys_unscanned_slips(engine, client_as, submitted):
    summary_id, numbers = submitted
    approve(engine, "caiyuan", summary_id)
    drc = client_as("drc")
    seen = re.search(rf'name="seen-{summary_id}" value="([0-9:]+)"', drc.get("/summaries").text).group(1)
    asked = drc.submit("/summaries/approve-many", {"ids": [str(summary_id)], f"seen-{summary_id}": seen})
    assert 'data-confirm-step="approve"' in asked.text and all(n in asked.text for n in numbers)
    assert _status(engine, summary_id) == "town_approved"
    done = drc.submit("/summaries/approve-many", {"ids": [str(summary_id)], f"seen-{summary_id}": seen,
                                                 "confirmed": "1"})
    assert "data-confirm-step" not in done.text and _status(engine, summary_id) == "drc_approved"


def test_out_of_turn_there_is_nothing_to_confirm_the_refusal_comes_at_once(engine, client_as, submitted):
    summary_id, _ = submitted
    seen = _seen(client_as("caiyuan"), summary_id)
    refused = client_as("drc").submit(f"/summaries/{summary_id}/approve", {"seen": seen})
    assert refused.status_code == 403 and "data-confirm-step" not in refused.text


@pytest.fixture
def settled(engine, demo):
    with db.new_session(engine) as s:
        slips = sell(s, villages=("dongguan",))
        number, supplier_id = slips[0].number, slips[0].supplier_id
    built = build(engine)
    with db.new_session(engine) as s:
        through_the_chain(engine, s, built)
    statement, _ = settle(engine, supplier_id)
    return statement.id, number


def test_recording_a_payment_asks_first_with_the_amount_and_the_account(engine, client_as, settled):
    settlement_id, _ = settled
    finance = client_as("finance")
    form = {"reference": "ICBC-9", "paid_on": clock.today().isoformat()}
    asked = finance.submit(f"/settlements/{settlement_id}/pay", form)
    assert asked.status_code == 200 and 'data-confirm-step="pay"' in asked.text
    with db.new_session(engine) as s:
        statement = s.get(Settlement, settlement_id)
        assert statement.status == "settled"
        from subsidy.rules.money import yuan, yuan_in_capitals
        assert yuan(statement.subsidy_fen) in asked.text and yuan_in_capitals(statement.subsidy_fen) in asked.text
    assert "ICBC-9" in asked.text and "16030010090" in asked.text  # finance pays to the account it reads whole
    done = finance.submit(f"/settlements/{settlement_id}/pay", {**form, "confirmed": "1"}, follow_redirects=True)
    assert "已登记支付" in done.text
    with db.new_session(engine) as s:
        assert s.get(Settlement, settlement_id).status == "paid"


def test_a_payment_without_a_reference_is_refused_without_a_confirmation(client_as, settled):
    settlement_id, _ = settled
    refused = client_as("finance").submit(f"/settlements/{settlement_id}/pay",
                                          {"reference": "", "paid_on": clock.today().isoformat()})
    assert refused.status_code == 422 and "data-confirm-step" not in refused.text


def test_a_settled_slip_offers_no_void_and_the_service_refuses_it(engine, client_as, settled):
    _, number = settled
    coal_a = client_as("coal-a")
    assert f'href="/slips/{number}/void"' not in coal_a.get(f"/slips/{number}").text
    refused = coal_a.submit(f"/slips/{number}/void", {"reason": "开错了"})
    assert refused.status_code == 409 and "不能作废" in refused.text
    with db.new_session(engine) as s:
        assert s.execute(select(Slip.status).where(Slip.number == number)).scalar_one() == "issued"


def test_the_statement_and_the_summary_print_with_seals_and_capitals(client_as, settled, engine):
    settlement_id, _ = settled
    with db.new_session(engine) as s:
        statement = s.get(Settlement, settlement_id)
        summary_id = s.execute(select(Summary.id).where(Summary.settlement_id == settlement_id)).scalar_one()
        from subsidy.rules.money import yuan_in_capitals
        capitals = yuan_in_capitals(statement.subsidy_fen)
    for who in ("finance", "drc", "coal-a"):
        page = client_as(who).get(f"/settlements/{settlement_id}/print")
        assert page.status_code == 200 and f"人民币 <span data-capitals>{capitals}</span>" in page.text
        assert 'data-seal="区财政局"' in page.text and 'data-seal="配送企业"' in page.text
    printed = client_as("caiyuan").get(f"/summaries/{summary_id}/print").text
    for unit in ("配送企业", "街道/镇", "区发改局", "区财政局"):
        assert f'data-seal="{unit}"' in printed
    assert printed.count("审核通过") == 3 and "电子印章确认提交" in printed  # the record's steps beside the seals
    assert capitals in printed and "<script>" not in printed
    assert client_as("caiyuan").get(f"/settlements/{settlement_id}/print").status_code == 403


def test_the_supplier_is_not_offered_the_seal_before_the_month_ends_until_a_reviewer_allows_it(engine, client_as, demo):
    with db.new_session(engine) as s:
        sell(s, villages=("dongguan",))
    (draft,) = build(engine)
    coal_a, town = client_as("coal-a"), client_as("caiyuan")
    page = coal_a.get(f"/summaries/{draft.id}").text
    assert "data-awaits-month-end" in page and f'action="/summaries/{draft.id}/submit"' not in page
    refused = coal_a.submit(f"/summaries/{draft.id}/submit", {"password": "coal-a-demo"})
    assert refused.status_code == 422 and "尚未结束" in refused.text
    assert f'action="/summaries/{draft.id}/allow-early"' in town.get(f"/summaries/{draft.id}").text
    assert f'action="/summaries/{draft.id}/allow-early"' not in client_as("finance").get(f"/summaries/{draft.id}").text
    assert "已同意企业在月末前提交" in town.submit(f"/summaries/{draft.id}/allow-early", follow_redirects=True).text
    page = coal_a.get(f"/summaries/{draft.id}").text
    assert "data-awaits-month-end" not in page and "同意提前提交" in page
    assert "已盖章提交" in coal_a.submit(f"/summaries/{draft.id}/submit", {"password": "coal-a-demo"},
                                    follow_redirects=True).text


def test_a_ban_zone_households_registration_form_has_no_coal_field(engine, client_as):
    from subsidy.models import Household, Village
    with db.new_session(engine) as s:
        ban = s.execute(select(Household.id).join(Village, Village.id == Household.village_id)
                        .where(Village.code == "huanshan")).scalars().first()
        normal = s.execute(select(Household.id).join(Village, Village.id == Household.village_id)
                           .where(Village.code == "dongguan")).scalars().first()
    ban_page = client_as("huanshan").get(f"/households/{ban}").text
    assert 'name="coal_tons"' not in ban_page and "data-ban-zone" in ban_page and 'name="stoves"' in ban_page
