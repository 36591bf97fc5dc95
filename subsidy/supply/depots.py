"""A supplier's supply points (保供点, seed 002): where households buy and where the regulator samples. A batch names
the depot it was taken in at (batches.record), so that spot-check coverage can be counted per depot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import Depot, Role, Supplier, Town
from subsidy.rules.text import clean_text_into

KEEPERS = (Role.SUPPLIER, Role.DRC)  # a supplier its own, the bureau any supplier's


@dataclass
class DepotInput:
    name: str = ""
    address: str = ""
    town_id: int | None = None


def create(session: Session, actor, supplier_id: int, data: DepotInput) -> Depot:
    """Add a depot to `supplier_id` (NotFound outside the caller's scope). Refused with every wrong field at once;
    Conflict: the supplier already has a depot of that name."""
    if actor is None or actor.role not in KEEPERS or (actor.role == Role.SUPPLIER and actor.supplier_id != supplier_id):
        raise NotAllowed("只有配送企业本身或区发改局可以登记保供点")
    supplier = get_or_404(session, Supplier, supplier_id)
    errors: dict[str, str] = {}
    name = clean_text_into(errors, data.name, "name", 100, label="保供点名称", required=True)
    address = clean_text_into(errors, data.address, "address", 200, label="地址", required=True)
    if data.town_id is None or session.get(Town, data.town_id) is None:
        errors["town_id"] = "请选择保供点所在的街道/镇"
    if errors:
        raise Refused("保供点信息有误：" + "；".join(errors.values()), errors=errors)
    if session.execute(select(Depot.id).where(Depot.supplier_id == supplier.id, Depot.name == name)).first():
        raise Conflict(f"{supplier.name}已有名为“{name}”的保供点", field="name")
    depot = Depot(supplier_id=supplier.id, name=name, address=address, town_id=data.town_id,
                  created_by=getattr(actor, "id", None))
    session.add(depot)
    session.flush()
    audit.record(session, actor, "depots.created", depot)
    return depot


@dataclass(frozen=True)
class DepotRow:
    depot: Depot
    town: str


def of_supplier(session: Session, supplier_id: int) -> list[DepotRow]:
    """The supplier's depots by name (a handful per supplier)."""
    return [DepotRow(d, t) for d, t in session.execute(
        select(Depot, Town.name).join(Town, Town.id == Depot.town_id)
        .where(Depot.supplier_id == supplier_id).order_by(Depot.name, Depot.id)).all()]


def check_of_supplier(session: Session, depot_id: int | None, supplier_id: int, errors: dict[str, str]) -> None:
    """For a batch's form: `depot_id`, when given, must be one of the supplier's depots (the reason goes into
    `errors["depot_id"]`)."""
    if depot_id is None:
        return
    depot = session.get(Depot, depot_id) if isinstance(depot_id, int) and not isinstance(depot_id, bool) else None
    if depot is None or depot.supplier_id != supplier_id:
        errors["depot_id"] = "保供点不存在或不属于本企业"
