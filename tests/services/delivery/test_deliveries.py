"""Deliveries to the household: every refusal of DESIGN.md and the issue (before the issue date, in the future, a
voided slip, twice, another supplier's slip, a bad file), the database's own guard (slip_id unique), parallel
deliveries of one slip, the slip issued at the door, the delivery list's scope and filters, and the timeliness
buckets; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from subsidy.core import clock, db, paging
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.core.scope import Scope
from subsidy.delivery import deliveries
from subsidy.models import Attachment, AuditEntry, Delivery, Registration, Slip, Town, Village
from subsidy.rules.idnumbers import mask_id_number
from subsidy.sales import issuing, voiding
from tests.factories import sales as f
from tests.factories.settlement import make_slip

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
NOON = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)  # noon in China


@pytest.fixture
def as_user(engine, demo):
    """`as_user("coal-a")`: (a write session scoped to that demo user, the user)."""
    opened = []

    def make(username):
        with db.new_session(engine) as plain:
            me = f.user(plain, username)
        s = db.new_session(engine, write=True, scope=Scope.of(me))
        opened.append(s)
        return s, me

    yield make
    for s in opened:
        s.rollback()
        s.close()


def _slip(session, supplier="coal-a", village="dongguan", *, issued_on=None, coal_kg=500, **kw) -> SimpleNamespace:
    """A slip made and committed; its values, so that the test's own session holds no transaction (on SQLite a
    write session's open transaction would lock out the clerk's)."""
    _, registration = f.household(session, village, coal_kg=3000)
    slip = make_slip(session, supplier=f.supplier(session, supplier), registration=registration,
                     issued_on=issued_on or clock.today(), coal_kg=coal_kg, **kw)
    made = SimpleNamespace(id=slip.id, number=slip.number, issued_on=slip.issued_on, head_name=slip.head_name,
                           supplier_id=slip.supplier_id, town_id=slip.town_id)
    session.commit()
    return made


def _household(session, village="dongguan", **kw) -> SimpleNamespace:
    h, r = f.household(session, village, **kw)
    made = SimpleNamespace(id=r.id, household_id=h.id, id_number=h.id_number, head_name=h.head_name)
    session.commit()
    return made


def test_a_supplier_records_a_slips_delivery_with_the_signed_copy(session, as_user):
    slip = _slip(session, issued_on=clock.today() - timedelta(days=2))
    s, clerk = as_user("coal-a")
    delivery = deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(),
                                          receiver=slip.head_name, photo=("签收联.png", PNG))
    s.commit()
    shown = deliveries.of_slip(s, s.get(Slip, slip.id))
    assert (shown.delivery.delivered_on, shown.delivery.receiver, shown.days_since_issue) == (clock.today(),
                                                                                               slip.head_name, 2)
    assert shown.delivery.receiver_is_head and shown.recorded_by
    photo = deliveries.photo_of(s, slip.number)
    assert (photo.content_type, photo.data) == ("image/png", PNG)
    photo_id = photo.id
    s.rollback()
    # The audit log names the photo by its attachment's id; its bytes are nowhere in the log.
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "delivery.recorded")).scalar_one()
    assert f'"photo_attachment_id":{photo_id}' in entry.after and "PNG" not in entry.after
    assert all("PNG" not in (e.after or "") for e in session.execute(select(AuditEntry)).scalars())


def test_another_adult_may_receive_it_by_name(session, as_user):
    slip = _slip(session)
    s, clerk = as_user("coal-a")
    delivery = deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(),
                                          receiver="  王小红 ")
    assert (delivery.receiver, delivery.receiver_is_head) == ("王小红", False)


@pytest.mark.parametrize("days, reason", [(-1, "早于"), (1, "晚于今天")])
def test_a_delivery_before_the_issue_date_or_in_the_future_is_refused(session, as_user, days, reason):
    issued = clock.today() - timedelta(days=3) if days < 0 else clock.today()
    slip = _slip(session, issued_on=issued)
    s, clerk = as_user("coal-a")
    with pytest.raises(Refused) as refused:
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=issued + timedelta(days=days),
                                   receiver="王小红")
    assert refused.value.field == "delivered_on" and reason in refused.value.message
    s.rollback()
    assert session.execute(select(func.count()).select_from(Delivery)).scalar() == 0


def test_a_delivery_on_the_issue_date_itself_is_accepted(session, as_user):
    slip = _slip(session, issued_on=clock.today() - timedelta(days=5))
    s, clerk = as_user("coal-a")
    assert deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=slip.issued_on,
                                      receiver="王小红").delivered_on == slip.issued_on


def test_a_voided_slip_takes_no_delivery(session, as_user):
    slip = _slip(session)
    s, clerk = as_user("coal-a")
    voiding.void_slip(s, user=clerk, number=slip.number, reason="开错了")
    s.commit()
    with pytest.raises(Conflict, match="作废"):
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(), receiver="王小红")


def test_a_second_delivery_of_a_slip_is_a_conflict(session, as_user):
    slip = _slip(session)
    s, clerk = as_user("coal-a")
    deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(), receiver="王小红")
    s.commit()
    with pytest.raises(Conflict, match="已登记"):
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(), receiver="李四")
    s.rollback()
    assert s.execute(select(Delivery.receiver)).scalars().all() == ["王小红"]


def test_the_database_itself_refuses_a_second_delivery_row(session, demo):
    slip = _slip(session)
    row = {"slip_id": slip.id, "supplier_id": slip.supplier_id, "town_id": slip.town_id,
           "delivered_on": clock.today(), "receiver": "甲", "receiver_is_head": False, "recorded_at": clock.now()}
    session.execute(insert(Delivery), row)
    with pytest.raises(IntegrityError):
        session.execute(insert(Delivery), {**row, "receiver": "乙"})


def test_another_suppliers_slip_is_not_found_and_a_town_may_not_record(session, as_user):
    slip = _slip(session)
    s, other = as_user("coal-b")
    with pytest.raises(NotFound):
        deliveries.record_delivery(s, user=other, number=slip.number, delivered_on=clock.today(), receiver="王小红")
    t, town = as_user("caiyuan")
    with pytest.raises(NotAllowed):
        deliveries.record_delivery(t, user=town, number=slip.number, delivered_on=clock.today(), receiver="王小红")


@pytest.mark.parametrize("receiver, photo, field", [
    ("", None, "receiver"),
    ("王" * 41, None, "receiver"),
    ("王小红", ("签收联.png", b"MZ\x90\x00 an executable renamed"), "photo"),
    ("王小红", ("签收联.png", b""), "photo"),
])
def test_an_empty_name_or_a_file_that_is_no_image_or_pdf_is_refused(session, as_user, receiver, photo, field):
    slip = _slip(session)
    s, clerk = as_user("coal-a")
    with pytest.raises(Refused) as refused:
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(), receiver=receiver,
                                   photo=photo)
    assert refused.value.field == field


def test_an_oversized_photo_is_refused(session, as_user, monkeypatch):
    from subsidy.core.settings import get_settings
    slip = _slip(session)
    s, clerk = as_user("coal-a")
    big = PNG + b"\0" * get_settings().attachment_max_bytes
    with pytest.raises(Refused, match="过大"):
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=clock.today(), receiver="王小红",
                                   photo=("big.png", big))
    s.rollback()
    assert session.execute(select(func.count()).select_from(Attachment)).scalar() == 0


def test_parallel_deliveries_of_one_slip_record_one_and_answer_the_others_409(engine, session, demo):
    slip = _slip(session)
    clerks = [f.user(session, "coal-a"), f.user(session, "coal-a2")]
    for clerk in clerks:
        session.expunge(clerk)
    session.rollback()
    n = 6
    barrier = threading.Barrier(n, timeout=30)

    def one(i):
        s = db.new_session(engine, write=True, scope=Scope.of(clerks[i % 2]))
        try:
            barrier.wait()
            return db.run_in_transaction(s, lambda: deliveries.record_delivery(
                s, user=clerks[i % 2], number=slip.number, delivered_on=clock.today(), receiver=f"签收人{i}").id)
        except Exception as error:  # noqa: BLE001 - collected for the assertions
            return error
        finally:
            s.close()

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert sum(isinstance(x, int) for x in results) == 1, results
    assert all(isinstance(x, Conflict) for x in results if not isinstance(x, int)), results
    assert session.execute(select(func.count()).select_from(Delivery).where(Delivery.slip_id == slip.id)).scalar() == 1
    assert session.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "delivery.recorded")).scalar() == 1


def _with_batch(session):
    f.batch(session, "coal-a")
    session.commit()


def test_a_slip_issued_at_the_door_is_recorded_with_its_delivery_in_one_step(session, as_user):
    h = _household(session, coal_kg=2000)
    _with_batch(session)
    s, clerk = as_user("coal-a")
    slip = deliveries.issue_at_the_door(s, clerk=clerk, registration_id=h.id, id_number=h.id_number,
                                        lines=[issuing.LineIn("briquette", 1000)], receiver=h.head_name)
    s.commit()
    shown = deliveries.of_slip(s, slip)
    assert shown.delivery.delivered_on == slip.issued_on and shown.days_since_issue == 0
    assert shown.delivery.receiver_is_head


def test_a_refused_sale_at_the_door_records_no_delivery_either(session, as_user):
    h = _household(session, coal_kg=2000)
    _with_batch(session)
    s, clerk = as_user("coal-a")
    with pytest.raises(Refused):
        deliveries.issue_at_the_door(s, clerk=clerk, registration_id=h.id, id_number=h.id_number,
                                     lines=[issuing.LineIn("briquette", 1000)], receiver="")
    s.rollback()
    assert session.execute(select(func.count()).select_from(Slip).where(Slip.registration_id == h.id)).scalar() == 0
    assert session.execute(select(func.count()).select_from(Delivery)).scalar() == 0


def test_a_sale_at_the_door_the_rules_refuse_records_no_delivery(session, as_user):
    h = _household(session, coal_kg=2000)
    _with_batch(session)
    s, clerk = as_user("coal-a")
    with pytest.raises(Refused):
        deliveries.issue_at_the_door(s, clerk=clerk, registration_id=h.id, id_number=h.id_number,
                                     lines=[issuing.LineIn("briquette", 5000)], receiver=h.head_name)
    s.rollback()
    assert session.execute(select(func.count()).select_from(Slip).where(Slip.registration_id == h.id)).scalar() == 0
    assert session.execute(select(func.count()).select_from(Delivery)).scalar() == 0


# --- the delivery list --------------------------------------------------------------------------------------------

def _ids(session, **codes) -> SimpleNamespace:
    """Town and village ids by code (read and the transaction ended before a clerk's session writes)."""
    found = {}
    for name, code in codes.items():
        model = Town if name.startswith("town") else Village
        found[name] = session.execute(select(model.id).where(model.code == code)).scalar_one()
    session.rollback()
    return SimpleNamespace(**found)


def test_the_list_holds_the_approved_registrations_of_the_suppliers_towns_masked(session, as_user):
    h = _household(session, coal_kg=2500, stoves=0)
    _household(session, "shanggao-cun", coal_kg=2500)  # no contract in 上高街道
    _household(session, status="noticed")
    ids = _ids(session, town="shanggao", village="shanggao-cun")
    approved = set(session.execute(select(Registration.id).where(Registration.status == "approved")).scalars())
    session.rollback()
    s, clerk = as_user("coal-a")
    page = deliveries.delivery_list(s, clerk, per_page=100)
    by_id = {row.registration_id: row for row in page.items}
    assert h.id in by_id and page.total == len(page.items) and not page.total_capped
    row = by_id[h.id]
    assert (row.head_name, row.id_number, row.coal_left_kg, row.town) == (h.head_name, mask_id_number(h.id_number),
                                                                          2500, "财源街道")
    assert "****" in row.phone
    assert ids.village not in {row.village_id for row in page.items}
    assert set(by_id) <= approved
    # A town or a village without the supplier's contract is not found.
    with pytest.raises(NotFound):
        deliveries.delivery_list(s, clerk, town_id=ids.town)
    with pytest.raises(NotFound):
        deliveries.delivery_list(s, clerk, village_id=ids.village)


def test_a_coal_supplier_does_not_list_stove_only_registrations_nor_a_stove_supplier_coal_left(session, as_user):
    stove_only = _household(session, coal_kg=0, stoves=1)
    coal_only = _household(session, coal_kg=1000, stoves=0)
    s, coal = as_user("coal-a")
    ids = {row.registration_id for row in deliveries.delivery_list(s, coal, per_page=100).items}
    assert coal_only.id in ids and stove_only.id not in ids
    s.rollback()
    t, stove = as_user("stove-a")
    rows = {row.registration_id: row for row in deliveries.delivery_list(t, stove, per_page=100).items}
    assert stove_only.id in rows and coal_only.id not in rows and rows[stove_only.id].coal_left_kg == 0


def test_not_yet_delivered_keeps_what_is_left_to_sell_or_an_undelivered_slip(session, as_user):
    ids = _ids(session, village="dongguan", town_other="daimiao")
    coal_a = f.supplier(session, "coal-a")
    made = {}
    for name in ("delivered", "undelivered", "untouched"):
        _, r = f.household(session, "dongguan", coal_kg=500, stoves=0)
        made[name] = r.id
        if name != "untouched":
            made[name + "_slip"] = make_slip(session, supplier=coal_a, registration=r, issued_on=clock.today(),
                                             coal_kg=500).number
    session.commit()
    s, clerk = as_user("coal-a")
    deliveries.record_delivery(s, user=clerk, number=made["delivered_slip"], delivered_on=clock.today(),
                               receiver="甲")
    s.commit()
    pending = {row.registration_id: row for row in deliveries.delivery_list(s, clerk, village_id=ids.village,
                                                                             pending=True, per_page=100).items}
    assert made["untouched"] in pending and made["undelivered"] in pending and made["delivered"] not in pending
    waiting = pending[made["undelivered"]]
    assert [x.number for x in waiting.slips] == [made["undelivered_slip"]]
    assert waiting.undelivered == 1 and waiting.coal_left_kg == 0
    everything = {row.registration_id for row in deliveries.delivery_list(s, clerk, village_id=ids.village,
                                                                          per_page=100).items}
    assert made["delivered"] in everything
    s.rollback()
    # The town sees the same list of its villages, ID numbers whole, every supplier's slips.
    t, town = as_user("caiyuan")
    rows = {row.registration_id: row for row in deliveries.delivery_list(t, town, pending=True, per_page=100).items}
    assert made["undelivered"] in rows and made["delivered"] not in rows
    assert "*" not in rows[made["untouched"]].id_number
    with pytest.raises(NotFound):
        deliveries.delivery_list(t, town, town_id=ids.town_other)


def test_pages_are_in_village_and_id_order_and_the_stream_is_the_same_list(session, as_user):
    for _ in range(5):
        _household(session, "xiguan", coal_kg=1000)
    s, clerk = as_user("coal-a")
    first = deliveries.delivery_list(s, clerk, per_page=20)
    second = deliveries.delivery_list(s, clerk, per_page=20, page=2)
    streamed = [(r.village_id, r.registration_id) for r in deliveries.iter_rows(s, clerk, chunk=7)]
    paged = [(r.village_id, r.registration_id) for r in first.items + second.items]
    assert streamed[:len(paged)] == paged == sorted(paged)
    assert len(streamed) == first.total


def test_a_page_by_cursor_follows_the_one_before_at_any_depth_and_back(session, as_user):
    for village in ("xiguan", "dongguan"):
        for _ in range(12):
            _household(session, village, coal_kg=1000)
    s, clerk = as_user("coal-a")
    whole = [(r.village_id, r.registration_id) for r in deliveries.iter_rows(s, clerk)]
    assert len(whole) > 20 and len({v for v, _ in whole}) > 1
    seen, pg = [], deliveries.delivery_list(s, clerk, per_page=20)
    pages = 1
    while True:
        seen += [(r.village_id, r.registration_id) for r in pg.items]
        if pg.next is None:
            break
        pg = deliveries.delivery_list(s, clerk, per_page=20, after=pg.next)
        pages += 1
        assert pg.page == pages
    # Crossing from one village to the next by cursor neither repeats nor skips a household.
    assert seen == whole
    assert pages >= 2
    back = deliveries.delivery_list(s, clerk, per_page=20, before=pg.prev)
    assert back.page == pages - 1
    assert [(r.village_id, r.registration_id) for r in back.items] == whole[(pages - 2) * 20:(pages - 1) * 20]
    # Narrowed to one village, the cursor stays within it.
    one = whole[0][0]
    mine = deliveries.delivery_list(s, clerk, village_id=one, per_page=20)
    assert {r.village_id for r in mine.items} == {one}


def test_a_page_beyond_the_last_numbered_one_is_refused_toward_the_cursor(as_user):
    s, clerk = as_user("coal-a")
    with pytest.raises(Refused) as refused:
        deliveries.delivery_list(s, clerk, page=paging.MAX_PAGE + 1)
    assert refused.value.field == "page"


def test_an_exact_count_counts_past_the_cap(as_user, monkeypatch):
    monkeypatch.setattr(deliveries, "COUNT_CAP", 3)
    s, clerk = as_user("coal-a")
    page = deliveries.delivery_list(s, clerk, count="exact")
    assert not page.total_capped and page.total == len(list(deliveries.iter_rows(s, clerk))) > 3


def test_the_count_stops_at_the_cap(as_user, monkeypatch):
    monkeypatch.setattr(deliveries, "COUNT_CAP", 3)
    s, clerk = as_user("coal-a")
    page = deliveries.delivery_list(s, clerk)
    assert (page.total, page.total_capped) == (3, True) and len(page.items) > 3


def test_a_village_or_the_bureau_has_no_delivery_list(as_user):
    for name in ("dongguan", "drc"):
        s, user = as_user(name)
        with pytest.raises(NotAllowed):
            deliveries.delivery_list(s, user)
        s.rollback()


# --- the slip lists' delivery column --------------------------------------------------------------------------------

def test_the_listed_slips_deliveries_are_read_in_one_statement_for_the_listed_slips_only(engine, session, as_user):
    today = clock.today()
    delivered = _slip(session, issued_on=today - timedelta(days=3))
    waiting = _slip(session, issued_on=today - timedelta(days=9))
    voided = _slip(session, issued_on=today - timedelta(days=2), status="voided")
    others = [_slip(session, issued_on=today) for _ in range(4)]
    unlisted = _slip(session, issued_on=today - timedelta(days=5))
    s, clerk = as_user("coal-a")
    deliveries.record_delivery(s, user=clerk, number=delivered.number, delivered_on=today - timedelta(days=1),
                               receiver="王小红")
    deliveries.record_delivery(s, user=clerk, number=unlisted.number, delivered_on=today, receiver="甲")
    s.commit()
    numbers = [delivered.number, waiting.number, voided.number, *(o.number for o in others)]
    listed = list(s.execute(select(Slip).where(Slip.number.in_(numbers))).scalars())
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        shown = deliveries.of_listed_slips(s, listed)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # One statement whatever the number of slips, and only the listed ones are answered.
    assert len(statements) == 1 and "delivery" in statements[0]
    assert set(shown) == {x.id for x in listed} and unlisted.id not in shown
    assert shown[delivered.id] == deliveries.ListedDelivery(today - timedelta(days=1), "王小红", 2)
    assert shown[waiting.id] == deliveries.ListedDelivery(None, "", 9)
    # A voided slip that was never delivered waits for nobody: no days.
    assert shown[voided.id] == deliveries.ListedDelivery(None, "", None)
    assert {shown[o.id].days_since_issue for o in others} == {0}
    assert deliveries.of_listed_slips(s, []) == {}


# --- timeliness ---------------------------------------------------------------------------------------------------

def test_timeliness_counts_slips_delivered_within_3_and_7_days_later_and_not_at_all(session, as_user, frozen):
    frozen(NOON)
    today = clock.today()
    slips = [_slip(session, issued_on=today - timedelta(days=d)) for d in (10, 10, 10, 10, 10)]
    voided = _slip(session, issued_on=today - timedelta(days=10), status="voided")
    s, clerk = as_user("coal-a")
    for slip, after in zip(slips, (0, 3, 4, 8)):
        deliveries.record_delivery(s, user=clerk, number=slip.number, delivered_on=slip.issued_on + timedelta(
            days=after), receiver="甲")
    s.commit()
    rows = deliveries.timeliness(s)
    assert len(rows) == 1 and voided.id
    row = rows[0]
    assert (row.supplier, row.town, row.slips, row.within_3, row.within_7, row.later, row.not_delivered) == (
        "泰安市甲洁净煤配送有限公司", "财源街道", 5, 2, 1, 1, 1)
    s.rollback()
    assert deliveries.timeliness(as_user("coal-b")[0]) == []
