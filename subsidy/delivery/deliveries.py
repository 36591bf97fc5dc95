"""Delivery to the household (配送到户) and the supplier's delivery list (配送清单).

The model. A delivery is the household signing for a slip: one `delivery` row per slip (`slip_id` unique, so a slip
has at most one delivery whatever the concurrency, DESIGN.md invariant 9), with the day, who received it (the head,
or another adult of the household, by name) and optionally the scan or photo of the signed copy, stored and type-
checked as the contracts' attachments are (subsidy/supply/attachments.py). What is signed is the slip, so a delivery
always names an issued slip and is never dated before it: "delivered first, issued at the door" (a supplier's van
with a printer) is the slip issued at the door and its delivery recorded in the same step and the same transaction
(`issue_at_the_door`, delivered on the day of issue), not a delivery waiting for a slip. Both orders thus end with
both recorded; there is no half-state to reconcile. Refused: a delivery before the slip's issue date or in the
future (422), of a voided slip or a second one (409). The slip row is locked while it is checked (PostgreSQL; SQLite
writes one at a time), so a void cannot land between the check and the delivery; two clerks recording the same
delivery at once: one wins, the other gets Conflict (409).

The delivery list. For a supplier: the active season's approved registrations in the towns of its contracts and for
the products of its contracts there (a coal supplier does not see stove-only registrations), with what is left of
each (`coal_left_kg`, `stoves_left`: the registration less what was sold on standing slips, as the counter's lookup
says it) and the supplier's own slips of the registration with their delivery, by village. For a town: the same for
its villages and all products, every supplier's slips. "Not yet delivered" (`pending`): something is left to sell
of the viewer's products, or a standing slip has no delivery yet. Suppliers never browse the registry otherwise, so
these statements read registrations and households unscoped, and the viewer's contracts are their scope: a town or
village outside them is not found (404).

The slip lists. /slips shows each listed slip's delivery (delivered on, or not yet, and the days since issue:
subsidy/rules/delivery.py) through `of_listed_slips`, one statement for the page's slips; the /slips.xlsx export
(subsidy/sales/listing.py, which may not import this package) outer-joins the same table.

Personal numbers. DESIGN.md invariant 5 and subsidy/core/scope.py (`SEES_PERSONAL_NUMBERS`) keep ID numbers and
phones whole for the village and the town only; the supplier's own records are its slips, not the registry, and
CONTRACT.md answers the delivery list's phone masked. So the supplier sees the phone masked too, on the page, the
route sheet, the spreadsheet and the API (the driver finds the household by its address and name, and calls the
village when in doubt); the town sees both whole, as on its other lists.

Size: registrations are read a village at a time in id order from `ix_registration_delivery` (village, season,
status, id), a page at a time through subsidy.core.paging.fetch (by cursor at any depth, or by page number); the
count stops at `COUNT_CAP` (a page says "1,000+"), the exports stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, exists, false, func, literal, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging
from subsidy.core.db import is_unique_violation
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.core.scope import Record, show_id, show_phone
from subsidy.models import (
    COAL_PRODUCTS, Attachment, Contract, Delivery, Household, Product, Registration, RegistrationStatus, Role, Season,
    Slip, SlipStatus, Supplier, Town, User, Village,
)
from subsidy.policy.seasons import active_season, lock_open
from subsidy.rules.delivery import days_since_issue
from subsidy.rules.months import month_bounds, parse_month
from subsidy.rules.text import clean_text
from subsidy.sales import issuing, slips
from subsidy.supply import attachments

READERS = frozenset({Role.SUPPLIER, Role.TOWN})
PER_PAGE = paging.DEFAULT_PAGE_SIZE
# The count of a list stops here ("1,000+"): counting a supplier's 400,000 households to the last, with the
# not-yet-delivered test on each, took 270 ms at 300,000 registrations; to a thousand, a few (bench_deliveries.py).
COUNT_CAP = 1_000
RECEIVER_MAX = 40


# ---------------------------------------------------------------------------------------------------------------------
# Recording a delivery
# ---------------------------------------------------------------------------------------------------------------------

def _check_date(delivered_on, issued_on: date) -> date:
    if not isinstance(delivered_on, date):
        raise Refused("请填写送达日期（年-月-日）", field="delivered_on")
    if delivered_on < issued_on:
        raise Refused(f"送达日期不能早于销售单的开具日期（{issued_on.isoformat()}）", field="delivered_on")
    if delivered_on > clock.today():
        raise Refused("送达日期不能晚于今天", field="delivered_on")
    return delivered_on


def record_delivery(session: Session, *, user: User, number: str, delivered_on: date | None, receiver: str,
                    photo: tuple[str, bytes] | None = None) -> Delivery:
    """Record that the slip `number` (the supplier's own, else NotFound) was delivered on `delivered_on` to
    `receiver`, with an optional scan of the signed copy (`photo`: file name and bytes). Conflict for a voided slip
    or one delivered already; Refused for a date before the issue or after today, an empty name, a bad file."""
    if user.role != Role.SUPPLIER:
        raise NotAllowed("只有开具销售单的配送企业可以登记配送")
    slip = slips.get_by_number(session, number, for_update=True)
    lock_open(session, slip.season_id)  # the acceptance report froze what was delivered when the season closed
    if slip.status == SlipStatus.VOIDED:
        raise Conflict("该销售单已作废，不能登记配送", field="number")
    if _delivery_of(session, slip.id) is not None:
        raise Conflict("该销售单已登记过配送到户", field="number")
    receiver = clean_text(receiver, "receiver", RECEIVER_MAX, label="签收人姓名", required=True)
    delivered_on = _check_date(delivered_on, slip.issued_on)
    photo_id = None
    if photo is not None:
        photo_id = attachments.store(session, user, filename=photo[0], data=photo[1], supplier_id=slip.supplier_id,
                                     field="photo").id
    delivery = Delivery(slip_id=slip.id, supplier_id=slip.supplier_id, town_id=slip.town_id,
                        delivered_on=delivered_on, receiver=receiver, receiver_is_head=receiver == slip.head_name,
                        photo_attachment_id=photo_id, recorded_by=user.id)
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError as error:  # a racing clerk's delivery committed first (the lock is PostgreSQL's only)
        if not is_unique_violation(error):
            raise
        raise Conflict("该销售单已登记过配送到户", field="number") from None
    # The photo is personal data: the entry names its attachment by id, never its bytes (core/audit.py omits `data`).
    audit.record(session, user, "delivery.recorded", delivery)
    return delivery


def issue_at_the_door(session: Session, *, clerk: User, registration_id: int, id_number: str,
                      lines: list[issuing.LineIn], receiver: str, preview_token: str | None = None) -> Slip:
    """Issue a slip at the household's door and record its delivery, on the day of issue, in the same transaction:
    both are recorded, or neither. The receiver's name is checked first, so that a missing one refuses the sale
    before any of it is written."""
    clean_text(receiver, "receiver", RECEIVER_MAX, label="签收人姓名", required=True)
    slip = issuing.issue_slip(session, clerk=clerk, registration_id=registration_id, id_number=id_number,
                              lines=lines, preview_token=preview_token)
    record_delivery(session, user=clerk, number=slip.number, delivered_on=slip.issued_on, receiver=receiver)
    return slip


def _delivery_of(session: Session, slip_id: int) -> Delivery | None:
    return session.execute(select(Delivery).where(Delivery.slip_id == slip_id)).scalar_one_or_none()


@dataclass(frozen=True)
class SlipDelivery:
    """A slip's delivery as its page, print and API show it (None: not delivered yet)."""

    delivery: Delivery | None
    recorded_by: str
    days_since_issue: int  # until delivery, or until today while not delivered


def of_slip(session: Session, slip: Slip) -> SlipDelivery:
    """The delivery of a slip already found in the caller's scope."""
    delivery = _delivery_of(session, slip.id)
    who = ""
    if delivery is not None and delivery.recorded_by:
        who = session.execute(select(func.coalesce(func.nullif(User.display_name, ""), User.username))
                              .where(User.id == delivery.recorded_by).execution_options(unscoped=True)).scalar() or ""
    delivered_on = delivery.delivered_on if delivery is not None else None
    return SlipDelivery(delivery, who, days_since_issue(slip.issued_on, delivered_on, clock.today()))


@dataclass(frozen=True)
class ListedDelivery:
    """A listed slip's delivery as a list shows it: the day (None: not delivered yet) and who received it, and the
    days since its issue (until delivery, or until today while it is not delivered; None for a voided slip that was
    never delivered, which nobody will deliver)."""

    delivered_on: date | None
    receiver: str
    days_since_issue: int | None


def of_listed_slips(session: Session, listed: list[Slip]) -> dict[int, ListedDelivery]:
    """The delivery of each slip of a list already read in the caller's scope (a page of /slips), by slip id: one
    statement on the unique index of `delivery.slip_id` for the listed slips only, whatever their number."""
    if not listed:
        return {}
    found = {slip_id: (delivered_on, receiver) for slip_id, delivered_on, receiver in session.execute(
        select(Delivery.slip_id, Delivery.delivered_on, Delivery.receiver)
        .where(Delivery.slip_id.in_(sorted({s.id for s in listed}))))}
    today = clock.today()
    shown = {}
    for slip in listed:
        delivered_on, receiver = found.get(slip.id, (None, ""))
        days = days_since_issue(slip.issued_on, delivered_on, today, voided=slip.status == SlipStatus.VOIDED)
        shown[slip.id] = ListedDelivery(delivered_on, receiver, days)
    return shown


def photo_of(session: Session, number: str) -> Attachment:
    """The signed copy's scan of a slip's delivery, for whoever may read the slip (NotFound otherwise)."""
    slip = slips.get_by_number(session, number)
    delivery = _delivery_of(session, slip.id)
    if delivery is None or delivery.photo_attachment_id is None:
        raise NotFound()
    return session.execute(select(Attachment).where(Attachment.id == delivery.photo_attachment_id)
                           .execution_options(unscoped=True)).scalar_one()


# ---------------------------------------------------------------------------------------------------------------------
# The delivery list
# ---------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reach:
    """What a viewer's delivery list covers in the active season: its villages (id → (town id, village name)), the
    villages where it delivers coal and where it delivers stoves, and the town names."""

    season_id: int
    supplier_id: int | None
    villages: dict[int, tuple[int, str]]
    coal_villages: frozenset[int]
    stove_villages: frozenset[int]
    towns: dict[int, str]


def reach(session: Session, viewer: User, *, town_id: int | None = None, village_id: int | None = None,
          season_id: int | None = None) -> Reach:
    """The viewer's reach, narrowed to a town or a village; NotFound for one outside it, NotAllowed for a role
    without a delivery list. One statement (the season, the contracts, their towns' villages): the list runs it on
    every page. `season_id`: a past season's list (what was delivered and what was not); the active one when None."""
    if viewer.role not in READERS:
        raise NotAllowed("只有配送企业和街道/镇可以查看配送清单")
    if viewer.role == Role.SUPPLIER:
        statement = (select(Season.id, Village.id, Village.town_id, Village.name, Town.name, Contract.product)
                     .select_from(Season).join(Contract, Contract.season_id == Season.id).join(Town, Town.id == Contract.town_id)
                     .join(Village, Village.town_id == Town.id).where(Contract.supplier_id == viewer.supplier_id))
    else:
        statement = (select(Season.id, Village.id, Village.town_id, Village.name, Town.name, literal(None))
                     .select_from(Season).join(Town, Town.id == viewer.town_id).join(Village, Village.town_id == Town.id))
    which = Season.id == season_id if season_id is not None else Season.is_active.is_(True)
    rows = session.execute(statement.where(which).order_by(Village.id).execution_options(unscoped=True)).all()
    season_id = rows[0][0] if rows else (season_id if season_id is not None else active_season(session).id)
    products: dict[int, set[str]] = defaultdict(set)
    villages, towns = {}, {}
    for _, v, t, name, town_name, product in rows:
        products[t].update([product] if product else [p.value for p in Product])
        towns[t] = town_name
        if (town_id is None or t == town_id) and (village_id is None or v == village_id):
            villages[v] = (t, name)
    if (town_id is not None and town_id not in towns) or (village_id is not None and not villages):
        raise NotFound()
    coal = frozenset(v for v, (t, _) in villages.items() if products[t] & set(COAL_PRODUCTS))
    stove = frozenset(v for v, (t, _) in villages.items() if Product.STOVE in products[t])
    if town_id is not None:
        towns = {town_id: towns[town_id]}
    return Reach(season_id, viewer.supplier_id if viewer.role == Role.SUPPLIER else None, villages, coal, stove,
                 towns)


def _in(column, ids: frozenset[int], everywhere: frozenset[int]):
    """`column IN ids`, said as TRUE or FALSE when that is what it means (most suppliers sell one kind)."""
    if not ids:
        return false()
    return true() if ids == everywhere else column.in_(sorted(ids))


def _conditions(r: Reach, pending: bool) -> list:
    reg = Registration
    everywhere = frozenset(r.villages)
    coal, stove = _in(reg.village_id, r.coal_villages, everywhere), _in(reg.village_id, r.stove_villages, everywhere)
    where = [reg.village_id.in_(sorted(r.villages)), reg.season_id == r.season_id,
             reg.status == RegistrationStatus.APPROVED,
             or_(and_(coal, reg.coal_kg > 0), and_(stove, reg.stoves > 0))]
    if pending:
        # A scalar subquery with LIMIT 1, not EXISTS: inside an OR, PostgreSQL would turn EXISTS into a hashed
        # subplan that reads every undelivered slip of the supplier before the first row (260 ms at 64,000 slips);
        # this one is a probe of ix_slip_registration_id per row that needs it (scripts/bench_deliveries.py).
        undelivered = (select(Slip.id).where(Slip.registration_id == reg.id, Slip.status == SlipStatus.ISSUED,
                                             ~exists().where(Delivery.slip_id == Slip.id)).limit(1))
        if r.supplier_id is not None:
            undelivered = undelivered.where(Slip.supplier_id == r.supplier_id)
        where.append(or_(and_(coal, reg.coal_kg > reg.sold_coal_kg), and_(stove, reg.stoves > reg.sold_stoves),
                         undelivered.scalar_subquery().is_not(None)))
    return where


_ROW_COLUMNS = (Registration.id, Registration.village_id, Registration.coal_kg, Registration.sold_coal_kg,
                Registration.stoves, Registration.sold_stoves, Household.head_name, Household.id_number,
                Household.phone, Household.address)


def _rows_statement(r: Reach, pending: bool):
    """The list's rows, unordered: paging.fetch orders a page by ORDER, iter_rows the whole list."""
    return (select(*_ROW_COLUMNS).join(Household, Household.id == Registration.household_id)
            .where(*_conditions(r, pending)).execution_options(unscoped=True))


@dataclass
class ListedSlip:
    number: str
    issued_on: date
    coal_kg: int
    stoves: int
    delivered_on: date | None
    receiver: str

    @property
    def days(self) -> int:
        """Days from issue to delivery, or to today while it is not delivered."""
        return days_since_issue(self.issued_on, self.delivered_on, clock.today())


@dataclass
class Row:
    """One household of the delivery list, its numbers as the viewer may see them."""

    registration_id: int
    village_id: int
    village: str
    town_id: int
    town: str
    head_name: str
    id_number: str
    phone: str
    address: str
    coal_left_kg: int
    stoves_left: int
    slips: list[ListedSlip] = field(default_factory=list)

    @property
    def undelivered(self) -> int:
        return sum(1 for s in self.slips if s.delivered_on is None)


def _row(r: Reach, viewer: User, values) -> Row:
    rid, village_id, coal_kg, sold_coal, stoves, sold_stoves, name, id_number, phone, address = values
    town_id, village = r.villages[village_id]
    return Row(rid, village_id, village, town_id, r.towns.get(town_id, ""), name,
               show_id(viewer, Record.LISTING, id_number), show_phone(viewer, Record.LISTING, phone), address,
               coal_kg - sold_coal if village_id in r.coal_villages else 0,
               stoves - sold_stoves if village_id in r.stove_villages else 0)


def _attach_slips(session: Session, rows: list[Row]) -> None:
    """Each row's standing slips in the caller's scope (a supplier its own, a town its town's) with their delivery."""
    by_id = {row.registration_id: row for row in rows}
    if not by_id:
        return
    for rid, *values in session.execute(
            select(Slip.registration_id, Slip.number, Slip.issued_on, Slip.coal_kg, Slip.stoves,
                   Delivery.delivered_on, Delivery.receiver)
            .outerjoin(Delivery, Delivery.slip_id == Slip.id)
            .where(Slip.registration_id.in_(list(by_id)), Slip.status == SlipStatus.ISSUED)
            .order_by(Slip.issued_on, Slip.id)):
        by_id[rid].slips.append(ListedSlip(*values[:5], values[5] or ""))


# The list's one order: by village, then registration id (ix_registration_delivery: village, season, status, id).
ORDER = paging.Order.of(None, {"village": Registration.village_id}, "village", Registration.id)


def delivery_list(session: Session, viewer: User, *, town_id: int | None = None, village_id: int | None = None,
                  pending: bool = False, page: int = 1, per_page: int = PER_PAGE, after: str | None = None,
                  before: str | None = None, count: bool | str = True, season_id: int | None = None) -> paging.Page:
    """One page of the viewer's delivery list (see the module docstring), by village, through paging.fetch: `items`
    are Rows, `extra["reach"]` the viewer's Reach; a page by cursor (`after`/`before`) or by number. The count stops
    at COUNT_CAP ("1,000+", `total_capped`), `count="exact"` counts to the end (PostgreSQL: within paging's time
    limit), `count=False` not at all."""
    r = reach(session, viewer, town_id=town_id, village_id=village_id, season_id=season_id)
    per_page = paging.page_size(per_page)
    if not r.villages:
        return paging.Page([], per_page, total=0, extra={"reach": r})
    result = paging.fetch(session, _rows_statement(r, pending), ORDER, per_page=per_page, page=page, after=after,
                          before=before, count=False)
    result.items = [_row(r, viewer, values) for values in result.items]
    _attach_slips(session, result.items)
    result.extra["reach"] = r
    # Counted on the registrations alone (not joined to the households), and only to COUNT_CAP: the not-yet-delivered
    # test costs a probe per row, so paging's own cap of 10,000 would cost ten times this (bench_deliveries.py).
    counted = select(Registration.id).where(*_conditions(r, pending)).execution_options(unscoped=True)
    if count == "exact":
        result.total = paging.exact_count(session, counted)
        result.exact_failed = result.total is None
    if count and result.total is None:
        found = paging.capped_count(session, counted, cap=COUNT_CAP)
        result.total, result.total_capped = min(found, COUNT_CAP), found > COUNT_CAP
    return result


def iter_rows(session: Session, viewer: User, *, town_id: int | None = None, village_id: int | None = None,
              pending: bool = False, chunk: int = 500, season_id: int | None = None) -> Iterator[Row]:
    """The whole list, streamed in chunks with their slips (the route sheet and the spreadsheet)."""
    r = reach(session, viewer, town_id=town_id, village_id=village_id, season_id=season_id)
    if not r.villages:
        return
    batch: list[Row] = []
    for values in session.execute(_rows_statement(r, pending).order_by(*ORDER.clauses())
                                  .execution_options(yield_per=chunk)):
        batch.append(_row(r, viewer, values))
        if len(batch) == chunk:
            _attach_slips(session, batch)
            yield from batch
            batch = []
    _attach_slips(session, batch)
    yield from batch


def export_xlsx(session: Session, viewer: User, *, town_id: int | None = None, village_id: int | None = None,
                pending: bool = False, season_id: int | None = None) -> bytes:
    """The delivery list as a spreadsheet (write-only, streamed): typed text as text cells, quantities as numbers."""
    import io

    from openpyxl import Workbook

    from subsidy.core import sheets

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("配送清单")
    sheets.append(ws, ["街道/镇", "村(社区)", "户主姓名", "身份证号码", "联系电话", "住址", "待售洁净煤(吨)",
                       "待售炉具(台)", "未送达销售单", "销售单号", "开具日期", "送达日期", "签收人"])
    for row in iter_rows(session, viewer, town_id=town_id, village_id=village_id, pending=pending,
                         season_id=season_id):
        slip_cells = [sheets.count(row.undelivered), sheets.text("、".join(s.number for s in row.slips)),
                      sheets.text("、".join(s.issued_on.isoformat() for s in row.slips)),
                      sheets.text("、".join(s.delivered_on.isoformat() if s.delivered_on else "未送达"
                                           for s in row.slips)),
                      sheets.text("、".join(s.receiver for s in row.slips if s.receiver))]
        sheets.append(ws, [sheets.text(row.town), sheets.text(row.village), sheets.text(row.head_name),
                           sheets.text(row.id_number), sheets.text(row.phone), sheets.text(row.address),
                           sheets.tons(row.coal_left_kg), sheets.count(row.stoves_left), *slip_cells])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def supplier_name(session: Session, viewer: User) -> str:
    """The heading of a route sheet: the supplier's name, or the town's."""
    if viewer.supplier_id:
        return session.execute(select(Supplier.name).where(Supplier.id == viewer.supplier_id)
                               .execution_options(unscoped=True)).scalar() or ""
    return session.execute(select(Town.name).where(Town.id == viewer.town_id)
                           .execution_options(unscoped=True)).scalar() or ""


# ---------------------------------------------------------------------------------------------------------------------
# Timeliness (the reports: delivered within 3 / 7 / more days, not delivered)
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class Timeliness:
    supplier_id: int
    supplier: str
    town_id: int
    town: str
    slips: int = 0
    within_3: int = 0    # delivered 0 to 3 days after issue
    within_7: int = 0    # 4 to 7 days
    later: int = 0       # more than 7 days
    not_delivered: int = 0

    def add(self, days: int | None, n: int) -> None:
        self.slips += n
        if days is None:
            self.not_delivered += n
        elif days <= 3:
            self.within_3 += n
        elif days <= 7:
            self.within_7 += n
        else:
            self.later += n


def timeliness(session: Session, *, season_id: int | None = None, month: str | None = None) -> list[Timeliness]:
    """Per supplier and town, the standing slips of the season (or those issued in `month`, "YYYY-MM") by how soon
    they were delivered, in the caller's scope. Grouped by the two days in SQL and bucketed here: a season has a
    few hundred days, so the groups stay few whatever the number of slips, and no date arithmetic differs between
    the databases."""
    season_id = season_id or active_season(session).id
    where = [Slip.season_id == season_id, Slip.status == SlipStatus.ISSUED]
    if month:
        first, last = month_bounds(parse_month(month))
        where += [Slip.issued_on >= first, Slip.issued_on <= last]
    found: dict[tuple[int, int], Timeliness] = {}
    names = dict(session.execute(select(Supplier.id, Supplier.name).execution_options(unscoped=True)).all())
    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())
    for supplier_id, town_id, issued_on, delivered_on, n in session.execute(
            select(Slip.supplier_id, Slip.town_id, Slip.issued_on, Delivery.delivered_on, func.count())
            .outerjoin(Delivery, Delivery.slip_id == Slip.id).where(*where)
            .group_by(Slip.supplier_id, Slip.town_id, Slip.issued_on, Delivery.delivered_on)):
        key = (supplier_id, town_id)
        if key not in found:
            found[key] = Timeliness(supplier_id, names.get(supplier_id, ""), town_id, towns.get(town_id, ""))
        found[key].add(days_since_issue(issued_on, delivered_on, clock.today()) if delivered_on else None, n)
    return sorted(found.values(), key=lambda t: (t.supplier, t.town_id))
