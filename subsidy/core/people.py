"""Who did something, as pages, prints and the audit log name them: a person's name beside their unit
("李春华（财源街道）"), never the unit alone, since two clerks of one town or one supplier must be told apart.

A user's `display_name` is the person's name (the administrator's user form requires it). Their unit follows from
the role and scope: the town, village or supplier they belong to, or the district office of a district-wide role
(区发改局, 区财政局, ...). A user without a name (made before names were asked for, or by `subsidy user add` without
`--display-name`) is named by the user name. The rows are read unscoped on purpose: a page that may show a record
may show who made it, as the paper form it replaces would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.models import ROLE_LABELS, Role, Supplier, Town, User, Village


@dataclass(frozen=True)
class Person:
    name: str
    unit: str = ""

    @property
    def label(self) -> str:
        """"李春华（财源街道）"; the name alone when there is no unit."""
        return f"{self.name}（{self.unit}）" if self.unit else self.name

    def __str__(self) -> str:
        return self.label


SYSTEM = Person("系统", "")  # the command line, migrations, the demo loader, the login throttle
UNKNOWN = Person("已删除的用户", "")


def _unscoped(session: Session, stmt):
    return session.execute(stmt.execution_options(unscoped=True))


def people(session: Session, user_ids: Iterable[int | None]) -> dict[int, Person]:
    """The person behind each of these user ids (missing ids are left out), in three small queries at most."""
    ids = {int(i) for i in user_ids if i is not None}
    if not ids:
        return {}
    users = list(_unscoped(session, select(User.id, User.username, User.display_name, User.role, User.town_id,
                                           User.village_id, User.supplier_id).where(User.id.in_(ids))).all())
    names: dict[tuple[str, int], str] = {}
    for model, key, column in ((Town, "town", "town_id"), (Village, "village", "village_id"),
                               (Supplier, "supplier", "supplier_id")):
        wanted = {getattr(u, column) for u in users if getattr(u, column) is not None}
        if wanted:
            for ident, name in _unscoped(session, select(model.id, model.name).where(model.id.in_(wanted))).all():
                names[(key, ident)] = name
    return {u.id: Person(name_of(u), _unit(u, names)) for u in users}


def of(session: Session, user: User | None) -> Person:
    """The person of one user (None: the system), from the user row in hand: the unit's name is the one query (none
    for a district office), where `people` would read the user again (every page resolves its caller's person:
    web/auth.py)."""
    if user is None:
        return SYSTEM
    for model, key, column in ((Town, "town", "town_id"), (Village, "village", "village_id"),
                               (Supplier, "supplier", "supplier_id")):
        ident = getattr(user, column)
        if ident is not None:
            name = _unscoped(session, select(model.name).where(model.id == ident)).scalar_one_or_none()
            return Person(name_of(user), _unit(user, {} if name is None else {(key, ident): name}))
    return Person(name_of(user), _unit(user, {}))


def name_of(user) -> str:
    """The person's name of a user row (or a row with `display_name` and `username`)."""
    return (user.display_name or "").strip() or user.username


def _unit(user, names: dict[tuple[str, int], str]) -> str:
    for key, column in (("town", "town_id"), ("village", "village_id"), ("supplier", "supplier_id")):
        ident = getattr(user, column)
        if ident is not None:
            return names.get((key, ident), "")
    try:
        return ROLE_LABELS[Role(user.role)]
    except ValueError:
        return ""
