"""Issuing, voiding and scanning slips: each refusal of DESIGN.md, the subsidy, and the quantities kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from subsidy.core.db import run_in_transaction
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused, SubsidyError
from subsidy.models import (
    Batch, HouseholdStove, Registration, Slip, SlipLine, SubsidyRate, Summary,
)
from tests.factories import sales as f
from subsidy.sales import issuing, scanning, voiding


def issue(session, username, registration, *lines):
    clerk = f.user(session, username)
    card = f.card(session, registration)
    lines = lines or (issuing.LineIn("briquette", 1000),)
    return run_in_transaction(session, lambda: issuing.issue_slip(
        session, clerk=clerk, registration_id=registration.id, id_number=card, lines=list(lines)))


def refusal(session, username, registration, *lines) -> SubsidyError:
    with pytest.raises(SubsidyError) as info:
        issue(session, username, registration, *lines)
    return info.value


def test_a_slip_for_an_approved_registration_takes_quantities_stock_and_the_next_number(session, demo):
    h, r = f.household(session, "dongguan", coal_kg=2000, stoves=1)
    session.commit()
    slip = issue(session, "coal-a", r, issuing.LineIn("briquette", 1500))
    assert slip.number == "TS21A-000001-" + slip.number[-1]
    assert (slip.coal_kg, slip.amount_fen, slip.subsidy_fen) == (1500, 1650_00, 450_00)
    assert slip.household_pays_fen == 1200_00
    assert (slip.head_name, slip.id_number, slip.address) == (h.head_name, h.id_number, h.address)
    session.expire_all()
    assert session.get(Registration, r.id).sold_coal_kg == 1500
    line = session.execute(select(SlipLine).where(SlipLine.slip_id == slip.id)).scalar_one()
    assert session.get(Batch, line.batch_id).sold_kg == 1500
    second = issue(session, "coal-a", r, issuing.LineIn("briquette", 500))
    assert second.seq == 2


def test_the_slip_keeps_the_household_as_it_was(session, demo):
    h, r = f.household(session, "dongguan")
    session.commit()
    name_at_sale, address_at_sale = h.head_name, h.address
    slip = issue(session, "coal-a", r)
    h.head_name, h.address = "改名后", "新地址"
    session.commit()
    session.expire_all()
    kept = session.get(Slip, slip.id)
    assert kept.head_name == name_at_sale
    assert kept.address == address_at_sale


@pytest.mark.parametrize("village, status", [("dongguan", "noticed"), ("huanshan", "approved"),
                                             ("dongguan", "approved")], ids=["not approved", "ban zone", "sold out"])
def test_a_sale_says_nothing_of_a_registration_to_a_clerk_without_its_households_id_number(session, demo, village,
                                                                                           status):
    """The refusals that would describe the registration (its state, its zone, what is left) are given only with the
    ID number on its household's card; another household's number is "not found", a missing or malformed one is
    refused by name before the registration is read."""
    _, r = f.household(session, village, status=status, coal_kg=500)
    someone_else, _ = f.household(session, "dongguan")
    session.commit()
    clerk = f.user(session, "coal-a")
    wanted = [issuing.LineIn("briquette", 1000)]

    def sale(id_number):
        with pytest.raises(SubsidyError) as info:
            run_in_transaction(session, lambda: issuing.issue(session, clerk=clerk, registration_id=r.id,
                                                              id_number=id_number, lines=wanted))
        return info.value

    assert type(sale(someone_else.id_number)) is NotFound and sale(someone_else.id_number).message == issuing.NOT_FOUND
    for missing in ("", None, "370902194901010000", "abc"):
        refused = sale(missing)
        assert isinstance(refused, Refused) and set(refused.errors) == {"id_number"}, missing
    proved = sale(f.card(session, r))
    assert not isinstance(proved, NotFound) and set(proved.errors) == {"registration_id" if status != "approved"
                                                                       or village == "huanshan" else "quantity"}


@pytest.mark.parametrize("status", ["registered", "noticed", "rejected"])
def test_a_registration_not_approved_is_refused(session, demo, status):
    _, r = f.household(session, "dongguan", status=status)
    session.commit()
    assert "尚未审核通过" in refusal(session, "coal-a", r).message


def test_a_ban_zone_is_refused(session, demo):
    _, r = f.household(session, "huanshan")
    session.commit()
    assert "禁煤区" in refusal(session, "coal-a", r).message


def test_a_clean_only_zone_refuses_anything_but_briquettes(session, demo, engine):
    from subsidy.models import Contract
    _, r = f.household(session, "xiguan")
    a = f.supplier(session, "coal-a")
    contract = session.execute(select(Contract).where(Contract.supplier_id == a.id)).scalars().first()
    session.add(Contract(supplier_id=a.id, town_id=f.village(session, "xiguan").town_id, season_id=contract.season_id,
                         product="anthracite", price_fen=900_00))
    f.batch(session, product="anthracite")
    session.commit()
    error = refusal(session, "coal-a", r, issuing.LineIn("anthracite", 500))
    assert "只能销售洁净型煤" in error.message and error.field == "lines[0].product"
    assert issue(session, "coal-a", r, issuing.LineIn("briquette", 500)).coal_kg == 500


def test_a_product_without_contract_in_that_town_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    error = refusal(session, "coal-a", r, issuing.LineIn("semi_coke", 500))
    assert "没有兰炭的配送合同" in error.message


def test_a_household_outside_the_suppliers_towns_is_not_found(session, demo):
    _, r = f.household(session, "shanggao-cun")
    session.commit()
    with pytest.raises(NotFound):
        issue(session, "coal-a", r)


def test_a_unit_price_other_than_the_contract_price_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    error = refusal(session, "coal-a", r, issuing.LineIn("briquette", 500, unit_price_fen=1000_00))
    assert "合同配送价格 1,100.00" in error.message and error.field == "lines[0].unit_price_fen"
    assert issue(session, "coal-a", r, issuing.LineIn("briquette", 500, unit_price_fen=1100_00)).amount_fen == 550_00


def test_more_than_registered_is_refused(session, demo):
    _, r = f.household(session, "dongguan", coal_kg=1000)
    session.commit()
    issue(session, "coal-a", r, issuing.LineIn("briquette", 600))
    assert "超出登记数量" in refusal(session, "coal-b", r, issuing.LineIn("briquette", 401)).message
    assert issue(session, "coal-b", r, issuing.LineIn("briquette", 400)).coal_kg == 400


def test_more_than_the_season_cap_is_refused_even_if_registered(session, demo):
    _, r = f.household(session, "dongguan", coal_kg=5000)
    session.commit()
    assert "补贴上限" in refusal(session, "coal-a", r, issuing.LineIn("briquette", 3001)).message


def test_a_registration_of_another_season_is_refused_or_not_found_by_this_seasons_contracts(session, demo):
    from datetime import date

    from sqlalchemy import delete

    from subsidy.models import Contract, Season

    h, r = f.household(session, "dongguan")
    old = Season(code="19A", name="2019-2020采暖季", starts_on=date(2019, 11, 1), ends_on=date(2020, 3, 31))
    session.add(old)
    session.flush()
    session.get(Registration, r.id).season_id = old.id
    session.commit()
    refused = refusal(session, "coal-a", r)
    assert refused.field == "registration_id" and "不属于当前采暖季" in refused.message
    # Without a contract in the household's town this season, the supplier learns nothing: "not found".
    town_id = f.village(session, "dongguan").town_id
    coal_a = f.user(session, "coal-a").supplier_id
    session.execute(delete(Contract).where(Contract.supplier_id == coal_a, Contract.town_id == town_id))
    session.add(Contract(supplier_id=coal_a, town_id=town_id, season_id=old.id, product="briquette",
                         price_fen=100_000))  # last season's contract does not count
    session.commit()
    with pytest.raises(NotFound):
        issue(session, "coal-a", r)


def test_the_confirm_step_refuses_a_sale_without_stock_in_the_previews_words(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    coal_a = f.user(session, "coal-a").supplier_id
    session.execute(update(Batch).where(Batch.supplier_id == coal_a).values(sold_kg=Batch.quantity_kg))
    session.commit()
    preview = pytest.raises(SubsidyError, issuing.plan, session, clerk=f.user(session, "coal-a"), registration_id=r.id,
                            id_number=f.card(session, r), lines=[issuing.LineIn("briquette", 500)])
    session.rollback()
    confirm = refusal(session, "coal-a", r, issuing.LineIn("briquette", 500))
    assert (confirm.message, confirm.field) == (preview.value.message, preview.value.field)
    assert confirm.field == "lines[0].batch_id" and "没有检验合格且库存足够（0.500 吨）" in confirm.message


def test_a_second_stove_is_refused_in_the_same_and_in_a_later_season(session, demo):
    h, r = f.household(session, "dongguan", stoves=1)
    session.commit()
    issue(session, "stove-a", r, issuing.LineIn("stove", 1, serial="SN-001"))
    assert "超出登记数量" in refusal(session, "stove-a", r, issuing.LineIn("stove", 1, serial="SN-002")).message
    # Another season's registration: the household already had its subsidised stove (stove_once_ever).
    r2 = session.get(Registration, r.id)
    r2.stoves, r2.sold_stoves = 2, 1
    season = session.execute(select(Slip.season_id)).scalar()
    from subsidy.models import Season
    session.get(Season, season).cap_stoves = 2
    session.commit()
    assert "已享受过节能炉具补贴" in refusal(session, "stove-a", r, issuing.LineIn("stove", 1, serial="SN-003")).message


def test_a_stove_serial_is_sold_once(session, demo):
    _, r1 = f.household(session, "dongguan", stoves=1)
    _, r2 = f.household(session, "dongguan", stoves=1)
    session.commit()
    issue(session, "stove-a", r1, issuing.LineIn("stove", 1, serial="SN-9"))
    error = refusal(session, "stove-a", r2, issuing.LineIn("stove", 1, serial="sn-9"))
    assert "已经售出过" in error.message and error.field == "lines[0].serial"


def test_a_stove_needs_its_serial(session, demo):
    _, r = f.household(session, "dongguan", stoves=1)
    session.commit()
    assert refusal(session, "stove-a", r, issuing.LineIn("stove", 1)).field == "lines[0].serial"


def test_a_failed_batch_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    bad = f.batch(session, passed=False, report_no="JC-BAD")
    session.commit()
    error = refusal(session, "coal-a", r, issuing.LineIn("briquette", 500, batch_id=bad.id))
    assert "检验不合格" in error.message and error.field == "lines[0].batch_id"


def test_a_batch_without_enough_stock_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    small = f.batch(session, quantity_kg=300, report_no="JC-SMALL")
    session.commit()
    assert "库存不足" in refusal(session, "coal-a", r, issuing.LineIn("briquette", 500, batch_id=small.id)).message


def test_another_suppliers_batch_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    theirs = f.batch(session, "coal-b")
    session.commit()
    assert "不属于本企业" in refusal(session, "coal-a", r, issuing.LineIn("briquette", 5, batch_id=theirs.id)).message


def test_the_default_batch_is_the_oldest_passed_one_with_stock(session, demo):
    from datetime import date
    _, r = f.household(session, "dongguan")
    f.batch(session, quantity_kg=100, arrival_date=date(2000, 1, 1), report_no="OLD-SMALL")
    f.batch(session, passed=False, arrival_date=date(2000, 1, 2), report_no="OLD-FAILED")
    oldest_ok = f.batch(session, arrival_date=date(2000, 1, 3), report_no="OLD-OK")
    session.commit()
    slip = issue(session, "coal-a", r, issuing.LineIn("briquette", 500))
    assert session.execute(select(SlipLine.batch_id).where(SlipLine.slip_id == slip.id)).scalar() == oldest_ok.id


def test_a_suspended_supplier_is_refused(session, demo):
    _, r = f.household(session, "dongguan")
    f.supplier(session, "coal-a").status = "suspended"
    session.commit()
    assert "暂停" in refusal(session, "coal-a", r).message


def test_only_a_supplier_issues(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    with pytest.raises(NotAllowed):
        issue(session, "caiyuan", r)


def test_subsidy_follows_tiers_on_the_households_cumulative_kg_and_its_category(session, demo):
    season_id = session.execute(select(Registration.season_id)).scalars().first()
    # Low-income households: 300 yuan/t for the first 2 t, 150 above; ordinary ones keep the flat 300.
    session.add(SubsidyRate(season_id=season_id, product="briquette", category="low_income", from_kg=2000,
                            rate_fen=150_00))
    _, poor = f.household(session, "dongguan", category="low_income", coal_kg=3000)
    _, ordinary = f.household(session, "dongguan", category="ordinary", coal_kg=3000)
    session.commit()
    first = issue(session, "coal-a", poor, issuing.LineIn("briquette", 1500))
    assert first.subsidy_fen == 450_00
    second = issue(session, "coal-a", poor, issuing.LineIn("briquette", 1001))
    # 500 kg at 300 + 501 kg at 150 = 150.00 + 75.15
    assert second.subsidy_fen == 225_15
    assert issue(session, "coal-a", ordinary, issuing.LineIn("briquette", 2501)).subsidy_fen == 750_30


def test_a_stove_is_subsidised_per_set(session, demo):
    _, r = f.household(session, "dongguan", stoves=1)
    session.commit()
    slip = issue(session, "stove-a", r, issuing.LineIn("stove", 1, serial="S-1"))
    assert (slip.amount_fen, slip.subsidy_fen, slip.household_pays_fen) == (1200_00, 400_00, 800_00)


def test_lookup_finds_only_approved_registrations_in_the_suppliers_towns(session, demo):
    h, r = f.household(session, "dongguan", coal_kg=2000)
    h2, _ = f.household(session, "shanggao-cun")
    h3, _ = f.household(session, "dongguan", status="noticed")
    session.commit()
    clerk = f.user(session, "coal-a")
    found = issuing.lookup(session, user=clerk, id_number=h.id_number)
    assert found.registration.id == r.id and found.coal_left_kg == 2000
    for other in (h2, h3):
        with pytest.raises(NotFound):
            issuing.lookup(session, user=clerk, id_number=other.id_number)
    with pytest.raises(SubsidyError) as info:
        issuing.lookup(session, user=clerk, id_number=h.id_number[:-1] + ("0" if h.id_number[-1] != "0" else "1"))
    assert info.value.field == "id_number"


# --- voiding -----------------------------------------------------------------------------------------------------

def void(session, username, slip, reason="开错数量"):
    clerk = f.user(session, username)
    return run_in_transaction(session, lambda: voiding.void_slip(session, user=clerk, number=slip.number,
                                                                reason=reason))


def test_voiding_gives_back_quantities_stock_and_the_stove_and_keeps_the_slip(session, demo):
    _, r = f.household(session, "dongguan", stoves=1)
    session.commit()
    coal = issue(session, "coal-a", r, issuing.LineIn("briquette", 1000))
    stove = issue(session, "stove-a", r, issuing.LineIn("stove", 1, serial="V-1"))
    batch_id = session.execute(select(SlipLine.batch_id).where(SlipLine.slip_id == coal.id)).scalar()
    sold_before = session.get(Batch, batch_id).sold_kg
    void(session, "coal-a", coal)
    void(session, "stove-a", stove)
    session.expire_all()
    reg = session.get(Registration, r.id)
    assert (reg.sold_coal_kg, reg.sold_stoves) == (0, 0)
    assert session.get(Batch, batch_id).sold_kg == sold_before - 1000
    kept = session.get(Slip, coal.id)
    assert kept.status == "voided" and kept.void_reason == "开错数量"
    assert session.execute(select(HouseholdStove.active_key)).scalar() != 0
    # The household may buy its stove again (another serial).
    assert issue(session, "stove-a", r, issuing.LineIn("stove", 1, serial="V-2")).stoves == 1


def test_a_voided_stove_can_be_sold_again_and_then_only_once(session, demo):
    _, first = f.household(session, "dongguan", stoves=1)
    _, second = f.household(session, "dongguan", stoves=1)
    _, third = f.household(session, "dongguan", stoves=1)
    session.commit()
    wrong = issue(session, "stove-a", first, issuing.LineIn("stove", 1, serial="R-7"))
    assert "已经售出过" in refusal(session, "stove-a", second, issuing.LineIn("stove", 1, serial="R-7")).message
    void(session, "stove-a", wrong, reason="卖错了户")
    # The stove went back to the supplier: the same serial goes to the right household ...
    again = issue(session, "stove-a", second, issuing.LineIn("stove", 1, serial="r-7"))
    assert again.stoves == 1
    # ... and is then sold, once, again: the database refuses a second standing line with that serial.
    assert "已经售出过" in refusal(session, "stove-a", third, issuing.LineIn("stove", 1, serial="R-7")).message
    lines = session.execute(select(SlipLine.slip_id, SlipLine.active_key).where(SlipLine.serial == "R-7")
                            .order_by(SlipLine.id)).all()
    assert [(slip_id, key != 0) for slip_id, key in lines] == [(wrong.id, True), (again.id, False)]


def test_the_database_refuses_a_second_standing_line_with_a_sold_serial(session, demo):
    """The check in `plan` is for a clear message; the unique (serial, active_key) is what holds under races."""
    _, r1 = f.household(session, "dongguan", stoves=1)
    session.commit()
    sold = issue(session, "stove-a", r1, issuing.LineIn("stove", 1, serial="U-1"))
    line = session.execute(select(SlipLine).where(SlipLine.slip_id == sold.id)).scalar_one()
    with pytest.raises(IntegrityError):
        session.add(SlipLine(slip_id=sold.id, line_no=2, product="stove", quantity=1, serial="U-1",
                             unit_price_fen=line.unit_price_fen, amount_fen=line.amount_fen,
                             subsidy_fen=line.subsidy_fen))
        session.flush()
    session.rollback()


def test_voiding_needs_a_reason_and_happens_once(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    slip = issue(session, "coal-a", r)
    with pytest.raises(SubsidyError) as info:
        void(session, "coal-a", slip, reason="  ")
    assert info.value.field == "reason"
    void(session, "coal-a", slip)
    with pytest.raises(Conflict):
        void(session, "coal-a", slip)


@pytest.mark.parametrize("status,allowed", [("draft", True), ("submitted", True), ("returned", True),
                                            ("town_approved", False), ("drc_approved", False)])
def test_voiding_is_refused_once_the_summary_is_town_approved(session, demo, status, allowed):
    _, r = f.household(session, "dongguan")
    session.commit()
    slip = issue(session, "coal-a", r)
    summary = Summary(supplier_id=slip.supplier_id, town_id=slip.town_id, season_id=slip.season_id,
                      month=slip.issued_on.strftime("%Y-%m"), status=status)
    session.add(summary)
    session.flush()
    session.get(Slip, slip.id).summary_id = summary.id
    session.commit()
    if allowed:
        assert void(session, "coal-a", slip).status == "voided"
    else:
        with pytest.raises(Conflict):
            void(session, "coal-a", slip)


# --- scanning ----------------------------------------------------------------------------------------------------

def scan(session, username, code):
    """As the office's own (scoped) session does."""
    from subsidy.core import db
    from subsidy.core.scope import Scope
    user = f.user(session, username)
    session.commit()  # SQLite: the test's own write transaction would hold the lock
    scoped = db.new_session(session.get_bind(), write=True, scope=Scope.of(user))
    try:
        return run_in_transaction(scoped, lambda: scanning.record_scan(scoped, user=user, code=code))
    finally:
        scoped.close()


def test_each_office_records_its_own_copy_once(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    slip = issue(session, "coal-a", r)
    assert scan(session, "caiyuan", f"{slip.number}-3")[1].copy_no == 3
    assert scan(session, "drc", f"{slip.number.lower()}-4\r\n")[1].copy_no == 4
    with pytest.raises(scanning.AlreadyScanned):
        scan(session, "caiyuan", f"{slip.number}-3")
    with pytest.raises(scanning.WrongOffice):
        scan(session, "finance", f"{slip.number}-3")
    with pytest.raises(NotAllowed):
        scan(session, "coal-a", f"{slip.number}-1")


def test_a_mistyped_code_a_voided_slip_and_another_towns_slip_are_refused(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    slip = issue(session, "coal-a", r)
    swapped = slip.number[:10] + slip.number[11] + slip.number[10] + slip.number[12:]  # ...-000010-X
    assert swapped != slip.number
    with pytest.raises(SubsidyError) as info:
        scan(session, "caiyuan", f"{swapped}-3")
    assert info.value.field == "code" and "校验失败" in info.value.message
    with pytest.raises(NotFound):
        scan(session, "daimiao", f"{slip.number}-3")
    void(session, "coal-a", slip)
    with pytest.raises(scanning.VoidedSlip):
        scan(session, "caiyuan", f"{slip.number}-3")


def test_missing_copies_lists_issued_slips_the_office_lacks(session, demo):
    _, r = f.household(session, "dongguan")
    session.commit()
    a = issue(session, "coal-a", r, issuing.LineIn("briquette", 100))
    b = issue(session, "coal-a", r, issuing.LineIn("briquette", 100))
    scan(session, "caiyuan", f"{a.number}-3")
    from subsidy.core import db
    from subsidy.core.scope import Scope
    town = f.user(session, "caiyuan")
    session.commit()
    scoped = db.new_session(session.get_bind(), scope=Scope.of(town))
    found = scanning.missing_copies(scoped, user=town)
    rows, total = found.items, found.total
    scoped.close()
    assert [s.number for s in rows] == [b.number] and total == 1
