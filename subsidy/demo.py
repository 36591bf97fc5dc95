"""The demo district of CONTRACT.md: Taishan (TS), one active season dated to cover today, three towns with targets,
suppliers with contracts and passed batches, a user per role, and generated households with fictional ID numbers.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import audit, clock
from subsidy.accounts import auth
from subsidy.policy import quality, seasons
from subsidy.rules.idnumbers import make_credit_code, make_id_number
from subsidy.models import (
    Batch, Category, Contract, District, Household, Notice, Product, Registration, RegistrationStatus, Role, Supplier, Town,
    User, Village, Zone,
)

TOWNS = [
    # code, name, (target tons, stoves) or None
    ("caiyuan", "财源街道", (2000, 120)),
    ("daimiao", "岱庙街道", (1600, 100)),
    ("taiqian", "泰前街道", (1400, 80)),
    ("shanggao", "上高街道", None),
    ("xujialou", "徐家楼街道", None),
    ("shengzhuang", "省庄镇", None),
    ("qiujiadian", "邱家店镇", None),
]
VILLAGES = [
    # code, name, town code, zone
    ("dongguan", "东关村", "caiyuan", Zone.NORMAL),
    ("xiguan", "西关社区", "caiyuan", Zone.CLEAN_ONLY),
    ("yingxi", "营西村", "daimiao", Zone.NORMAL),
    ("hejia", "贺家庄村", "daimiao", Zone.CLEAN_ONLY),
    ("qiaogou", "桥沟村", "taiqian", Zone.NORMAL),
    ("dongmen", "东门社区", "taiqian", Zone.CLEAN_ONLY),
    ("huanshan", "环山村", "taiqian", Zone.BAN),
    ("shanggao-cun", "上高村", "shanggao", Zone.NORMAL),
    ("xujialou-cun", "徐家楼村", "xujialou", Zone.NORMAL),
    ("shengzhuang-cun", "省庄村", "shengzhuang", Zone.NORMAL),
    ("qiujiadian-cun", "邱家店村", "qiujiadian", Zone.NORMAL),
]
SUPPLIERS = [
    # code, name, slip prefix, product, price yuan
    ("coal-a", "泰安市甲洁净煤配送有限公司", "A", Product.BRIQUETTE, 1100),
    ("coal-b", "泰安市乙清洁能源有限公司", "B", Product.BRIQUETTE, 1100),
    ("stove-a", "泰安市丙节能炉具有限公司", "C", Product.STOVE, 1200),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "玉兰", "国庆", "淑珍", "德胜", "凤英", "长江", "海燕", "明亮", "春梅", "振华"]
TARGET_TOWNS = [code for code, _, target in TOWNS if target]
HOUSEHOLDS_PER_VILLAGE = 24
CATEGORY_CYCLE = [Category.ORDINARY] * 7 + [Category.LOW_INCOME, Category.FIVE_GUARANTEE, Category.POVERTY_REGISTERED]


def demo_password(username: str) -> str:
    return f"{username}-demo"


def season_dates(today: date) -> tuple[date, date]:
    """A heating season that covers `today`: November 1 to March 31; outside winter, from the first of this
    month to the next March 31, so that the demo can be tried any day of the year."""
    if today.month >= 11:
        return date(today.year, 11, 1), date(today.year + 1, 3, 31)
    if today.month <= 3:
        return date(today.year - 1, 11, 1), date(today.year, 3, 31)
    return date(today.year, today.month, 1), date(today.year + 1, 3, 31)


def is_loaded(session: Session) -> bool:
    return session.execute(select(District.id).where(District.code == "TS").execution_options(unscoped=True)).first() \
        is not None


def load(session: Session, *, households_per_village: int = HOUSEHOLDS_PER_VILLAGE) -> bool:
    """Load the demo district; False (and nothing changed) when it is already there."""
    if is_loaded(session):
        return False
    rng = random.Random(2021)
    today = clock.today()
    district = District(code="TS", name="泰安市泰山区")
    session.add(district)
    session.flush()

    towns = {}
    for code, name, _ in TOWNS:
        towns[code] = Town(district_id=district.id, code=code, name=name)
        session.add(towns[code])
    session.flush()
    villages = {}
    for code, name, town_code, zone in VILLAGES:
        villages[code] = Village(town_id=towns[town_code].id, code=code, name=name, zone=zone)
        session.add(villages[code])
    session.flush()

    starts_on, ends_on = season_dates(today)
    policy = seasons.PolicyInput(
        name=f"泰山区2021年散煤清洁化治理（{starts_on.year}—{ends_on.year}采暖季）", code="21",
        starts_on=starts_on, ends_on=ends_on, notice_days=0, cap_coal_kg=3000, cap_stoves=1,
        stove_once_ever=True, rates=seasons.flat_rates(300_00, 400_00), funds=[("city", 5000), ("district", 5000)],
        hotline="0538-12345",
    )
    season = seasons.save_policy(session, None, policy)
    seasons.activate(session, None, season)
    quality.ensure_defaults(session, season.id)
    for code, _, target in TOWNS:
        if target:
            seasons.set_target(session, None, season, towns[code], target[0] * 1000, target[1])

    suppliers = {}
    for index, (code, name, prefix, product, price_yuan) in enumerate(SUPPLIERS):
        supplier = Supplier(
            code=code, name=name, slip_prefix=prefix, credit_code=make_credit_code(f"91370902MA3C{index:04d}X"[:17]),
            legal_rep=rng.choice(SURNAMES) + rng.choice(GIVEN), contact_name=rng.choice(SURNAMES) + "经理",
            contact_phone=f"1380538{index:04d}", address=f"泰安市泰山区示范路{index + 1}号",
            bank_name="中国工商银行泰安分行", bank_account=f"16030010090{index:010d}",
            tender_notice_no=f"TSCG-2021-{index + 1:03d}", tender_date=starts_on - timedelta(days=30),
            products=str(product),
        )
        session.add(supplier)
        suppliers[code] = supplier
        session.flush()
        for town_code in TARGET_TOWNS:
            session.add(Contract(supplier_id=supplier.id, town_id=towns[town_code].id, season_id=season.id,
                                 product=product, price_fen=price_yuan * 100, signed_on=starts_on - timedelta(days=20),
                                 guarantee_received=True))
        if product.is_coal:
            session.add(Batch(supplier_id=supplier.id, season_id=season.id, product=product, quantity_kg=500_000,
                              producer="泰安市示范型煤厂", origin="山西晋城", arrival_date=starts_on,
                              vehicle=f"鲁J{index + 1}2345", report_no=f"JC-{starts_on.year}-{index + 101}",
                              lab="泰安市产品质量检验所", volatile_cpct=980, sulfur_cpct=35, ash_cpct=1800,
                              calorific_kj_kg=24500, passed=True))
    session.flush()

    _users(session, towns, villages, suppliers)
    _households(session, rng, season.id, season.starts_on, villages, households_per_village)
    audit.record(session, None, "demo.loaded", "district", entity_id=district.id)
    return True


# The person behind every demo login (a user carries a person's name; the unit comes from the scope). Two clerks
# work in 财源街道 (caiyuan, caiyuan2) and two at 泰安市甲洁净煤配送有限公司 (coal-a, coal-a2), so that history and
# reviews show which of them did what.
PEOPLE = {
    "admin": "周立新", "drc": "孙海涛", "finance": "钱丽华", "auditor": "吴建平",
    "coal-a": "刘志刚", "coal-a2": "何玉梅", "coal-b": "陈晓燕", "stove-a": "马国栋",
    "caiyuan": "李春华", "caiyuan2": "张明远", "daimiao": "杨秀兰", "taiqian": "黄振国", "shanggao": "徐丽萍",
    "xujialou": "郭志强", "shengzhuang": "林芳", "qiujiadian": "罗卫东",
    "dongguan": "王文书", "xiguan": "赵慧敏", "yingxi": "高峰", "hejia": "何静", "qiaogou": "胡斌", "dongmen": "朱红梅",
    "huanshan": "马云霞", "shanggao-cun": "孙伟", "xujialou-cun": "陈刚", "shengzhuang-cun": "刘敏",
    "qiujiadian-cun": "吴磊",
}
SECOND_CLERKS = {"caiyuan2": "caiyuan", "coal-a2": "coal-a"}  # second login -> the unit it shares


def _users(session: Session, towns, villages, suppliers) -> None:
    accounts = [("admin", Role.ADMIN, {}), ("drc", Role.DRC, {}), ("finance", Role.FINANCE, {}),
                ("auditor", Role.AUDITOR, {})]
    accounts += [(code, Role.SUPPLIER, {"supplier_id": s.id}) for code, s in suppliers.items()]
    accounts += [(code, Role.TOWN, {"town_id": t.id}) for code, t in towns.items()]
    accounts += [(code, Role.VILLAGE, {"village_id": v.id}) for code, v in villages.items()]
    by_name = {username: (role, scope) for username, role, scope in accounts}
    accounts += [(second, *by_name[first]) for second, first in SECOND_CLERKS.items()]
    for username, role, scope in accounts:
        user = User(username=username, display_name=PEOPLE[username], role=role, password_hash=auth.hash_password(
            demo_password(username)), **scope)
        session.add(user)
    session.flush()


def _households(session: Session, rng: random.Random, season_id: int, season_start: date, villages,
                per_village: int) -> None:
    serial = 0
    for code, village in villages.items():
        # The village's notice (公示) that its noticed and approved registrations went through, published when the
        # season opened; with the demo's notice_days 0 it has ended, so the town can decide the noticed ones at once.
        notice = None
        if village.zone != Zone.BAN:
            notice = Notice(village_id=village.id, season_id=season_id, published_on=season_start, ends_on=season_start,
                            objection_contact=f"{village.name}村委会")
            session.add(notice)
            session.flush()
        for n in range(per_village):
            serial += 1
            # Fictional: Taishan's region code, birthdays on the first of a month, sequence numbers from 900.
            birth = date(1940 + serial % 50, serial % 12 + 1, 1)
            household = Household(
                village_id=village.id, head_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                id_number=make_id_number("370902", birth, f"{900 + serial % 100:03d}"),
                phone=f"139{serial:08d}", address=f"{village.name}{n // 6 + 1}组{n % 6 + 1}号",
                category=CATEGORY_CYCLE[serial % len(CATEGORY_CYCLE)],
            )
            session.add(household)
            session.flush()
            if village.zone == Zone.BAN:
                continue  # no coal may be sold in a ban zone: these households are in the registry only
            # Most registrations approved so the suppliers can sell at once; a few still registered or noticed.
            status = RegistrationStatus.APPROVED if n < per_village - 4 else (
                RegistrationStatus.NOTICED if n < per_village - 2 else RegistrationStatus.REGISTERED)
            session.add(Registration(household_id=household.id, season_id=season_id, village_id=village.id,
                                     coal_kg=rng.choice([1000, 1500, 2000, 2500, 3000]), stoves=1 if n % 3 == 0 else 0,
                                     status=status,
                                     notice_id=None if status == RegistrationStatus.REGISTERED else notice.id))
    session.flush()
