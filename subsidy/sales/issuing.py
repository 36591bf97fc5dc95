"""Selling on a five-copy slip: the counter's lookup by ID number, the preview (`plan`: every check of DESIGN.md
and the prices, nothing written) and the sale itself (`issue`). This is the hot path of the whole system, so the sale
runs hand-written Core statements built once at import.

The lookup says why a household cannot buy (`CannotBuy.reason`, CONTRACT.md), but only for households in the
supplier's towns; the counter's confirmation issues exactly what was previewed or nothing (`preview_token`).

Invariant 6 (a sale has a buyer): every sale names the registration and the ID number read from the buyer's card,
and `plan` checks that it is the registration's household's before any refusal that describes the registration
(`NOT_FOUND` otherwise, the answer for a registration that does not exist or lies outside the supplier's towns).

Invariant 2 (a household never gets more than its approved registration or the season caps) is held by the database:
`registration.sold_*` only move by conditional UPDATEs (`WHERE sold + :q <= limit`) backed by CHECK constraints; a
batch's stock the same way; a household's one stove by the unique `household_stove(household_id, active_key)`; a stove
serial by the unique `slip_line(serial, active_key)` (released when the slip is voided). Slip numbers come from
`slip_counter` incremented by an UPDATE in the issuing transaction, which locks the counter row on PostgreSQL
(SQLite: BEGIN IMMEDIATE), so they are unique and gapless.

Lock order in a sale (the same in every transaction, so no deadlocks): registration → batches → counter → inserts →
audit head (at commit). Everything the sale checks is read before the first lock so that locks are held briefly.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

from sqlalchemy import String, bindparam, cast, exists, func, insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, settings, vault
from subsidy.supply import batches, contracts
from subsidy.policy import seasons
from subsidy.core.db import is_unique_violation, pg_branch
from subsidy.core.errors import NotAllowed, NotFound, Refused, SubsidyError
from subsidy.rules.idnumbers import InvalidIdNumber, validate_id_number
from subsidy.models import (
    PRODUCT_LABELS, Batch, Contract, District, Household, HouseholdStove, Notice, Product,
    Registration, RegistrationStatus, Role, Season, Slip, SlipCounter, SlipLine, SlipStatus, SubsidyRate,
    Supplier, SupplierStatus, Town, User, Village, Zone,
)
from subsidy.rules.money import line_amount_fen, line_subsidy_fen, tons, yuan
from subsidy.rules.numbers import slip_number
from subsidy.rules.text import clean_text


# ---------------------------------------------------------------------------------------------------------------------
# The sale's statements, built once: issuing is the hot path of the whole system (hundreds of sales a second across
# the district at peak), so it runs plain Core statements on the session's connection, with bound parameters and no
# ORM objects. Module-level statements keep their compiled form and cache key between calls. Every read is unscoped on
# purpose: a supplier never browses the registry, and the contract check below is the scope of a sale.
# ---------------------------------------------------------------------------------------------------------------------

_supplier_t, _season_t, _reg_t, _household_t = (Supplier.__table__, Season.__table__, Registration.__table__,
                                                Household.__table__)
_village_t, _town_t, _district_t = Village.__table__, Town.__table__, District.__table__
_contract_t, _rate_t, _batch_t = Contract.__table__, SubsidyRate.__table__, Batch.__table__
_slip_t, _line_t, _counter_t, _stove_t = Slip.__table__, SlipLine.__table__, SlipCounter.__table__, HouseholdStove.__table__

_SUPPLIER_COLUMNS = (_supplier_t.c.id, _supplier_t.c.status, _supplier_t.c.name, _supplier_t.c.credit_code,
                    _supplier_t.c.slip_prefix)
_SUPPLIER = select(*_SUPPLIER_COLUMNS).where(_supplier_t.c.id == bindparam("supplier_id"))

def _joined(*columns):
    """`product=value[=value]` of each row, joined by commas: a small list as one column (see `_parse_terms`)."""
    text = columns[0]
    for column in columns[1:]:
        text = text + literal("=") + cast(column, String)
    return func.aggregate_strings(text, ",")


# The registration with everything a sale checks and copies onto the slip, its season's caps, the clerk's company
# (columns prefixed supplier_), and the sale's terms: the supplier's contract prices in the household's town and the
# season's subsidy tiers for the household's category (`prices`, `tiers`). One row, or none when the registration
# does not exist.
_PRICES = (select(_joined(_contract_t.c.product, _contract_t.c.price_fen))
           .where(_contract_t.c.supplier_id == bindparam("supplier_id"), _contract_t.c.town_id == _village_t.c.town_id,
                  _contract_t.c.season_id == _reg_t.c.season_id).scalar_subquery())
_TIERS = (select(_joined(_rate_t.c.product, _rate_t.c.from_kg, _rate_t.c.rate_fen))
          .where(_rate_t.c.season_id == _reg_t.c.season_id, _rate_t.c.category == _household_t.c.category)
          .scalar_subquery())
_BUYER = (
    select(_reg_t.c.id, _reg_t.c.season_id, _reg_t.c.status, _reg_t.c.coal_kg, _reg_t.c.stoves,
           _reg_t.c.sold_coal_kg, _reg_t.c.sold_stoves, _household_t.c.id.label("household_id"),
           _household_t.c.head_name, _household_t.c.id_number, _household_t.c.phone, _household_t.c.address,
           _household_t.c.category, _village_t.c.id.label("village_id"), _village_t.c.name.label("village_name"),
           _village_t.c.zone, _village_t.c.town_id, _district_t.c.code.label("district_code"),
           _season_t.c.is_active.label("season_active"), _season_t.c.code.label("season_code"),
           _season_t.c.closed_at.label("season_closed_at"),
           _season_t.c.cap_coal_kg, _season_t.c.cap_stoves, _season_t.c.stove_once_ever,
           *(column.label(f"supplier_{column.name}") for column in _SUPPLIER_COLUMNS),
           _PRICES.label("prices"), _TIERS.label("tiers"))
    .select_from(_reg_t)
    .join(_household_t, _household_t.c.id == _reg_t.c.household_id)
    .join(_village_t, _village_t.c.id == _household_t.c.village_id)
    .join(_town_t, _town_t.c.id == _village_t.c.town_id)
    .join(_district_t, _district_t.c.id == _town_t.c.district_id)
    .join(_season_t, _season_t.c.id == _reg_t.c.season_id)
    .join(_supplier_t, _supplier_t.c.id == bindparam("supplier_id"))
    .where(_reg_t.c.id == bindparam("registration_id"))
)

# The sale reads the buyer with its season's row share-locked until commit: closing the season takes the row's
# exclusive lock (policy/seasons.py: lock_open), so a sale racing the close lands before it or is refused.
_BUYER_FOR_SALE = _BUYER.with_for_update(read=True, of=_season_t)

# The same terms for one registration without the rest of the row (the lookup's products and prices).
_TERMS = (
    select(_PRICES.label("prices"), _TIERS.label("tiers"))
    .select_from(_reg_t)
    .join(_household_t, _household_t.c.id == _reg_t.c.household_id)
    .join(_village_t, _village_t.c.id == _household_t.c.village_id)
    .where(_reg_t.c.id == bindparam("registration_id"))
)

_OLDEST_BATCH = batches.with_stock(_batch_t.c.id, _batch_t.c.report_no).limit(1)

_SERIAL_SOLD = select(_line_t.c.id).where(_line_t.c.serial == bindparam("serial"), _line_t.c.active_key == 0).limit(1)

_HAS_STOVE = select(_stove_t.c.id).where(_stove_t.c.household_id == bindparam("household_id"),
                                         _stove_t.c.active_key == 0).limit(1)

# The household's quantities, taken only if they still fit (locks the registration row until commit).
_TAKE_QUANTITIES = (
    update(_reg_t).where(
        _reg_t.c.id == bindparam("registration_id"), _reg_t.c.status == RegistrationStatus.APPROVED,
        _reg_t.c.sold_coal_kg + bindparam("want_coal") <= _reg_t.c.coal_kg,
        _reg_t.c.sold_coal_kg + bindparam("want_coal") <= bindparam("cap_coal"),
        _reg_t.c.sold_stoves + bindparam("want_stoves") <= _reg_t.c.stoves,
        _reg_t.c.sold_stoves + bindparam("want_stoves") <= bindparam("cap_stoves"))
    .values(sold_coal_kg=_reg_t.c.sold_coal_kg + bindparam("want_coal"),
            sold_stoves=_reg_t.c.sold_stoves + bindparam("want_stoves"))
    .returning(_reg_t.c.sold_coal_kg))

_NEXT_SEQ = (update(_counter_t).where(_counter_t.c.supplier_id == bindparam("of_supplier"),
                                      _counter_t.c.season_id == bindparam("of_season"))
             .values(last_seq=_counter_t.c.last_seq + 1).returning(_counter_t.c.last_seq))

# PostgreSQL only, where one supplier's sales queue on its batch row and its number counter until commit: the common
# sale (one coal line from the default batch) takes the household's quantities, its stock and its number in ONE
# statement, and writes its slip and lines in one more (data-modifying CTEs), so the queue moves on fewer round trips.
# Each step runs only if the one before it took something (it reads its RETURNING), which also keeps the lock order
# registration → batch → counter. The other cases, and SQLite (one writer at a time anyway), run the plain statements.
_TAKEN = _TAKE_QUANTITIES.cte("taken")
_TOOK = batches.TAKE_OLDEST.where(exists(select(_TAKEN.c.sold_coal_kg))).cte("took")
_NUMBERED = (update(_counter_t)
             .where(_counter_t.c.supplier_id == bindparam("of_supplier"),
                    _counter_t.c.season_id == bindparam("of_season"), exists(select(_TOOK.c.id)))
             .values(last_seq=_counter_t.c.last_seq + 1).returning(_counter_t.c.last_seq).cte("numbered"))
_TAKE_ALL_PG = select(select(_TAKEN.c.sold_coal_kg).scalar_subquery().label("sold_coal_kg"),
                      select(_TOOK.c.id).scalar_subquery().label("batch_id"),
                      select(_NUMBERED.c.last_seq).scalar_subquery().label("seq")).add_cte(_TAKEN, _TOOK, _NUMBERED)
# Keys (id_number is stored as id_number_sealed); change_seq is the trigger's (subsidy/reports/platform.py).
_SLIP_COLUMNS = tuple(c.key for c in _slip_t.c if c.key not in ("id", "change_seq"))
_LINE_COLUMNS = tuple(c.name for c in _line_t.c if c.name not in ("id", "slip_id"))
_WRITE_PG: dict[int, object] = {}


def _write_slip_pg(lines: int):
    """INSERT the slip and its `lines` lines in one statement (PostgreSQL), returning the slip's id."""
    if lines not in _WRITE_PG:
        new_slip = (insert(_slip_t).values({name: bindparam(f"s_{name}") for name in _SLIP_COLUMNS})
                    .returning(_slip_t.c.id).cte("new_slip"))
        rows = [select(new_slip.c.id, *(bindparam(f"l{i}_{name}", type_=_line_t.c[name].type)
                                         for name in _LINE_COLUMNS)) for i in range(lines)]
        _WRITE_PG[lines] = (insert(_line_t).from_select(("slip_id", *_LINE_COLUMNS),
                                                        rows[0] if lines == 1 else union_all(*rows))
                            .returning(_line_t.c.slip_id).add_cte(new_slip))
    return _WRITE_PG[lines]


_INSERT_SLIP = insert(_slip_t).returning(_slip_t.c.id)
_INSERT_LINES = insert(_line_t)
_INSERT_STOVE = insert(_stove_t)


def _one(session: Session, statement, **params):
    return session.connection().execute(statement, params).first()


def _parse_terms(prices: str | None, tiers: str | None
                 ) -> tuple[dict[str, int], dict[str, list[tuple[int, int]]]]:
    """(product → contract price, product → [(from_kg, rate_fen), ...] by from_kg) from the buyer row's columns."""
    price_of = {}
    for item in (prices or "").split(","):
        if item:
            product, fen = item.split("=")
            price_of[product] = int(fen)
    tiers_of: dict[str, list[tuple[int, int]]] = {}
    for item in (tiers or "").split(","):
        if item:
            product, from_kg, fen = item.split("=")
            tiers_of.setdefault(product, []).append((int(from_kg), int(fen)))
    for steps in tiers_of.values():
        steps.sort()
    return price_of, tiers_of


@dataclass(frozen=True)
class Terms:
    """What a supplier may sell a registration's household, and at what subsidy: its contract prices in the
    household's town (product → fen per ton or per set) and the season's tiers for the household's category
    (product → [(from_kg, rate_fen), ...] by from_kg). Empty when the supplier has no contract there."""
    prices: dict[str, int]
    tiers: dict[str, list[tuple[int, int]]]


def terms(session: Session, *, supplier_id: int, registration_id: int) -> Terms:
    """The sale's terms for this supplier and registration, read by the statements the sale reads them with."""
    row = _one(session, _TERMS, supplier_id=supplier_id, registration_id=registration_id)
    return Terms(*_parse_terms(row.prices, row.tiers)) if row is not None else Terms({}, {})


# The one answer for a registration the clerk may not sell to: none with that id, outside the supplier's towns, or
# not the household of the ID number on the card. The same words for all three, so that none can be told apart.
NOT_FOUND = "未找到该购买登记，或该户不在本企业的配送范围内"


def _card_id_number(id_number: str | None) -> str:
    """The ID number the clerk read from the buyer's card, normalised; refused by name (`id_number`) when missing or
    malformed. Checked before the registration is read, so the refusal says nothing about any registration."""
    try:
        return validate_id_number(id_number or "")
    except InvalidIdNumber as error:
        raise Refused(str(error), field="id_number") from None


def _is_the_buyer(buyer, id_number: str) -> bool:
    """The registration's household holds the ID number read from the card (DESIGN.md, invariant 6)."""
    return buyer is not None and hmac.compare_digest(buyer.id_number.encode(), id_number.encode())


# ---------------------------------------------------------------------------------------------------------------------
# Lookup by ID number (the one way a supplier reaches the registry)
# ---------------------------------------------------------------------------------------------------------------------

# Why a household cannot buy, as POST /registrations/lookup answers it (CONTRACT.md: 404 with `reason`). `not_found`
# is the only answer for a household outside the supplier's towns (or nobody's number): a supplier learns nothing
# about households it does not serve. The others are for households in its towns, each saying what to do.
NOT_FOUND, NOT_REGISTERED, IN_NOTICE, NOT_APPROVED, REJECTED, BOUGHT_ALL = (
    "not_found", "not_registered", "in_notice", "not_approved", "rejected", "bought_all")


class CannotBuy(NotFound):
    """The lookup's answer when the household cannot buy from this supplier now: `reason` (one of the codes above)
    and, in the notice period, `notice_ends_on`. A NotFound, so the API answers 404 (with `details`)."""

    def __init__(self, reason: str, message: str, notice_ends_on: date | None = None):
        super().__init__(message)
        self.reason = reason
        self.notice_ends_on = notice_ends_on

    @property
    def details(self) -> dict:
        answer = {"reason": self.reason}
        if self.notice_ends_on is not None:
            answer["notice_ends_on"] = self.notice_ends_on.isoformat()
        return answer


def _month_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


@dataclass
class Found:
    registration: Registration
    household: Household
    village: Village
    town: Town
    season_id: int
    cap_coal_kg: int
    cap_stoves: int
    prices: dict[str, int]  # product → contract price of this supplier in the household's town

    @property
    def coal_left_kg(self) -> int:
        r = self.registration
        return max(0, min(r.coal_kg, self.cap_coal_kg) - r.sold_coal_kg)

    @property
    def stoves_left(self) -> int:
        r = self.registration
        return max(0, min(r.stoves, self.cap_stoves) - r.sold_stoves)

    @property
    def sells_coal(self) -> bool:
        return any(Product(p).is_coal for p in self.prices)

    @property
    def sells_stoves(self) -> bool:
        return Product.STOVE in self.prices

    @property
    def left_to_sell(self) -> bool:
        """Whether anything this supplier sells is left of the registration."""
        return (self.sells_coal and self.coal_left_kg > 0) or (self.sells_stoves and self.stoves_left > 0)


class _Supplier:
    """The clerk's company as a sale needs it, from the supplier_* columns of the buyer row."""
    __slots__ = tuple(column.name for column in _SUPPLIER_COLUMNS)

    def __init__(self, row) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(row, f"supplier_{name}"))


def _supplier_of(session: Session, user: User):
    """The clerk's company (id, status, name, credit_code, slip_prefix)."""
    if user.role != Role.SUPPLIER or user.supplier_id is None:
        raise NotAllowed("只有配送企业可以开具销售单")
    return _one(session, _SUPPLIER, supplier_id=user.supplier_id)


# The household holding an ID number, its village and town, whether this supplier has a contract in that town this
# season (`served`), and its registration of the season with its notice's end, if any. Unscoped on purpose: `served`
# is the scope of the lookup.
_SERVED = exists(select(_contract_t.c.id).where(_contract_t.c.supplier_id == bindparam("supplier_id"),
                                                _contract_t.c.season_id == bindparam("season_id"),
                                                _contract_t.c.town_id == _village_t.c.town_id))
_HOLDER = (
    select(Household, Village, Town, Registration, Notice.ends_on.label("notice_ends_on"), _SERVED.label("served"))
    .join(Village, Village.id == Household.village_id).join(Town, Town.id == Village.town_id)
    .outerjoin(Registration, (Registration.household_id == Household.id)
               & (Registration.season_id == bindparam("season_id")))
    .outerjoin(Notice, Notice.id == Registration.notice_id)
    .where(Household.id_number_hmac == bindparam("id_number_hmac"))
    .execution_options(unscoped=True, populate_existing=True)
)


def lookup(session: Session, *, user: User, id_number: str) -> Found:
    """The approved registration, in the active season, of the household with that ID number, with something left
    of what this supplier sells, if it lives in a town where this supplier has a contract. Otherwise `CannotBuy`
    with the reason: only `not_found` for a household outside the supplier's towns (a supplier learns nothing about
    other households); for one in its towns, why it cannot buy and what to do. The page and the API both answer
    this (one rule)."""
    supplier = _supplier_of(session, user)
    id_number = _card_id_number(id_number)
    season = seasons.active_season(session)
    if season.closed_at is not None:  # said at once: the counter does not ask for the lines of a sale refused
        raise seasons.SeasonClosed("id_number")
    row = session.execute(_HOLDER, {"id_number_hmac": vault.blind("id_number", id_number), "season_id": season.id,
                                    "supplier_id": supplier.id}).first()
    if row is None or not row.served:
        raise CannotBuy(NOT_FOUND, "在本企业配送的街道/镇内没有找到该身份证号的住户，请核对号码")
    r = row.Registration
    if r is None:
        raise CannotBuy(NOT_REGISTERED, "该户本采暖季尚未登记购买：请户主到所在村（社区）登记，"
                                        "经公示和街道审核通过后即可购买")
    if r.status == RegistrationStatus.REJECTED:
        why = f"（原因：{r.reject_reason}）" if r.reject_reason else ""
        raise CannotBuy(REJECTED, f"该户本采暖季的购买登记未通过街道审核{why}，不能购买；如有异议请联系所在街道/镇")
    if r.status == RegistrationStatus.NOTICED and row.notice_ends_on is not None \
            and clock.today() < row.notice_ends_on:
        raise CannotBuy(IN_NOTICE, f"该户的购买登记正在公示，公示期至 {_month_day(row.notice_ends_on)}，"
                                   "期满经街道审核后可购买", notice_ends_on=row.notice_ends_on)
    if r.status == RegistrationStatus.NOTICED:
        raise CannotBuy(NOT_APPROVED, "该户的公示期已满，正等待街道审核：审核通过后即可购买，可联系所在街道/镇询问进度")
    if r.status != RegistrationStatus.APPROVED:
        raise CannotBuy(NOT_APPROVED, "该户已登记购买，尚未公示和审核：请户主联系所在村（社区），"
                                      "公示期满经街道审核通过后即可购买")
    prices = terms(session, supplier_id=supplier.id, registration_id=r.id).prices
    if not prices:  # cannot happen for a served town (a contract has a product); the plain answer all the same
        raise CannotBuy(NOT_FOUND, "在本企业配送的街道/镇内没有找到该身份证号的住户，请核对号码")
    found = Found(r, row.Household, row.Village, row.Town, season.id, season.cap_coal_kg, season.cap_stoves, prices)
    if not found.left_to_sell:
        bought = "；".join(part for part in (
            f"洁净煤登记 {tons(r.coal_kg)} 吨、已购 {tons(r.sold_coal_kg)} 吨" if found.sells_coal else "",
            f"炉具登记 {r.stoves} 台、已购 {r.sold_stoves} 台" if found.sells_stoves else "") if part)
        done = "已全部购买" if (r.sold_coal_kg if found.sells_coal else 0) + (r.sold_stoves if found.sells_stoves else 0) \
            else "中没有本企业配送的产品"
        raise CannotBuy(BOUGHT_ALL, f"该户本采暖季登记的数量{done}（{bought}），不能再开具销售单")
    return found


# ---------------------------------------------------------------------------------------------------------------------
# Issuing
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class LineIn:
    product: str
    quantity: int
    batch_id: int | None = None
    serial: str | None = None
    unit_price_fen: int | None = None  # optional: when the clerk's system sends a price it must be the contract's


@dataclass
class PlannedLine:
    line_no: int
    product: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    subsidy_fen: int
    batch_id: int | None = None
    serial: str | None = None
    default_batch: bool = False  # the clerk left the batch to us: another passed batch may stand in for it
    batch_report_no: str = ""  # the preview shows the batch by its test report


@dataclass
class Plan:
    """A sale checked and priced. `buyer` is one row: the registration, its household, village, district code and
    season caps (see `_BUYER`); `supplier` the clerk's company (see `_SUPPLIER`)."""
    buyer: object
    supplier: object
    tiers: dict[str, list[tuple[int, int]]]
    lines: list[PlannedLine] = field(default_factory=list)
    clerk_id: int = 0

    @property
    def token(self) -> str:
        """What the counter's confirmation must carry back (`preview_token`)."""
        return preview_token(self)

    @property
    def coal_kg(self) -> int:
        return sum(ln.quantity for ln in self.lines if ln.product != Product.STOVE)

    @property
    def stoves(self) -> int:
        return sum(ln.quantity for ln in self.lines if ln.product == Product.STOVE)

    @property
    def amount_fen(self) -> int:
        return sum(ln.amount_fen for ln in self.lines)

    @property
    def subsidy_fen(self) -> int:
        return sum(ln.subsidy_fen for ln in self.lines)

    @property
    def household_pays_fen(self) -> int:
        return self.amount_fen - self.subsidy_fen

    def price_tiers(self, sold_before_kg: int) -> None:
        """Subsidy of each coal line on the household's cumulative kg, starting from `sold_before_kg`."""
        coal_before = sold_before_kg
        for ln in self.lines:
            if ln.product != Product.STOVE:
                ln.subsidy_fen = line_subsidy_fen(ln.amount_fen, ln.quantity, self.tiers[ln.product], per_ton=True,
                                                  already_kg=coal_before)
                coal_before += ln.quantity


# ---------------------------------------------------------------------------------------------------------------------
# The preview bound to its confirmation (the counter). A clerk confirms what was previewed, nothing else: the preview
# gives a token, an HMAC over the clerk, the registration and its sold quantities as previewed, each line as asked
# for and the totals; the confirmation carries it back and `issue` refuses a sale whose own plan does not give the
# same token (another buyer, other lines, a total or a registration that changed in between, a second confirmation of
# one preview). The API sends no token: its caller states the whole sale in one request.
# ---------------------------------------------------------------------------------------------------------------------

STALE_PREVIEW = "preview_token"


def preview_token(p: Plan) -> str:
    """The token of a plan (see above): the same for the same clerk, buyer state, lines and totals."""
    b = p.buyer
    parts = [str(p.clerk_id), str(b.id), str(b.sold_coal_kg), str(b.sold_stoves)]
    for ln in p.lines:
        parts.append(f"{ln.product}:{ln.quantity}:{'' if ln.default_batch else ln.batch_id}:{ln.serial or ''}")
    parts += [str(p.amount_fen), str(p.subsidy_fen)]
    key = b"subsidy.sales.preview\x1f" + settings.get_settings().secret_key.encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def _check_preview(p: Plan, token: str) -> None:
    if not hmac.compare_digest(preview_token(p), token or ""):
        raise _refuse("确认的内容与预览不一致（购买人、销售内容或金额已变化，或该预览已开具过），没有开具。"
                      "请核对后重新预览", STALE_PREVIEW)


def _refuse(message: str, field_name: str) -> Refused:
    return Refused(message, field=field_name)


def _line_field(i: int, name: str) -> str:
    return f"lines[{i}].{name}"


def plan(session: Session, *, clerk: User, registration_id: int, id_number: str, lines: list[LineIn],
         preview: bool = True) -> Plan:
    """Check a sale against every rule and price it, without changing anything (the preview). `issue` runs it again
    inside its transaction (`preview=False`: the default batch is then taken atomically, by `batches.take_stock_id`
    or, on PostgreSQL, by `batches.TAKE_OLDEST` inside the sale's one statement)
    and takes the quantities by conditional updates.

    A sale has a buyer (DESIGN.md, invariant 6): `id_number` is the buyer's, as read from the ID card, and must be the
    registration's household's. A missing or malformed one is refused by name before anything is read; one that is
    not the household's is `NotFound`, the same answer as a registration that does not exist or lies outside the
    supplier's towns. So every refusal that says something about a registration (its state, its quantities, its
    village) is given only to a caller who proved the buyer's ID number."""
    if clerk.role != Role.SUPPLIER or clerk.supplier_id is None:
        raise NotAllowed("只有配送企业可以开具销售单")
    id_number = _card_id_number(id_number)
    buyer = _one(session, _BUYER if preview else _BUYER_FOR_SALE, registration_id=registration_id,
                 supplier_id=clerk.supplier_id)
    supplier = _Supplier(buyer) if buyer is not None else _supplier_of(session, clerk)
    if supplier.status != SupplierStatus.ACTIVE:
        raise _refuse("本企业配送资格已暂停，不能开具销售单", "supplier")
    if not _is_the_buyer(buyer, id_number):
        raise NotFound(NOT_FOUND)
    if buyer.season_closed_at is not None:
        raise seasons.SeasonClosed("registration_id")
    if not buyer.season_active:
        _refuse_other_season(session, supplier, buyer)
    # All of this supplier's prices in the household's town and the tiers, read with the buyer.
    prices, tiers = _parse_terms(buyer.prices, buyer.tiers) if buyer is not None else ({}, {})
    # A registration outside the supplier's towns is "not found", as in the lookup.
    if not prices:
        raise NotFound(NOT_FOUND)
    if buyer.status != RegistrationStatus.APPROVED:
        raise _refuse("该户的购买登记尚未审核通过，不能销售", "registration_id")
    if buyer.zone == Zone.BAN:
        raise _refuse(f"{buyer.village_name}属于禁煤区，不能销售燃煤及炉具补贴产品", "registration_id")
    if not lines:
        raise _refuse("请至少填写一行销售内容", "lines")
    result = Plan(buyer, supplier, tiers, clerk_id=clerk.id)
    serials: set[str] = set()
    for i, line in enumerate(lines):
        try:
            product = Product(line.product)
        except ValueError:
            raise _refuse("产品应为洁净型煤、兰炭、优质无烟煤或炉具之一", _line_field(i, "product")) from None
        label = PRODUCT_LABELS[product]
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise _refuse("数量应为正整数（燃煤按千克，炉具按台）", _line_field(i, "quantity"))
        if buyer.zone == Zone.CLEAN_ONLY and product.is_coal and product != Product.BRIQUETTE:
            raise _refuse(f"{buyer.village_name}属于洁净型煤限定区域，只能销售洁净型煤，不能销售{label}",
                          _line_field(i, "product"))
        price = prices.get(product)
        if price is None:
            raise _refuse(f"本企业与该街道/镇在本采暖季没有{label}的配送合同", _line_field(i, "product"))
        if line.unit_price_fen is not None and line.unit_price_fen != price:
            raise _refuse(f"单价应为合同配送价格 {yuan(price)} 元{'/吨' if product.is_coal else '/台'}",
                          _line_field(i, "unit_price_fen"))
        tiers = result.tiers.get(product)
        if not tiers:
            raise _refuse(f"本采暖季未设置{label}对该类住户的补贴标准，请联系区发改局", _line_field(i, "product"))
        batch_id, report_no = None, ""
        serial = None
        if product.is_coal:
            if line.serial:
                raise _refuse("燃煤不填写炉具编号", _line_field(i, "serial"))
            if line.batch_id is not None or preview:
                batch_id, report_no = _check_batch(session, supplier, buyer.season_id, product, line.quantity,
                                                   line.batch_id, i)
        else:
            if line.quantity != 1:
                raise _refuse("炉具每行数量为1台，并填写该台炉具的编号", _line_field(i, "quantity"))
            try:
                serial = clean_text(line.serial, "serial", 64, label="炉具编号", required=True).upper()
            except SubsidyError as refusal:
                raise _refuse(refusal.message, _line_field(i, "serial")) from None
            if serial in serials or _one(session, _SERIAL_SOLD, serial=serial):
                raise _refuse(f"炉具编号 {serial} 已经售出过，每台炉具只能销售一次", _line_field(i, "serial"))
            serials.add(serial)
        amount = line_amount_fen(line.quantity, price, per_ton=product.is_coal)
        # Coal lines are priced on the household's cumulative kilograms below (`price_tiers`).
        subsidy = line_subsidy_fen(amount, line.quantity, tiers, per_ton=False) if not product.is_coal else 0
        result.lines.append(PlannedLine(i + 1, product, line.quantity, price, amount, subsidy, batch_id, serial,
                                        default_batch=line.batch_id is None, batch_report_no=report_no))
    result.price_tiers(buyer.sold_coal_kg)
    _check_quantities(session, result)
    return result


def _refuse_other_season(session: Session, supplier, buyer) -> None:
    """A registration of another season: "not found" unless the household's town is in this supplier's contracts of
    the active season (the scope of a sale), then refused with the reason."""
    season = seasons.active_season(session)  # refuses when no season is active
    if buyer.town_id not in contracts.towns_served(session, supplier.id, season.id):
        raise NotFound(NOT_FOUND)
    raise _refuse("该购买登记不属于当前采暖季", "registration_id")


def _no_stock(product: str, kg: int, i: int) -> Refused:
    return _refuse(f"没有检验合格且库存足够（{tons(kg)} 吨）的{PRODUCT_LABELS[product]}进货批次", _line_field(i, "batch_id"))


def _default_batch(session: Session, supplier_id: int, season_id: int, product: str, kg: int):
    """The oldest passed batch of this supplier, season and product with `kg` in stock (id, report_no), the
    preview's default; the sale itself takes stock with `batches.take_stock_id` (or `TAKE_OLDEST` on PostgreSQL),
    which picks the same batch or the next one if it ran out in between."""
    return _one(session, _OLDEST_BATCH, want_supplier_id=supplier_id, want_season_id=season_id,
                want_product=str(product), want_kg=kg)


def _check_batch(session: Session, supplier, season_id: int, product: Product, kg: int, batch_id: int | None,
                 i: int) -> tuple[int, str]:
    if batch_id is None:
        batch = _default_batch(session, supplier.id, season_id, product, kg)
        if batch is None:
            raise _no_stock(product, kg, i)
        return batch.id, batch.report_no
    batch = session.execute(select(Batch).where(Batch.id == batch_id)
                            .execution_options(unscoped=True, populate_existing=True)).scalar()
    reason = batches.refusal(batch, supplier_id=supplier.id, product=product, season_id=season_id, kg=kg)
    if reason:
        raise _refuse(reason, _line_field(i, "batch_id"))
    return batch.id, batch.report_no


def _check_quantities(session: Session, p: Plan) -> None:
    b = p.buyer
    coal, stoves = p.coal_kg, p.stoves
    if coal and b.sold_coal_kg + coal > b.coal_kg:
        raise _refuse(f"超出登记数量：该户登记洁净煤 {tons(b.coal_kg)} 吨，已购 {tons(b.sold_coal_kg)} 吨，"
                      f"本次最多 {tons(max(0, b.coal_kg - b.sold_coal_kg))} 吨", "quantity")
    if coal and b.sold_coal_kg + coal > b.cap_coal_kg:
        raise _refuse(f"超出本采暖季每户 {tons(b.cap_coal_kg)} 吨的补贴上限，该户已购 {tons(b.sold_coal_kg)} 吨",
                      "quantity")
    if stoves and b.sold_stoves + stoves > b.stoves:
        raise _refuse(f"超出登记数量：该户登记炉具 {b.stoves} 台，已购 {b.sold_stoves} 台", "quantity")
    if stoves and b.sold_stoves + stoves > b.cap_stoves:
        raise _refuse(f"每户每个采暖季最多补贴 {b.cap_stoves} 台炉具，该户已购 {b.sold_stoves} 台", "quantity")
    if stoves and b.stove_once_ever and _one(session, _HAS_STOVE, household_id=b.household_id):
        raise _refuse("该户已享受过节能炉具补贴，每户只能补贴一台", "quantity")


def _next_seq(session: Session, supplier_id: int, season_id: int) -> int:
    """last_seq + 1 by an UPDATE in this transaction: the row stays locked (PostgreSQL) until commit, so numbers are
    unique and gapless (a rolled-back sale gives its number back)."""
    params = {"of_supplier": supplier_id, "of_season": season_id}
    row = session.connection().execute(_NEXT_SEQ, params).first()
    if row is not None:
        return row[0]
    try:
        with session.begin_nested():
            session.connection().execute(insert(_counter_t), {"supplier_id": supplier_id, "season_id": season_id,
                                                              "last_seq": 1})
        return 1
    except IntegrityError as error:  # another clerk created the counter first: take the next number after theirs
        if not is_unique_violation(error):
            raise
        return session.connection().execute(_NEXT_SEQ, params).scalar_one()


def issue(session: Session, *, clerk: User, registration_id: int, id_number: str, lines: list[LineIn],
          preview_token: str | None = None) -> "Issued":
    """Issue a slip (call inside one transaction: `run_in_transaction`). Every check of DESIGN.md, each refused with
    a reason; the quantities are taken by conditional updates so concurrent sales never oversell.

    `preview_token` (the counter): the token of the preview being confirmed; the sale is refused (field
    `preview_token`) unless its own plan gives the same one. None (the API) skips that check.

    The hot rows come last and in the same order in every sale (registration → batch → counter → inserts → audit head
    at commit), so that the locks every sale of a supplier queues on (its batch and its counter) are held for as few
    statements as possible, and no two sales deadlock."""
    p = plan(session, clerk=clerk, registration_id=registration_id, id_number=id_number, lines=lines, preview=False)
    if preview_token is not None:
        _check_preview(p, preview_token)
    b, supplier = p.buyer, p.supplier
    coal, stoves = p.coal_kg, p.stoves
    conn = session.connection()
    pg = pg_branch(conn)
    coal_lines = [ln for ln in p.lines if ln.product != Product.STOVE]
    wanted = {"registration_id": b.id, "want_coal": coal, "want_stoves": stoves, "cap_coal": b.cap_coal_kg,
              "cap_stoves": b.cap_stoves}
    seq = None
    # DIALECT FORK (bench: scripts/bench_slips.py): quantities, stock and number in one round trip under the queue
    if pg and len(coal_lines) == 1 and coal_lines[0].default_batch:
        # 1, 2 and 3 below in one statement.
        ln = coal_lines[0]
        took = conn.execute(_TAKE_ALL_PG, {
            **wanted, "want_supplier_id": supplier.id, "want_product": str(ln.product), "want_season_id": b.season_id,
            "want_kg": ln.quantity, "of_supplier": supplier.id, "of_season": b.season_id}).one()
        taken = took.sold_coal_kg
        if took.batch_id is not None:  # stock taken; the number too unless this is the season's first slip
            ln.batch_id, seq = took.batch_id, took.seq
            coal_lines = []
    else:
        # 1. The household's quantities (locks the registration row: concurrent sales to one household queue here).
        taken = conn.execute(_TAKE_QUANTITIES, wanted).scalar_one_or_none()
    if taken is None:
        raise _refuse("该户剩余可购数量不足（可能刚被同时开具的其他销售单占用），请重新查询后再开", "quantity")
    if taken - coal != b.sold_coal_kg:  # another sale got in between the check and the lock: price the tiers again
        if preview_token is not None:  # ... and what was previewed no longer stands
            raise _refuse("该户刚有其他销售单开具，预览已过期，没有开具。请重新预览", STALE_PREVIEW)
        p.price_tiers(taken - coal)
    # 2. Stock, per coal line (unless taken above), and 3. the number.
    for ln in coal_lines:
        try:
            ln.batch_id = batches.take_stock_id(session, supplier_id=supplier.id, product=ln.product, kg=ln.quantity,
                                                batch_id=None if ln.default_batch else ln.batch_id,
                                                season_id=b.season_id)
        except Refused as refusal:
            if ln.default_batch:  # the same words as the preview's
                raise _no_stock(ln.product, ln.quantity, ln.line_no - 1) from None
            raise _refuse(refusal.message, _line_field(ln.line_no - 1, "batch_id")) from None
    if seq is None:
        seq = _next_seq(session, supplier.id, b.season_id)
    # The slip, with the household as it is today.
    values = {
        "number": slip_number(b.district_code + b.season_code + supplier.slip_prefix, seq), "seq": seq,
        "supplier_id": supplier.id, "season_id": b.season_id, "registration_id": b.id,
        "household_id": b.household_id, "town_id": b.town_id, "village_id": b.village_id,
        "status": SlipStatus.ISSUED, "issued_on": clock.today(), "issued_at": clock.now(), "issued_by": clerk.id,
        "head_name": b.head_name, "id_number": b.id_number, "phone": b.phone, "address": b.address,
        **vault.lookups(id_number=b.id_number, phone=b.phone),
        "category": b.category, "coal_kg": coal, "stoves": stoves, "amount_fen": p.amount_fen,
        "subsidy_fen": p.subsidy_fen, "void_reason": "", "voided_at": None, "voided_by": None, "summary_id": None,
        "set_aside_reason": "", "set_aside_at": None}
    line_rows = [{"line_no": ln.line_no, "product": str(ln.product), "quantity": ln.quantity, "batch_id": ln.batch_id,
                  "serial": ln.serial, "active_key": 0, "unit_price_fen": ln.unit_price_fen,
                  "amount_fen": ln.amount_fen, "subsidy_fen": ln.subsidy_fen} for ln in p.lines]
    # DIALECT FORK (bench: scripts/bench_slips.py): the slip and its lines in one round trip under the queue
    if pg and not stoves:
        params = {f"s_{k}": v for k, v in values.items()}
        for i, row in enumerate(line_rows):
            params.update({f"l{i}_{k}": v for k, v in row.items()})
        values["id"] = conn.execute(_write_slip_pg(len(line_rows)), params).scalars().first()
    else:
        values["id"] = conn.execute(_INSERT_SLIP, values).scalar_one()
        _insert_lines(session, conn, b, values["id"], line_rows, stoves)
    for row in line_rows:
        row["slip_id"] = values["id"]
    audit.record(session, clerk, "slip.issue", "slip", entity_id=values["id"], after=audit.masked(values))
    return Issued(values, line_rows, supplier)


def _insert_lines(session: Session, conn, b, slip_id: int, line_rows: list[dict], stoves: int) -> None:
    rows = [{**row, "slip_id": slip_id} for row in line_rows]
    if not stoves:
        conn.execute(_INSERT_LINES, rows)
        return
    try:  # the unique serial and the household's one stove decide races: refuse instead of a bare 409
        with session.begin_nested():
            conn.execute(_INSERT_LINES, rows)
            if b.stove_once_ever:
                conn.execute(_INSERT_STOVE, {"household_id": b.household_id, "slip_id": slip_id, "active_key": 0})
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        raise _refuse("该户已享受过节能炉具补贴，或该炉具编号已售出（可能刚被同时开具）", "serial") from None


@dataclass
class Issued:
    """What a sale wrote: the slip's and its lines' column values (no further queries on the hot path)."""
    values: dict
    lines: list[dict]
    supplier: object

    @property
    def number(self) -> str:
        return self.values["number"]

    @property
    def slip(self) -> SimpleNamespace:
        """The slip as written, without reading it back, as attributes: no ORM object is built for an answer that
        only reads them (building a Slip cost a tenth of the sale's CPU, bench_slips)."""
        slip = SimpleNamespace(**self.values)
        slip.household_pays_fen = Slip.household_pays_fen.fget(slip)
        return slip

    @property
    def slip_lines(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(**line) for line in self.lines]


def issue_slip(session: Session, *, clerk: User, registration_id: int, id_number: str, lines: list[LineIn],
               preview_token: str | None = None) -> Slip:
    """Issue a slip; see `issue`. Returns the stored slip (one more query: for pages and tests, not the API)."""
    issued = issue(session, clerk=clerk, registration_id=registration_id, id_number=id_number, lines=lines,
                   preview_token=preview_token)
    return session.execute(select(Slip).where(Slip.id == issued.values["id"])
                           .execution_options(unscoped=True)).scalar_one()


