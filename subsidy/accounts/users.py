"""User administration: create, disable, reset password, scope."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging
from subsidy.accounts import auth, throttle
from subsidy.core.errors import Conflict, NotFound, Refused, SubsidyError
from subsidy.models import Role, Supplier, Town, User, Village
from subsidy.rules.text import clean_text_into

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


def create_user(session: Session, actor, *, username: str, role: str, password: str, display_name: str,
                town_id: int | None = None, village_id: int | None = None, supplier_id: int | None = None,
                temporary: bool = True) -> User:
    """A user whose scope matches the role, carrying the name of the person who uses it (`display_name`, required:
    history, reviews and the slip's 开票人 show it beside the unit, subsidy/core/people.py). With `temporary`, the
    password must be changed at first login."""
    username = username.strip().lower()
    errors: dict[str, str] = {}
    display_name = " ".join(clean_text_into(errors, display_name, "display_name", 64, label="姓名", required=True)
                            .split())
    if not USERNAME.match(username):
        errors["username"] = "用户名为2至64位小写字母、数字、点、下划线或连字符"
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = "请选择角色"
    else:
        if role == Role.TOWN and (town_id is None or session.get(Town, town_id) is None):
            errors["town_id"] = "街道/镇用户须选择所属街道/镇"
        if role == Role.VILLAGE and (village_id is None or session.get(Village, village_id) is None):
            errors["village_id"] = "村/社区用户须选择所属村/社区"
        if role == Role.SUPPLIER and (supplier_id is None or session.get(Supplier, supplier_id) is None):
            errors["supplier_id"] = "企业用户须选择所属配送企业"
    try:
        auth.check_password_policy(password, username)
    except SubsidyError as error:
        errors["password"] = error.message
    if errors:
        raise Refused(next(iter(errors.values())), errors=errors)
    if session.execute(select(User.id).where(User.username == username).execution_options(unscoped=True)).first():
        raise Conflict("该用户名已被使用", field="username")
    user = User(
        username=username, display_name=display_name, role=role,
        town_id=town_id if role == Role.TOWN else None,
        village_id=village_id if role == Role.VILLAGE else None,
        supplier_id=supplier_id if role == Role.SUPPLIER else None,
        password_hash=auth.hash_password(password), must_change_password=temporary,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", user)
    return user


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def set_active(session: Session, actor, user_id: int, active: bool) -> User:
    user = _get(session, user_id)
    if actor is not None and user.id == actor.id and not active:
        raise Refused("不能停用自己的账户")
    before = audit.snapshot(user)
    user.is_active = active
    if not active:
        auth.revoke_all(session, user.id)
    session.flush()
    audit.record(session, actor, "user.enabled" if active else "user.disabled", user, before=before)
    return user


def reset_password(session: Session, actor, user_id: int, new_password: str) -> User:
    user = _get(session, user_id)
    auth.check_password_policy(new_password, user.username)
    user.password_hash = auth.hash_password(new_password)
    user.must_change_password = True
    user.locked_until = None
    throttle.forget_user(session, user.id)
    auth.revoke_all(session, user.id)
    session.flush()
    audit.record(session, actor, "user.password_reset", "app_user", entity_id=user.id)
    return user


def scope_label(session: Session, user: User) -> str:
    if user.town_id:
        town = session.get(Town, user.town_id)
        return town.name if town else ""
    if user.village_id:
        village = session.get(Village, user.village_id)
        return village.name if village else ""
    if user.supplier_id:
        supplier = session.get(Supplier, user.supplier_id)
        return supplier.name if supplier else ""
    return "全区"


def temporary_password() -> str:
    """A one-time password an administrator hands over; the user must replace it at first login."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    digits = "23456789"
    chars = [secrets.choice(alphabet) for _ in range(7)] + [secrets.choice(digits) for _ in range(3)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def unlock(session: Session, actor, user_id: int) -> User:
    """Lift a lockout after wrong passwords before it expires, for every address."""
    user = _get(session, user_id)
    before = audit.snapshot(user)
    user.locked_until = None
    throttle.forget_user(session, user.id)
    session.flush()
    audit.record(session, actor, "user.unlocked", user, before=before)
    return user


# The orders the list of users may be read in (username: its unique index; id).
SORTS = {"username": User.username, "id": User.id}


def users_page(session: Session, *, role: str | None = None, active: str | None = None, sort: str | None = None,
               **page) -> paging.Page:
    """A page of the accounts (paging.fetch's keyword arguments), of one role, active ("1") or disabled ("0")."""
    query = select(User)
    if role:
        if role not in set(Role):
            raise Refused("角色无效", field="role")
        query = query.where(User.role == role)
    if active in ("0", "1"):
        query = query.where(User.is_active.is_(active == "1"))
    return paging.fetch(session, query, paging.Order.of(sort, SORTS, "username", User.id), **page)


def scope_labels(session: Session) -> dict[tuple[str, int], str]:
    """Names of every town, village and supplier, for a list of users without a query per row."""
    labels: dict[tuple[str, int], str] = {}
    for model, key in ((Town, "town"), (Village, "village"), (Supplier, "supplier")):
        for ident, name in session.execute(select(model.id, model.name)).all():
            labels[(key, ident)] = name
    return labels


def label_of(labels: dict[tuple[str, int], str], user: User) -> str:
    if user.town_id:
        return labels.get(("town", user.town_id), "")
    if user.village_id:
        return labels.get(("village", user.village_id), "")
    if user.supplier_id:
        return labels.get(("supplier", user.supplier_id), "")
    return "全区"


def scope_choices(session: Session) -> dict[str, list[tuple[int, str]]]:
    """What the create-user form offers for each scoped role."""
    towns = {t.id: t.name for t in session.execute(select(Town).order_by(Town.id)).scalars()}
    return {
        "town": list(towns.items()),
        "village": [(v.id, f"{towns.get(v.town_id, '')} · {v.name}")
                    for v in session.execute(select(Village).order_by(Village.town_id, Village.id)).scalars()],
        "supplier": [(s.id, s.name) for s in session.execute(select(Supplier).order_by(Supplier.id)).scalars()],
    }


def locks(session: Session, listed: list[User]) -> dict[int, datetime]:
    """The locked users among `listed`, locked for everyone or at some address, and when they may log in again."""
    return throttle.locks(session, listed, clock.now())


def is_locked(user: User) -> bool:
    """Locked for every address (`locks` also finds the locks at one address)."""
    return user.locked_until is not None and user.locked_until > clock.now()
