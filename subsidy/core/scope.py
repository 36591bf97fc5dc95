"""What a user may see, applied to every ORM query of their session (DESIGN.md: "A user sees and touches only what
lies in their scope. Outside it the system answers as if the thing did not exist.").

A session opened for a user carries its `Scope` in `session.info`; a `do_orm_execute` hook adds the scope's
criteria to every SELECT of a scoped table (SQLAlchemy's `with_loader_criteria`, including `session.get()` and
relationship loads), so a service or handler cannot forget it. Code that must look across scopes on purpose (the
district-wide uniqueness of an ID number, a supplier's lookup of one approved registration, the audit chain) says so
with `.execution_options(unscoped=True)`.

The same question asked of one record's fields lives here too: who sees an ID number, a phone or a bank account
whole (`SEES_PERSONAL_NUMBERS`, `WHOLE_FOR`, `show_id`, `show_phone`, `show_account`). Scope decides which records a role sees; this decides how much of
a record's personal numbers it sees, by the same role and for the same reason, so both answers sit in one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TypeVar

from sqlalchemy import event, false, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from subsidy.core.errors import NotFound
from subsidy.rules.idnumbers import mask_account, mask_id_number, mask_phone
from subsidy.models import (
    AuditEntry, Batch, Case, Contract, Depot, Household, Notice, Registration, Role, Settlement, Slip, Summary, Supplier, Town,
    SpotCheck, User, Village,
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
                (Case, false()),
                (SpotCheck, false()),
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
                # A town handles its own town's cases; the bureau's (town_id NULL) and other towns' are not found.
                (Case, Case.town_id == self.town_id),
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
                (Depot, Depot.supplier_id == self.supplier_id),
                (SpotCheck, SpotCheck.supplier_id == self.supplier_id),
                (Slip, Slip.supplier_id == self.supplier_id),
                (Summary, Summary.supplier_id == self.supplier_id),
                (Settlement, Settlement.supplier_id == self.supplier_id),
                (Case, false()),
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


# --- whole or masked: ID numbers and phones (DESIGN.md invariant 5) ----------------------------------------------

class Record(StrEnum):
    """The kinds of record an ID number or a phone is shown on. Who sees them whole is decided once per role
    (`SEES_PERSONAL_NUMBERS`), the same on every page, print, export and API answer that role can open; the one
    exception is what is posted in public (the notice), masked whoever prints it."""

    HOUSEHOLD = "household"  # the registry: a household, its registrations, the registry's exports and API
    SLIP = "slip"            # one slip: its detail page and its five printed copies
    LISTING = "listing"      # many slips at once: the slip list and its export, a summary's slips, the counter
    NOTICE = "notice"        # the village's public notice (公示), posted in public
    LOG = "log"              # the audit log and the histories built from it: it stores them masked (core/audit.py)
    CALLBACK = "callback"    # a callback sample's households (回访抽查): the office that calls needs the phone to dial


# The roles that keep the registry see the numbers whole, wherever they meet them: the village registers and corrects
# them, the town checks them before approving (each within its scope); `None` is the system itself (the command
# line). Everybody else sees them masked everywhere, the printed slip included: the supplier's clerk has the card in
# hand at the counter and checks it against the number the system found (CONTRACT.md answers the supplier masked
# numbers too), the bureau, finance, the auditor and the administrator reconcile by slip number and name, not by ID.
SEES_PERSONAL_NUMBERS: frozenset[Role | None] = frozenset({Role.VILLAGE, Role.TOWN, None})

WHOLE_FOR: dict[Record, frozenset[Role | None]] = {
    Record.HOUSEHOLD: SEES_PERSONAL_NUMBERS,
    Record.SLIP: SEES_PERSONAL_NUMBERS,
    Record.LISTING: SEES_PERSONAL_NUMBERS,
    # Posted in public: masked for everyone, whoever prints it.
    Record.NOTICE: frozenset(),
    # The log never held them whole, so nobody reads them whole there.
    Record.LOG: frozenset(),
    # The town and the bureau call sampled households back (subsidy/verification/): whoever dials needs the number.
    Record.CALLBACK: frozenset({Role.TOWN, Role.DRC, None}),
}

# A supplier's bank account: whole for those who pay it (finance) or own it (the supplier, which sees only itself),
# on the page as in the statement and the bank's payment sheet; masked for everyone else (the bureau types it on the
# supplier's form and reads it back masked).
SEES_BANK_ACCOUNTS: frozenset[Role | None] = frozenset({Role.FINANCE, Role.SUPPLIER, None})


def show_account(viewer: User | None, account: str | None) -> str:
    """A supplier's bank account as `viewer` may see it; "" for none."""
    if not account:
        return ""
    role = Role(viewer.role) if viewer is not None else None
    return account if role in SEES_BANK_ACCOUNTS else mask_account(account)


def shows_whole(viewer: User | None, record: Record | str) -> bool:
    """Whether `viewer` (None: the system) sees ID numbers and phones whole on that kind of record."""
    role = Role(viewer.role) if viewer is not None else None
    return role in WHOLE_FOR[Record(record)]


def show_id(viewer: User | None, record: Record | str, id_number: str | None) -> str:
    """The ID number as `viewer` may see it on that kind of record; "" for none."""
    if not id_number:
        return ""
    return id_number if shows_whole(viewer, record) else mask_id_number(id_number)


def show_phone(viewer: User | None, record: Record | str, phone: str | None) -> str:
    """The phone as `viewer` may see it on that kind of record; "" for none."""
    if not phone:
        return ""
    return phone if shows_whole(viewer, record) else mask_phone(phone)
