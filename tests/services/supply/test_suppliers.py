"""Suppliers, contracts, attachments, quality standards, batches and stock (subsidy/supply/suppliers.py and friends)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from subsidy.supply import attachments, batches, contracts, suppliers
from subsidy.core import db
from subsidy.policy import quality, seasons
from subsidy.core.errors import Conflict, SubsidyError
from subsidy.rules.idnumbers import make_credit_code
from subsidy.models import Attachment, Batch, Season, Town
from subsidy.core.scope import Scope
from subsidy.models import Role
from subsidy.core.settings import get_settings
from subsidy.sales import issuing
from tests.factories import sales as sales_factories
from tests.factories.supply import JPEG, PDF, PNG, add_batch, supplier


def new_supplier(**overrides) -> suppliers.SupplierInput:
    values = dict(code="coal-x", name="泰安市新洁净煤有限公司", credit_code=make_credit_code("91370902MA3C9999X"[:17]),
                  slip_prefix="X", legal_rep="王建国", contact_name="李经理", contact_phone="13805381234",
                  address="泰安市泰山区新路1号", bank_name="工商银行", bank_account="6222021234567890123",
                  tender_notice_no="TSCG-2021-009", tender_date=date(2021, 10, 1), products=["briquette"])
    values.update(overrides)
    return suppliers.SupplierInput(**values)


# --- Suppliers --------------------------------------------------------------------------------------------------

def test_a_supplier_with_a_valid_credit_code_is_saved_upper_case(demo, session):
    code = make_credit_code("91370902MA3C9999X"[:17])
    created = suppliers.create(session, None, new_supplier(credit_code=code.lower()))
    session.commit()
    assert created.credit_code == code
    assert created.products == "briquette"


@pytest.mark.parametrize("bad, reason", [
    ("91370902MA3C00001", "18位"),
    ("91370902MA3C0000I0", "无效字符"),
])
def test_a_supplier_with_an_invalid_credit_code_is_refused_with_the_reason(demo, session, bad, reason):
    with pytest.raises(SubsidyError) as refused:
        suppliers.create(session, None, new_supplier(credit_code=bad))
    assert reason in refused.value.errors["credit_code"]


def test_a_credit_code_with_a_wrong_check_character_is_refused(demo, session):
    good = make_credit_code("91370902MA3C9999X"[:17])
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(SubsidyError) as refused:
        suppliers.create(session, None, new_supplier(credit_code=wrong))
    assert "校验位" in refused.value.errors["credit_code"]


def test_a_slip_prefix_already_used_by_another_supplier_is_a_conflict(demo, session):
    with pytest.raises(Conflict) as clash:
        suppliers.create(session, None, new_supplier(slip_prefix="a"))
    assert clash.value.field == "slip_prefix"
    assert clash.value.existing_id == supplier(session, "coal-a").id


def test_a_supplier_user_changes_only_its_own_contact_details(demo, session):
    me = supplier(session, "coal-a")
    user = type("U", (), {"id": None, "role": Role.SUPPLIER, "supplier_id": me.id, "username": "coal-a"})()
    suppliers.update_contact(session, user, me.id, contact_name="新经理", contact_phone="13900001111", address="新地址")
    assert me.contact_name == "新经理" and me.contact_phone == "13900001111"
    with pytest.raises(SubsidyError):
        suppliers.update_contact(session, user, supplier(session, "coal-b").id, contact_name="x", contact_phone="",
                                 address="")


def test_a_suspended_supplier_cannot_sell_even_with_a_contract(demo, session):
    coal_a = supplier(session, "coal-a")
    with pytest.raises(SubsidyError):
        suppliers.set_status(session, None, coal_a.id, "suspended")  # a reason is required
    suppliers.set_status(session, None, coal_a.id, "suspended", "质量抽检不合格")
    with pytest.raises(SubsidyError, match="暂停"):
        suppliers.ensure_can_sell(session, coal_a.id)


# --- Contracts --------------------------------------------------------------------------------------------------

def _town(session, code):
    return session.execute(select(Town).where(Town.code == code)).scalar_one()


def _prices_for_a_household_in(session, village_code: str, supplier_code: str = "coal-a") -> dict[str, int]:
    """The contract prices the sale itself reads for a new household of that village."""
    _, registration = sales_factories.household(session, village_code)
    return issuing.terms(session, supplier_id=supplier(session, supplier_code).id,
                         registration_id=registration.id).prices


def test_a_supplier_sells_only_what_it_has_a_contract_for_in_the_households_town(demo, session):
    assert _prices_for_a_household_in(session, "dongguan") == {"briquette": 110_000}
    assert _prices_for_a_household_in(session, "shanggao-cun") == {}


def test_a_new_contract_takes_the_typed_yuan_price_and_then_allows_sales(demo, session):
    season = seasons.active_season(session)
    coal_a = supplier(session, "coal-a")
    shanggao = _town(session, "shanggao")
    contract = contracts.create(session, None, contracts.ContractInput(
        supplier_id=coal_a.id, town_id=shanggao.id, season_id=season.id, product="briquette", price="1,080.50",
        signed_on=date(2021, 10, 20)))
    assert contract.price_fen == 108_050
    assert _prices_for_a_household_in(session, "shanggao-cun") == {"briquette": 108_050}
    with pytest.raises(Conflict):
        contracts.create(session, None, contracts.ContractInput(supplier_id=coal_a.id, town_id=shanggao.id,
                                                                season_id=season.id, product="briquette",
                                                                price="1,100"))


@pytest.mark.parametrize("supplier_code, product", [("coal-a", "briquette"), ("stove-a", "stove")])
def test_a_contract_price_outside_the_products_plausible_range_is_refused_naming_the_range(demo, session,
                                                                                           supplier_code, product):
    season = seasons.active_season(session)
    seller = supplier(session, supplier_code)
    low, high = contracts.PRICE_RANGE_FEN[product]
    unit = "元/吨" if product != "stove" else "元/台"

    def create(price: str, town: str = "shanggao"):
        return contracts.create(session, None, contracts.ContractInput(
            supplier_id=seller.id, town_id=_town(session, town).id, season_id=season.id, product=product, price=price))

    for price in ("20,000,000", f"{(high + 1) / 100:.2f}", f"{(low - 1) / 100:.2f}", "1.10"):
        with pytest.raises(SubsidyError) as refused:
            create(price)
        assert refused.value.errors["price"] == (f"{'洁净型煤' if product == 'briquette' else '节能环保炉具'}的配送价格应在 "
                                                 f"{low // 100:,}.00 至 {high // 100:,}.00 {unit}之间"), price
    assert create(f"{low / 100:.2f}").price_fen == low
    assert create(f"{high / 100:.2f}", town="xujialou").price_fen == high


def test_a_contract_for_a_product_the_supplier_did_not_win_is_refused(demo, session):
    season = seasons.active_season(session)
    with pytest.raises(SubsidyError) as refused:
        contracts.create(session, None, contracts.ContractInput(
            supplier_id=supplier(session, "coal-a").id, town_id=_town(session, "shanggao").id,
            season_id=season.id, product="stove", price="1200"))
    assert refused.value.errors["product"] == "该企业未中标此产品"


def test_coverage_lists_each_town_with_its_suppliers_products_and_prices(demo, session):
    season = seasons.active_season(session)
    cover = {town.code: {(c.supplier_code, c.product, c.price_fen) for c in cells}
             for town, cells in contracts.coverage(session, season.id)}
    assert set(cover) == {"caiyuan", "daimiao", "taiqian"}
    assert cover["caiyuan"] == {("coal-a", "briquette", 110_000), ("coal-b", "briquette", 110_000),
                                ("stove-a", "stove", 120_000)}


# --- Attachments ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, kind", [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")])
def test_pdf_png_and_jpeg_are_recognised_by_their_content(demo, session, content, kind):
    stored = attachments.store(session, None, filename="合同.bin", data=content, supplier_id=None)
    assert stored.content_type == kind
    assert len(stored.sha256) == 64 and stored.size == len(content)


def test_a_file_of_another_type_is_refused_whatever_its_name(demo, session):
    with pytest.raises(SubsidyError, match="PDF、PNG 或 JPEG"):
        attachments.store(session, None, filename="合同.pdf", data=b"MZ\x90\x00 not a pdf", supplier_id=None)
    with pytest.raises(SubsidyError, match="PDF、PNG 或 JPEG"):
        attachments.store(session, None, filename="a.png", data=b"GIF89a....", supplier_id=None)
    assert session.execute(select(Attachment)).first() is None


def test_a_file_over_the_size_limit_is_refused(demo, session):
    limit = get_settings().attachment_max_bytes
    with pytest.raises(SubsidyError, match="文件过大"):
        attachments.store(session, None, filename="big.pdf", data=PDF + b"0" * limit, supplier_id=None)
    assert attachments.store(session, None, filename="ok.pdf", data=PDF + b"0" * (limit - len(PDF)),
                             supplier_id=None).size == limit


def test_a_supplier_cannot_download_another_suppliers_attachment(demo, engine, session):
    coal_a, coal_b = supplier(session, "coal-a"), supplier(session, "coal-b")
    stored = attachments.store(session, None, filename="r.pdf", data=PDF, supplier_id=coal_a.id)
    session.commit()
    with db.new_session(engine, scope=Scope(Role.SUPPLIER, supplier_id=coal_b.id)) as theirs:
        with pytest.raises(SubsidyError):
            attachments.for_download(theirs, stored.id)
    with db.new_session(engine, scope=Scope(Role.SUPPLIER, supplier_id=coal_a.id)) as mine:
        assert attachments.for_download(mine, stored.id).data == PDF


# --- Quality and batches ----------------------------------------------------------------------------------------

def test_a_batch_within_the_limits_passes(demo, session):
    batch = add_batch(session)
    assert batch.passed and batch.failed_reasons == ""
    assert (batch.volatile_cpct, batch.sulfur_cpct, batch.ash_cpct, batch.calorific_kj_kg) == (980, 35, 1800, 24500)


def test_a_batch_that_fails_on_sulfur_alone_says_so(demo, session):
    batch = add_batch(session, sulfur_pct="0.51")
    assert not batch.passed
    assert batches.reasons(batch) == ["全硫 St,d 0.51% 超过上限 0.50%"]


def test_every_failing_value_is_named(demo, session):
    batch = add_batch(session, volatile_pct="12.01", ash_pct="25.5", calorific_mj_kg="20.999")
    assert not batch.passed
    assert [r.split(" ")[0] for r in batches.reasons(batch)] == ["挥发分", "灰分", "低位发热量"]


def test_measured_values_with_more_than_two_decimals_are_refused(demo, session):
    with pytest.raises(SubsidyError) as refused:
        add_batch(session, sulfur_pct="0.355", volatile_pct="abc")
    assert set(refused.value.errors) == {"sulfur_pct", "volatile_pct"}


def test_the_limits_come_from_the_season_in_force(demo, session):
    old = seasons.active_season(session)
    quality.save_standard(session, None, old.id, "briquette", volatile_pct="12", sulfur_pct="0.30", ash_pct="25",
                          calorific_mj_kg="21", source="本季从严")
    assert not add_batch(session, sulfur_pct="0.35").passed  # stricter limit of this season
    new = Season(code="99", name="下一采暖季", starts_on=date(2030, 11, 1), ends_on=date(2031, 3, 31))
    session.add(new)
    session.flush()
    quality.ensure_defaults(session, new.id)
    old.is_active = False
    session.flush()
    new.is_active = True
    session.flush()
    batch = add_batch(session, sulfur_pct="0.35")
    assert batch.passed and batch.season_id == new.id  # the new season's defaults (0.50%) apply


def test_the_default_standards_and_the_linxia_example(demo, session):
    season = seasons.active_season(session)
    by_product = {s.product: s for s in quality.standards_of(session, season.id)}
    assert by_product["briquette"].max_sulfur_cpct == 50
    assert by_product["anthracite"].min_calorific_kj_kg == 25000
    linxia = quality.PRESETS["linxia_wy2"]
    assert (linxia.limit("max_volatile_cpct"), linxia.limit("max_sulfur_cpct"), linxia.limit("max_ash_cpct")) == (
        1200, 100, 3000)


# --- Stock ------------------------------------------------------------------------------------------------------

def test_take_stock_takes_from_the_oldest_passed_batch_with_enough_left(demo, session):
    coal_a = supplier(session, "coal-a")
    demo_batch = session.execute(select(Batch).where(Batch.supplier_id == coal_a.id)).scalar_one()
    taken = batches.take_stock(session, supplier_id=coal_a.id, product="briquette", batch_id=None, kg=1500)
    assert taken.id == demo_batch.id and taken.sold_kg == 1500
    back = batches.return_stock(session, demo_batch.id, 500)
    assert back.sold_kg == 1000


def test_a_failed_batch_can_never_be_sold_from(demo, session):
    failed = add_batch(session, sulfur_pct="0.80")
    with pytest.raises(SubsidyError, match="不合格"):
        batches.take_stock(session, supplier_id=failed.supplier_id, product="briquette", batch_id=failed.id, kg=10)
    assert session.get(Batch, failed.id).sold_kg == 0


def test_another_suppliers_batch_or_too_much_is_refused(demo, session):
    theirs = add_batch(session, "coal-b", quantity_kg=100)
    with pytest.raises(SubsidyError, match="不属于本企业"):
        batches.take_stock(session, supplier_id=supplier(session, "coal-a").id, product="briquette",
                           batch_id=theirs.id, kg=10)
    with pytest.raises(SubsidyError, match="库存不足"):
        batches.take_stock(session, supplier_id=theirs.supplier_id, product="briquette", batch_id=theirs.id, kg=101)
    with pytest.raises(SubsidyError, match="没有库存足够"):
        batches.take_stock(session, supplier_id=theirs.supplier_id, product="briquette", batch_id=None, kg=600_000)


def test_concurrent_sales_never_oversell_a_batch(demo, engine, session):
    small = add_batch(session, "coal-a", quantity_kg=1000)
    session.commit()
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def sell():
        s = db.new_session(engine, write=True)
        try:
            start.wait()
            for _ in range(5):
                try:
                    db.run_in_transaction(s, lambda: batches.take_stock(
                        s, supplier_id=small.supplier_id, product="briquette", batch_id=small.id, kg=100))
                    result = "sold"
                except SubsidyError:
                    result = "refused"
                with lock:
                    outcomes.append(result)
        finally:
            s.close()

    threads = [threading.Thread(target=sell) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    session.expire_all()
    assert outcomes.count("sold") == 10 and outcomes.count("refused") == 30
    assert session.get(Batch, small.id).sold_kg == 1000
