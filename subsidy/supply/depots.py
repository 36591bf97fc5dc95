"""A supplier's supply points (保供点, seed 002): where households buy and where the regulator samples. A batch names
the depot it was taken in at (batches.record), so that spot-check coverage can be counted per depot.

A depot is edited (name, address, town) and deactivated when it closes: a deactivated depot is offered for no new
batch (`check_of_supplier` refuses it, `of_supplier(active_only=True)` leaves it out of the form), while the batches
taken in at it keep naming it and coverage keeps counting it. It can be reactivated."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import Batch, Depot, Role, Supplier, Town
from subsidy.rules.text import clean_text_into

KEEPERS = (Role.SUPPLIER, Role.DRC)  # a supplier its own, the bureau any supplier's


@dataclass
class DepotInput:
    name: str = ""
    address: str = ""
    town_id: int | None = None


def _check_keeper(actor, supplier_id: int, doing: str) -> None:
    if actor is None or actor.role not in KEEPERS or (actor.role == Role.SUPPLIER and actor.supplier_id != supplier_id):
        raise NotAllowed(f"只有配送企业本身或区发改局可以{doing}保供点")


def _read(session: Session, supplier: Supplier, data: DepotInput, *, depot_id: int | None = None) -> tuple[str, str]:
    """The cleaned name and address; Refused with every wrong field at once, Conflict on a name the supplier's
    other depot has."""
    errors: dict[str, str] = {}
    name = clean_text_into(errors, data.name, "name", 100, label="保供点名称", required=True)
    address = clean_text_into(errors, data.address, "address", 200, label="地址", required=True)
    town_ok = isinstance(data.town_id, int) and not isinstance(data.town_id, bool) and abs(data.town_id) < 2**62
    if not town_ok or session.get(Town, data.town_id) is None:
        errors["town_id"] = "请选择保供点所在的街道/镇"
    if errors:
        raise Refused("保供点信息有误：" + "；".join(errors.values()), errors=errors)
    if session.execute(select(Depot.id).where(Depot.supplier_id == supplier.id, Depot.name == name,
                                              Depot.id != (depot_id or 0))).first():
        raise Conflict(f"{supplier.name}已有名为“{name}”的保供点", field="name")
    return name, address


def get(session: Session, depot_id: int) -> Depot:
    """The depot (NotFound outside the caller's scope: a supplier sees its own)."""
    return get_or_404(session, Depot, depot_id)


def create(session: Session, actor, supplier_id: int, data: DepotInput) -> Depot:
    """Add a depot to `supplier_id` (NotFound outside the caller's scope). Refused with every wrong field at once;
    Conflict: the supplier already has a depot of that name."""
    _check_keeper(actor, supplier_id, "登记")
    supplier = get_or_404(session, Supplier, supplier_id)
    name, address = _read(session, supplier, data)
    depot = Depot(supplier_id=supplier.id, name=name, address=address, town_id=data.town_id,
                  created_by=getattr(actor, "id", None))
    session.add(depot)
    session.flush()
    audit.record(session, actor, "depots.created", depot)
    return depot


def update(session: Session, actor, depot_id: int, data: DepotInput) -> Depot:
    """Change a depot's name, address and town (the supplier its own, the bureau any). The batches taken in at it
    keep naming it, under its new name. Refused and Conflict as `create`."""
    depot = get(session, depot_id)
    _check_keeper(actor, depot.supplier_id, "修改")
    name, address = _read(session, session.get(Supplier, depot.supplier_id), data, depot_id=depot.id)
    before = audit.snapshot(depot)
    moved = (depot.name, depot.town_id) != (name, data.town_id)
    depot.name, depot.address, depot.town_id = name, address, data.town_id
    session.flush()
    if moved:  # the platform's batches file carries the depot's name and town: its batches go again
        session.execute(sa.update(Batch).where(Batch.depot_id == depot.id).values(depot_id=Batch.depot_id)
                        .execution_options(synchronize_session=False))
    audit.record(session, actor, "depots.updated", depot, before=before)
    return depot


def set_active(session: Session, actor, depot_id: int, active: bool) -> Depot:
    """Deactivate a depot that closed (no new batch names it; old ones keep it) or reactivate it. Setting the state
    it already has is refused with the reason."""
    depot = get(session, depot_id)
    _check_keeper(actor, depot.supplier_id, "停用或启用")
    if depot.active == active:
        raise Refused(f"保供点“{depot.name}”已经是{'启用' if active else '停用'}状态", field="active")
    before = audit.snapshot(depot)
    depot.active = active
    session.flush()
    audit.record(session, actor, "depots.reactivated" if active else "depots.deactivated", depot, before=before)
    return depot


@dataclass(frozen=True)
class DepotRow:
    depot: Depot
    town: str


def of_supplier(session: Session, supplier_id: int, *, active_only: bool = False) -> list[DepotRow]:
    """The supplier's depots by name (a handful per supplier); `active_only`: those a new batch may name."""
    conditions = [Depot.supplier_id == supplier_id] + ([Depot.active.is_(True)] if active_only else [])
    return [DepotRow(d, t) for d, t in session.execute(
        select(Depot, Town.name).join(Town, Town.id == Depot.town_id)
        .where(*conditions).order_by(Depot.name, Depot.id)).all()]


def check_of_supplier(session: Session, depot_id: int | None, supplier_id: int, errors: dict[str, str]) -> None:
    """For a batch's form: `depot_id`, when given, must be one of the supplier's active depots (the reason goes into
    `errors["depot_id"]`)."""
    if depot_id is None:
        return
    depot = session.get(Depot, depot_id) if isinstance(depot_id, int) and not isinstance(depot_id, bool) else None
    if depot is None or depot.supplier_id != supplier_id:
        errors["depot_id"] = "保供点不存在或不属于本企业"
    elif not depot.active:
        errors["depot_id"] = f"保供点“{depot.name}”已停用，不能用于新的进货批次"
