"""What a user may see, applied to every ORM query of their session (DESIGN.md: "A user sees and touches only what
lies in their scope. Outside it the system answers as if the thing did not exist.").

A session opened for a user carries its `Scope` in `session.info`; a `do_orm_execute` hook adds the scope's
criteria to every SELECT of a scoped table (SQLAlchemy's `with_loader_criteria`, including `session.get()` and
relationship loads), so a service or handler cannot forget it. Code that must look across scopes on purpose (the
district-wide uniqueness of an ID number, a supplier's lookup of one approved registration, the audit chain) says so
with `.execution_options(unscoped=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from sqlalchemy import event, false, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from subsidy.core.errors import NotFound
from subsidy.models import (
    AuditEntry, Batch, Contract, Household, Notice, Registration, Role, Settlement, Slip, Summary, Supplier, Town,
    User, Village,
)

T = TypeVar("T")
DISTRICT_ROLES = frozenset({Role.DRC, Role.FINANCE, Role.AUDITOR, Role.ADMIN})


@dataclass(frozen=True)
class Scope:
    role: Role
    user_id: int | None = None
    town_id: int | None = None
    village_id: int | None = None
    supplier_id: int | None = None

    @classmethod
    def of(cls, user: User) -> "Scope":
        return cls(Role(user.role), user.id, user.town_id, user.village_id, user.supplier_id)

    @property
    def district_wide(self) -> bool:
        return self.role in DISTRICT_ROLES

    @cached_property
    def criteria(self) -> list:
        """(table, condition) pairs; a table absent here is visible to everyone signed in."""
        role = self.role
        if role == Role.ADMIN:
            return []
        rules = []
        if role == Role.VILLAGE:
            rules += [
                (Town, Town.id == select(Village.town_id).where(Village.id == self.village_id).scalar_subquery()),
                (Village, Village.id == self.village_id),
                (Household, Household.village_id == self.village_id),
                (Registration, Registration.village_id == self.village_id),
                (Notice, Notice.village_id == self.village_id),
                (Slip, Slip.village_id == self.village_id),
                (Summary, false()),
                (Settlement, false()),
                (Contract, false()),
                (Batch, false()),
            ]
        elif role == Role.TOWN:
            my_villages = select(Village.id).where(Village.town_id == self.town_id)
            rules += [
                (Town, Town.id == self.town_id),
                (Village, Village.town_id == self.town_id),
                (Household, Household.village_id.in_(my_villages)),
                (Registration, Registration.village_id.in_(my_villages)),
                (Notice, Notice.village_id.in_(my_villages)),
                (Slip, Slip.town_id == self.town_id),
                (Summary, Summary.town_id == self.town_id),
                (Settlement, false()),
                (Contract, Contract.town_id == self.town_id),
            ]
        elif role == Role.SUPPLIER:
            my_towns = select(Contract.town_id).where(Contract.supplier_id == self.supplier_id)
            rules += [
                (Town, Town.id.in_(my_towns)),
                (Village, Village.town_id.in_(my_towns)),
                # Suppliers never browse the registry: the lookup by ID number is the one way in (unscoped).
                (Household, false()),
                (Registration, false()),
                (Notice, false()),
                (Supplier, Supplier.id == self.supplier_id),
                (Contract, Contract.supplier_id == self.supplier_id),
                (Batch, Batch.supplier_id == self.supplier_id),
                (Slip, Slip.supplier_id == self.supplier_id),
                (Summary, Summary.supplier_id == self.supplier_id),
                (Settlement, Settlement.supplier_id == self.supplier_id),
            ]
        # Users see themselves; the audit log is for the auditor and the administrator.
        if role != Role.AUDITOR:
            rules += [(User, User.id == self.user_id), (AuditEntry, AuditEntry.user_id == self.user_id)]
        return rules


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    scope: Scope | None = state.session.info.get("scope")
    if scope is None or not state.is_select or state.execution_options.get("unscoped", False):
        return
    if state.is_column_load:
        return
    options = [with_loader_criteria(model, condition, include_aliases=True) for model, condition in scope.criteria]
    if options:
        state.statement = state.statement.options(*options)


def get_or_404(session: Session, model: type[T], ident) -> T:
    """The object with that primary key if it exists and is in the session's scope; NotFound otherwise."""
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound()
    return obj


def scope_of(session: Session) -> Scope | None:
    return session.info.get("scope")
