"""The counter's rules in the domain: the lookup says why a household in the supplier's towns cannot buy (and says
nothing of households elsewhere), and a confirmation issues exactly what was previewed or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from subsidy.core import clock
from subsidy.core.db import run_in_transaction
from subsidy.core.errors import Refused
from subsidy.models import Contract, Household, Notice, Registration, Slip
from subsidy.policy import seasons
from subsidy.rules.idnumbers import make_id_number
from subsidy.sales import issuing
from tests.factories import sales as f


def reason_of(session, username: str, id_number: str) -> issuing.CannotBuy:
    with pytest.raises(issuing.CannotBuy) as info:
        issuing.lookup(session, user=f.user(session, username), id_number=id_number)
    return info.value


# --- why a household cannot buy ------------------------------------------------------------------------------------

def test_a_household_outside_the_suppliers_towns_is_as_unknown_as_a_number_nobody_holds(session, demo):
    elsewhere, _ = f.household(session, "shanggao-cun")  # approved, in a town without coal-a's contract
    session.commit()
    outside = reason_of(session, "coal-a", elsewhere.id_number)
    nobody = reason_of(session, "coal-a", make_id_number("370911", clock.today().replace(year=1931), "998"))
    assert outside.reason == nobody.reason == issuing.NOT_FOUND
    assert outside.message == nobody.message and outside.details == {"reason": "not_found"}
    assert "公示" not in outside.message and "登记" not in outside.message  # nothing about the household


def test_a_household_in_its_towns_without_a_registration_this_season_is_told_to_register(session, demo):
    v = f.village(session, "dongguan")
    h = Household(village_id=v.id, head_name="未登记户", id_number=make_id_number("370911", clock.today().replace(
        year=1962), "417"), phone="13700009999", address="东关村9号", category="ordinary")
    session.add(h)
    session.commit()
    answer = reason_of(session, "coal-a", h.id_number)
    assert answer.reason == issuing.NOT_REGISTERED and "尚未登记" in answer.message and "村（社区）登记" in answer.message


def test_a_household_in_its_notice_period_is_told_when_it_ends(session, demo):
    h, r = f.household(session, "dongguan", status="noticed")
    ends = clock.today() + timedelta(days=5)
    notice = Notice(village_id=r.village_id, season_id=r.season_id, published_on=clock.today(), ends_on=ends)
    session.add(notice)
    session.flush()
    r.notice_id = notice.id
    session.commit()
    answer = reason_of(session, "coal-a", h.id_number)
    assert answer.reason == issuing.IN_NOTICE and answer.notice_ends_on == ends
    assert f"公示期至 {ends.month}月{ends.day}日，期满经街道审核后可购买" in answer.message
    assert answer.details == {"reason": "in_notice", "notice_ends_on": ends.isoformat()}


def test_registered_or_past_its_notice_but_not_approved_is_not_approved_yet(session, demo):
    registered, _ = f.household(session, "dongguan", status="registered")
    waiting, r = f.household(session, "dongguan", status="noticed")
    notice = Notice(village_id=r.village_id, season_id=r.season_id, published_on=clock.today() - timedelta(days=7),
                    ends_on=clock.today())
    session.add(notice)
    session.flush()
    r.notice_id = notice.id
    session.commit()
    first, second = reason_of(session, "coal-a", registered.id_number), reason_of(session, "coal-a", waiting.id_number)
    assert first.reason == second.reason == issuing.NOT_APPROVED
    assert "尚未公示和审核" in first.message and "等待街道审核" in second.message


def test_a_rejected_registration_says_so_with_the_towns_reason(session, demo):
    h, r = f.household(session, "dongguan", status="rejected")
    r.reject_reason = "家中已通天然气"
    session.commit()
    answer = reason_of(session, "coal-a", h.id_number)
    assert answer.reason == issuing.REJECTED and "未通过街道审核（原因：家中已通天然气）" in answer.message


def test_a_household_that_bought_all_this_supplier_sells_is_told_so_and_another_supplier_still_finds_it(
        session, demo):
    h, r = f.household(session, "dongguan", coal_kg=2000, stoves=1)
    r.sold_coal_kg = 2000
    session.commit()
    answer = reason_of(session, "coal-a", h.id_number)
    assert answer.reason == issuing.BOUGHT_ALL and "已全部购买" in answer.message and "2.000 吨" in answer.message
    found = issuing.lookup(session, user=f.user(session, "stove-a"), id_number=h.id_number)
    assert found.registration.id == r.id and found.stoves_left == 1


# --- the confirmation is the preview's ------------------------------------------------------------------------------

def preview(session, registration, *lines, username="coal-a") -> str:
    clerk = f.user(session, username)
    token = issuing.plan(session, clerk=clerk, registration_id=registration.id,
                         id_number=f.card(session, registration.id), lines=list(lines)).token
    session.rollback()  # the preview writes nothing
    return token


def confirm(session, registration, token, *lines, username="coal-a"):
    clerk = f.user(session, username)
    id_number = f.card(session, registration.id)
    return run_in_transaction(session, lambda: issuing.issue_slip(
        session, clerk=clerk, registration_id=registration.id, id_number=id_number, lines=list(lines),
        preview_token=token))


def refused_confirmation(session, registration, token, *lines) -> Refused:
    with pytest.raises(Refused) as info:
        confirm(session, registration, token, *lines)
    session.rollback()
    assert info.value.field == issuing.STALE_PREVIEW
    return info.value


def sold(session, registration) -> int:
    session.expire_all()
    return session.get(Registration, registration.id).sold_coal_kg


def test_a_confirmation_issues_what_was_previewed_once(session, demo):
    _, r = f.household(session, "dongguan", coal_kg=3000)
    session.commit()
    line = issuing.LineIn("briquette", 1000)
    token = preview(session, r, line)
    slip = confirm(session, r, token, line)
    assert (slip.coal_kg, slip.amount_fen) == (1000, 1100_00)
    # The same confirmation again (a second click, a reload) issues nothing more.
    refused_confirmation(session, r, token, line)
    assert sold(session, r) == 1000


def test_a_confirmation_with_other_lines_than_the_preview_is_refused(session, demo):
    _, r = f.household(session, "dongguan", coal_kg=3000)
    session.commit()
    token = preview(session, r, issuing.LineIn("briquette", 1000))
    refused_confirmation(session, r, token, issuing.LineIn("briquette", 1500))
    refused_confirmation(session, r, token, issuing.LineIn("briquette", 1000), issuing.LineIn("briquette", 500))
    refused_confirmation(session, r, "", issuing.LineIn("briquette", 1000))  # no preview at all
    assert sold(session, r) == 0


def test_a_confirmation_for_another_registration_than_the_preview_is_refused(session, demo):
    _, previewed = f.household(session, "dongguan", coal_kg=3000)
    _, other = f.household(session, "dongguan", coal_kg=3000)
    session.commit()
    line = issuing.LineIn("briquette", 1000)
    token = preview(session, previewed, line)
    refused_confirmation(session, other, token, line)
    assert sold(session, other) == sold(session, previewed) == 0


def test_a_confirmation_whose_total_or_registration_changed_since_the_preview_is_refused(session, demo):
    _, r = f.household(session, "dongguan", coal_kg=3000)
    session.commit()
    line = issuing.LineIn("briquette", 1000)
    token = preview(session, r, line)
    season = seasons.active_season(session)
    session.execute(update(Contract).where(Contract.supplier_id == f.supplier(session, "coal-a").id,
                                           Contract.season_id == season.id).values(price_fen=1200_00))
    session.commit()
    refused_confirmation(session, r, token, line)  # the price, so the total, changed
    token = preview(session, r, line)
    id_number = f.card(session, r.id)
    run_in_transaction(session, lambda: issuing.issue_slip(  # another sale to the household in between
        session, clerk=f.user(session, "coal-b"), registration_id=r.id, id_number=id_number,
        lines=[issuing.LineIn("briquette", 500)]))
    refused_confirmation(session, r, token, line)
    assert sold(session, r) == 500
    assert session.execute(select(Slip.id).where(Slip.registration_id == r.id)).scalars().all().__len__() == 1
