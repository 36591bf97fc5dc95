"""Delivery contracts (配送合同): supplier × town × season × product at an agreed price, with the scanned contract
and quality guarantee attached; and the coverage table (who serves which town with what, at which price).

No contract, no sale: the sale reads a supplier's prices in a town with its own statement (`subsidy.sales.issuing`,
the buyer row's `prices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.supply import attachments
from subsidy.core import audit, paging
from subsidy.core.errors import Conflict, Refused
from subsidy.models import PRODUCT_LABELS, Attachment, Contract, Product, Season, Supplier, Town
from subsidy.rules.measures import parse_yuan
from subsidy.rules.money import yuan
from subsidy.core.scope import get_or_404

PER_PAGE = 50

# A plausible delivery price (fen) per product: coal per ton, a stove per set. Wide enough for any district's tender
# (clean coal sells for a few hundred to about two thousand yuan a ton, a stove for about a thousand yuan), narrow
# enough that a slip of the keyboard (20,000,000 yuan/t was once accepted) or a price typed per kg is refused.
COAL_PRICE_FEN = (100_00, 5_000_00)
STOVE_PRICE_FEN = (100_00, 20_000_00)
PRICE_RANGE_FEN: dict[Product, tuple[int, int]] = {
    product: COAL_PRICE_FEN if product.is_coal else STOVE_PRICE_FEN for product in Product}


def price_refusal(product: Product, price_fen: int) -> str | None:
    """Why a delivery price is not plausible for the product (naming the range), or None."""
    low, high = PRICE_RANGE_FEN[product]
    if low <= price_fen <= high:
        return None
    unit = "元/吨" if product.is_coal else "元/台"
    return f"{PRODUCT_LABELS[product]}的配送价格应在 {yuan(low)} 至 {yuan(high)} {unit}之间"


@dataclass
class ContractInput:
    supplier_id: int | None = None
    town_id: int | None = None
    season_id: int | None = None
    product: str = ""
    price: str = ""  # yuan per ton (coal) or per set (stove), as typed
    signed_on: date | None = None
    guarantee_received: bool = False


def create(session: Session, actor, data: ContractInput) -> Contract:
    errors: dict[str, str] = {}
    supplier = session.get(Supplier, data.supplier_id) if data.supplier_id else None
    if supplier is None:
        errors["supplier_id"] = "请选择配送企业"
    town = session.get(Town, data.town_id) if data.town_id else None
    if town is None:
        errors["town_id"] = "请选择街道/镇"
    season = session.get(Season, data.season_id) if data.season_id else None
    if season is None:
        errors["season_id"] = "请选择采暖季"
    try:
        product = Product(data.product)
    except ValueError:
        product = None
        errors["product"] = "请选择产品"
    price_fen = 0
    try:
        price_fen = parse_yuan(data.price or "")
        if price_fen <= 0:
            errors["price"] = "配送价格必须大于0"
    except ValueError as error:
        errors["price"] = str(error)
    if product is not None and "price" not in errors and (reason := price_refusal(product, price_fen)):
        errors["price"] = reason
    if supplier is not None and product is not None and supplier.products and \
            str(product) not in supplier.products.split(","):
        errors["product"] = "该企业未中标此产品"
    if errors:
        raise Refused("合同信息有误：" + "；".join(errors.values()), errors=errors)
    existing = session.execute(select(Contract.id).where(
        Contract.supplier_id == supplier.id, Contract.town_id == town.id, Contract.season_id == season.id,
        Contract.product == str(product)).execution_options(unscoped=True)).scalar_one_or_none()
    if existing is not None:
        raise Conflict("该企业在该街道/镇本采暖季已有此产品的合同", field="product", existing_id=existing)
    contract = Contract(supplier_id=supplier.id, town_id=town.id, season_id=season.id, product=str(product),
                        price_fen=price_fen, signed_on=data.signed_on, guarantee_received=bool(data.guarantee_received))
    session.add(contract)
    session.flush()
    audit.record(session, actor, "contracts.created", contract)
    return contract


def attach(session: Session, actor, contract_id: int, kind: str, *, filename: str, data: bytes) -> Attachment:
    """Attach the scanned contract (`kind="contract"`) or quality guarantee (`kind="guarantee"`); a new upload
    replaces the link (the old file stays in the database and in the audit log)."""
    contract = get_or_404(session, Contract, contract_id)
    if kind not in ("contract", "guarantee"):
        raise Refused("附件类别无效", field="kind")
    attachment = attachments.store(session, actor, filename=filename, data=data, supplier_id=contract.supplier_id,
                                   field="file")
    before = audit.snapshot(contract)
    if kind == "contract":
        contract.contract_attachment_id = attachment.id
    else:
        contract.guarantee_attachment_id = attachment.id
        contract.guarantee_received = True
    session.flush()
    audit.record(session, actor, "contracts.contract_attached" if kind == "contract"
                 else "contracts.guarantee_attached", contract, before=before)
    return attachment


def get(session: Session, contract_id: int) -> Contract:
    return get_or_404(session, Contract, contract_id)


@dataclass(frozen=True)
class ContractRow:
    contract: Contract
    supplier_name: str
    supplier_code: str
    town_name: str
    season_name: str


# The orders the list of contracts may be read in: newest first, or by supplier or town (the unique index on
# (supplier_id, town_id, season_id, product); (town_id, id)).
SORTS = {"id": Contract.id, "supplier": Contract.supplier_id, "town": Contract.town_id}


def listing(session: Session, *, season_id: int | None = None, supplier_id: int | None = None,
            town_id: int | None = None, sort: str | None = None, **page) -> paging.Page:
    """A page of the contracts in scope (a supplier its own, a town those in the town); paging.fetch's keyword
    arguments; items are ContractRows."""
    q = select(Contract, Supplier.name, Supplier.code, Town.name, Season.name) \
        .join(Supplier, Supplier.id == Contract.supplier_id).join(Town, Town.id == Contract.town_id) \
        .join(Season, Season.id == Contract.season_id)
    for column, value in ((Contract.season_id, season_id), (Contract.supplier_id, supplier_id),
                          (Contract.town_id, town_id)):
        if value:
            q = q.where(column == value)
    result = paging.fetch(session, q, paging.Order.of(sort, SORTS, "-id", Contract.id), **page)
    result.items = [ContractRow(*r) for r in result.items]
    return result


@dataclass(frozen=True)
class CoverageCell:
    supplier_code: str
    supplier_name: str
    supplier_status: str
    product: str
    price_fen: int
    guarantee_received: bool


def coverage(session: Session, season_id: int) -> list[tuple[Town, list[CoverageCell]]]:
    """Per town of the season's contracts (in scope): which supplier delivers which product at which price."""
    rows = session.execute(
        select(Town, Supplier.code, Supplier.name, Supplier.status, Contract.product, Contract.price_fen,
               Contract.guarantee_received)
        .join(Contract, Contract.town_id == Town.id).join(Supplier, Supplier.id == Contract.supplier_id)
        .where(Contract.season_id == season_id)
        .order_by(Town.code, Contract.product, Supplier.code)).all()
    result: dict[int, tuple[Town, list[CoverageCell]]] = {}
    for town, *cell in rows:
        result.setdefault(town.id, (town, []))[1].append(CoverageCell(*cell))
    return list(result.values())


def towns_served(session: Session, supplier_id: int, season_id: int) -> list[int]:
    return list(session.execute(select(Contract.town_id).where(Contract.supplier_id == supplier_id,
                                                               Contract.season_id == season_id)
                                .distinct().execution_options(unscoped=True)).scalars())
