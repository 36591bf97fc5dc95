"""Towns and villages of the district: the administrator and the DRC create them, and a village's zone (a coal ban
area sells no subsidised coal) is what the registry and the sale check.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Conflict, NotFound, Refused
from subsidy.models import District, Town, Village, Zone
from subsidy.rules.text import clean_text

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


def district(session: Session) -> District:
    found = session.execute(select(District).order_by(District.id)).scalars().first()
    if found is None:
        raise Refused("尚未设置本区信息")
    return found


def _check_code(code: str) -> str:
    code = code.strip().lower()
    if not CODE.match(code):
        raise Refused("代码为2至32位小写字母、数字、下划线或连字符", field="code")
    return code


def _check_name(name: str) -> str:
    name = clean_text(name, "name", 64, label="名称")
    if not 2 <= len(name) <= 64:
        raise Refused("名称为2至64个字", field="name")
    return name


def create_town(session: Session, actor, *, code: str, name: str) -> Town:
    code, name = _check_code(code), _check_name(name)
    if session.execute(select(Town.id).where(Town.code == code).execution_options(unscoped=True)).first():
        raise Conflict("该街道/镇代码已存在", field="code")
    town = Town(district_id=district(session).id, code=code, name=name)
    session.add(town)
    session.flush()
    audit.record(session, actor, "town.created", town)
    return town


def create_village(session: Session, actor, *, town_id: int, code: str, name: str, zone: str) -> Village:
    code, name = _check_code(code), _check_name(name)
    if zone not in set(Zone):
        raise Refused("请选择区域类型", field="zone")
    if session.get(Town, town_id) is None:
        raise Refused("请选择所属街道/镇", field="town_id")
    if session.execute(select(Village.id).where(Village.code == code).execution_options(unscoped=True)).first():
        raise Conflict("该村/社区代码已存在", field="code")
    village = Village(town_id=town_id, code=code, name=name, zone=zone)
    session.add(village)
    session.flush()
    audit.record(session, actor, "village.created", village)
    return village


def set_zone(session: Session, actor, village_id: int, zone: str) -> Village:
    village = session.get(Village, village_id)
    if village is None:
        raise NotFound()
    if zone not in set(Zone):
        raise Refused("请选择区域类型", field="zone")
    before = audit.snapshot(village)
    village.zone = zone
    session.flush()
    audit.record(session, actor, "village.zone_changed", village, before=before)
    return village


def towns(session: Session) -> list[Town]:
    return list(session.execute(select(Town).order_by(Town.id)).scalars())


def villages(session: Session, town_id: int | None = None) -> list[Village]:
    query = select(Village).order_by(Village.town_id, Village.id)
    if town_id is not None:
        query = query.where(Village.town_id == town_id)
    return list(session.execute(query).scalars())
