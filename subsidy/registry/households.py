"""The household registry and the season's purchase registrations.

Villages register households and what each may buy in the active season, then publish the public notice (公示);
the town approves (only once the notice period has ended) or rejects with a reason. An ID number is registered once
in the whole district, so that check looks across scopes on purpose (`unscoped=True`); everything else runs in the
caller's scope (subsidy/core/scope.py), so a village never sees or touches another village's households.

Who sees ID numbers and phones whole (DESIGN.md invariant 5) is decided in one place for every kind of record:
`subsidy.core.scope.WHOLE_FOR` (here: the village and the town; the public notice is masked for everyone).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, paging, vault
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused, SubsidyError
from subsidy.rules.idnumbers import InvalidIdNumber, InvalidPhone, validate_id_number, validate_phone
from subsidy.rules.text import clean_text, without_unwanted
from subsidy.models import (
    AuditEntry, CATEGORY_LABELS, Category, Household, Notice, Registration, RegistrationStatus, Role, Season, Slip,
    SlipStatus, Town, Village, Zone,
)
from subsidy.core.scope import get_or_404

PER_PAGE = 50
CATEGORY_BY_LABEL = {label: str(code) for code, label in CATEGORY_LABELS.items()}


def default_objection(village: Village) -> str:
    return village.name + ("村民委员会" if village.name.endswith("村") else "居民委员会")

# Chinese names: Han characters with the middle dot of minority and foreign names (·); other dots that IMEs produce
# are folded into it. Latin names: letters, with spaces, hyphens, apostrophes or dots between words.
_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", "．": "·"})
_HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef]+(?:·[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef]+)*")
_LATIN_NAME = re.compile(r"[A-Za-z]+(?:[ .'\-·][A-Za-z]+)*")


# --- validation ---------------------------------------------------------------------------------------------------

def clean_name(raw: str) -> str:
    raw = clean_text(raw, "head_name", 40, label="户主姓名")
    name = " ".join(unicodedata.normalize("NFKC", raw).translate(_DOTS).split())
    if not name:
        raise ValueError("请填写户主姓名")
    if not 2 <= len(name) <= 20:
        raise ValueError(f"户主姓名应为2至20个字（当前为{len(name)}个）")
    if not (_HAN_NAME.fullmatch(name) or _LATIN_NAME.fullmatch(name)):
        raise ValueError("户主姓名只能是汉字（少数民族姓名可用“·”分隔）或英文字母")
    return name


def clean_address(raw: str) -> str:
    address = " ".join(clean_text(raw, "address", 200, label="住址").split())
    if not address:
        raise ValueError("请填写住址")
    if len(address) > 200:
        raise ValueError("住址不能超过200个字")
    return address


def clean_category(raw: str) -> str:
    value = (raw or "").strip()
    if value in set(Category):
        return value
    if value in CATEGORY_BY_LABEL:
        return CATEGORY_BY_LABEL[value]
    raise ValueError("户类别应为：" + " / ".join(CATEGORY_LABELS.values()))


@dataclass
class HouseholdInput:
    head_name: str
    id_number: str
    phone: str
    address: str
    category: str


def validate_household(data: HouseholdInput, today: date | None = None) -> HouseholdInput:
    """The normalised input, or Refused with a Chinese reason per field."""
    errors: dict[str, str] = {}
    out = HouseholdInput("", "", "", "", "")
    for field, check in (("head_name", clean_name), ("address", clean_address), ("category", clean_category)):
        try:
            setattr(out, field, check(getattr(data, field)))
        except (ValueError, SubsidyError) as error:
            errors[field] = str(error)
    try:
        out.id_number = validate_id_number(data.id_number or "", today or clock.today())
    except InvalidIdNumber as error:
        errors["id_number"] = str(error)
    try:
        out.phone = validate_phone(data.phone or "")
    except InvalidPhone as error:
        errors["phone"] = str(error)
    if errors:
        raise Refused("；".join(errors.values()), errors=errors)
    return out


# --- who may do what ----------------------------------------------------------------------------------------------

def _role(actor) -> Role | None:
    return Role(actor.role) if actor is not None else None


def _require(actor, *roles: Role) -> None:
    """The system (actor None: the command line) may do anything; users only what their role allows."""
    if actor is not None and _role(actor) not in roles:
        raise NotAllowed()


# --- households ---------------------------------------------------------------------------------------------------

def holder_of(session: Session, id_number: str) -> tuple[int, str | None] | None:
    """(household id, village name) of whoever holds that ID number anywhere in the district. The household is
    found unscoped on purpose (an ID number is registered once in the district), but its village is named only
    within the caller's scope, None beyond it: a refusal must not tell a clerk where in the district someone
    outside their care lives."""
    row = session.execute(select(Household.id, Household.village_id)
                          .where(Household.id_number_hmac == vault.blind("id_number", id_number))
                          .execution_options(unscoped=True)).first()
    if row is None:
        return None
    return row.id, visible_village_name(session, row.village_id)


def visible_village_name(session: Session, village_id: int) -> str | None:
    """The village's name if it lies within the session's scope (scoped query: None outside it)."""
    return session.execute(select(Village.name).where(Village.id == village_id)).scalar_one_or_none()


def _refuse_duplicate(session: Session, id_number: str, own_id: int | None = None) -> None:
    found = holder_of(session, id_number)
    if found and found[0] != own_id:
        household_id, village_name = found
        if village_name is None:
            raise Conflict("该身份证号码已在本区其他村（社区）登记，同一身份证号码在全区只能登记一次",
                           field="id_number", existing_id=household_id)
        raise Conflict(f"该身份证号码已在{village_name}登记，同一身份证号码在全区只能登记一次", field="id_number",
                       existing_id=household_id, existing_village=village_name)


def register_household(session: Session, actor, village_id: int, data: HouseholdInput) -> Household:
    _require(actor, Role.VILLAGE)
    village = get_or_404(session, Village, village_id)
    clean = validate_household(data)
    _refuse_duplicate(session, clean.id_number)
    household = Household(village_id=village.id, head_name=clean.head_name, id_number=clean.id_number,
                          phone=clean.phone, address=clean.address, category=clean.category)
    session.add(household)
    session.flush()
    audit.record(session, actor, "household.registered", household)
    return household


def edit_household(session: Session, actor, household_id: int, data: HouseholdInput) -> Household:
    _require(actor, Role.VILLAGE)
    household = get_or_404(session, Household, household_id)
    clean = validate_household(data)
    if clean.id_number != household.id_number:
        _refuse_duplicate(session, clean.id_number, household.id)
    before = audit.snapshot(household)
    changed = False
    for field in ("head_name", "id_number", "phone", "address", "category"):
        if getattr(household, field) != getattr(clean, field):
            setattr(household, field, getattr(clean, field))
            changed = True
    if changed:
        household.updated_at = clock.now()
        session.flush()
        audit.record(session, actor, "household.edited", household, before=before)
    return household


def household(session: Session, household_id: int) -> Household:
    return get_or_404(session, Household, household_id)


def pages(self) -> int:
        return max(1, (self.total + self.per_page - 1) // self.per_page)


def _matching(q: str):
    """The condition of the search `q` (see _search), None when nothing was typed."""
    return _search(q)[0]


# How far a list searched by name counts: one household in twenty is a 王, so at a million households counting to
# paging.COUNT_CAP reads some 200,000 rows for each page of such a search; to 1,000 (shown as "1,000+") it reads
# 20,000, and an exact count is still there on request (issue #19).
NAME_COUNT_CAP = 1_000


def _search(q: str) -> tuple[object, int]:
    """The one search of households (the list, the search and the registrations): what was typed is classified, and
    each kind is one condition that an index serves, never ORed with a scan of the names (issue #19; the plans are
    tested in tests/services/registry/test_search_plans.py):

    - an ID number, whole (18 characters, any case, spaces or hyphens between): equality on its lookup hash, the
      unique index (ID numbers are sealed at rest, subsidy/core/vault.py, so no other part of one can be compared);
    - a phone (what `validate_phone` accepts: a mobile, or a landline with its area code): equality on its lookup
      hash, ix_household_phone_hmac;
    - four letters or digits: the last four of an ID number or of a phone (their stored tails, each indexed: two
      index scans ORed into one bitmap on PostgreSQL, a MULTI-INDEX OR on SQLite);
    - six: the last six of an ID number, equality on their lookup hash, ix_household_id_number_tail6_hmac (a
      phone is found whole or by its last four: no six-character tail is kept for it);
    - anything else with a Han character or a Latin letter: the name contains it. On PostgreSQL the pg_trgm GIN index
      ix_household_head_name_trgm serves it from three characters on; one or two characters (a surname, most of the
      time) match so many households that reading them in id order finds a page at once. On SQLite a scan in id order
      (no FTS5 trigram table: a Chinese name has two or three characters and a trigram index serves only three or
      more, yet it would have to be kept by triggers on every write; nor a prefix search, which would find other
      households than PostgreSQL does for the same words, 小明 in 王小明): measured in scripts/bench_lists.py.
    - other digits (a fragment of an ID number or phone of another length) find nothing: what is sealed cannot
      be searched by parts.

    Returned with the cap of the list's count: NAME_COUNT_CAP for a name, paging.COUNT_CAP for the rest (each an
    equality on an index, which counts at once)."""
    # A search is not stored, so a stray control character is dropped rather than refused (PostgreSQL would refuse
    # a NUL in the parameter with an error).
    q = " ".join(unicodedata.normalize("NFKC", without_unwanted(q or "")).split())
    if not q:
        return None, paging.COUNT_CAP
    compact = q.replace(" ", "").replace("-", "").upper()
    if compact.isascii() and compact.isalnum() and any(c.isdigit() for c in compact):
        if len(compact) == 18:
            return Household.id_number_hmac == vault.blind("id_number", compact), paging.COUNT_CAP
        try:
            return Household.phone_hmac == vault.blind("phone", validate_phone(q)), paging.COUNT_CAP
        except InvalidPhone:
            pass
        if len(compact) == vault.TAIL:
            return or_(Household.id_number_tail == compact, Household.phone_tail == compact), paging.COUNT_CAP
        if len(compact) == vault.TAIL6:
            return Household.id_number_tail6_hmac == vault.tail6_blind("id_number", compact), paging.COUNT_CAP
        return false(), paging.COUNT_CAP
    return Household.head_name.contains(q, autoescape=True), NAME_COUNT_CAP


# The orders the lists of households and registrations may be read in (indexes (village_id, id), (head_name, id);
# registrations (season_id, village_id, id)).
HOUSEHOLD_SORTS = {"id": Household.id, "name": Household.head_name}
REGISTRATION_SORTS = {"village": Registration.village_id, "id": Registration.id}


def list_households(session: Session, *, village_id: int | None = None, q: str = "", sort: str | None = None,
                    **page) -> paging.Page:
    """A page of the households in scope, of one village or matching `q` (see _matching), by id or by name
    (paging.fetch's keyword arguments)."""
    stmt = select(Household)
    if village_id:
        stmt = stmt.where(Household.village_id == village_id)
    condition, cap = _search(q)
    if condition is not None:
        stmt = stmt.where(condition)
    return paging.fetch(session, stmt, paging.Order.of(sort, HOUSEHOLD_SORTS, "id", Household.id), cap=cap, **page)


def villages_by_id(session: Session, ids) -> dict[int, Village]:
    ids = set(ids)
    if not ids:
        return {}
    return {v.id: v for v in session.execute(select(Village).where(Village.id.in_(ids))).scalars()}


def history(session: Session, household_id: int) -> tuple[Household, list[Registration], list[AuditEntry]]:
    """The household (in scope), its registrations of every season, and the audit entries about it, them, the
    notices they were published on and the slips sold to it, oldest first (subsidy/core/audit_text.py reads them
    as sentences). The audit log is read unscoped on purpose: the household itself was checked against the scope."""
    found = get_or_404(session, Household, household_id)
    registrations = list(session.execute(
        select(Registration).where(Registration.household_id == found.id).order_by(Registration.id)).scalars())
    slip_ids = session.execute(select(Slip.id).where(Slip.household_id == found.id)
                               .execution_options(unscoped=True)).scalars()
    keys = ([("household", str(found.id))] + [("registration", str(r.id)) for r in registrations]
            + [("notice", str(n)) for n in sorted({r.notice_id for r in registrations if r.notice_id})]
            + [("slip", str(i)) for i in slip_ids])
    entries = list(session.execute(
        select(AuditEntry).where(or_(*[(AuditEntry.entity == e) & (AuditEntry.entity_id == i) for e, i in keys]))
        .order_by(AuditEntry.id).execution_options(unscoped=True)).scalars())
    return found, registrations, entries


@dataclass
class HouseholdSeason:
    """One season of a household: its registration (None when it bought without one in an imported past season,
    which cannot happen today, or never registered) and what it bought on standing slips."""

    season: Season
    registration: Registration | None
    slips: int = 0
    coal_kg: int = 0
    stoves: int = 0
    subsidy_fen: int = 0


def seasons_of(session: Session, household_id: int, registrations: list[Registration]) -> list[HouseholdSeason]:
    """Every season of the household (in scope: `registrations` come from `history`), newest first, each with its
    registration and its purchases: one GROUP BY over the household's slips (on ix slip.household_id)."""
    sold = {season_id: (int(n), int(coal or 0), int(stoves or 0), int(subsidy or 0))
            for season_id, n, coal, stoves, subsidy in session.execute(
                select(Slip.season_id, func.count(Slip.id), func.sum(Slip.coal_kg), func.sum(Slip.stoves),
                       func.sum(Slip.subsidy_fen))
                .where(Slip.household_id == household_id, Slip.status == SlipStatus.ISSUED)
                .group_by(Slip.season_id).execution_options(unscoped=True))}
    by_season = {r.season_id: r for r in registrations}
    ids = set(by_season) | set(sold)
    if not ids:
        return []
    return [HouseholdSeason(season, by_season.get(season.id), *sold.get(season.id, (0, 0, 0, 0)))
            for season in session.execute(select(Season).where(Season.id.in_(ids))
                                          .order_by(Season.starts_on.desc(), Season.id.desc())).scalars()]


# --- registrations ------------------------------------------------------------------------------------------------

def check_quantities(season: Season, village: Village, coal_kg: int, stoves: int) -> dict[str, str]:
    """Reasons (by field) why these quantities may not be registered; empty when they may."""
    errors: dict[str, str] = {}
    if coal_kg < 0:
        errors["coal_kg"] = "洁净煤数量不能为负数"
    elif coal_kg > 0 and village.zone == Zone.BAN:
        errors["coal_kg"] = f"{village.name}位于禁煤区，不能登记购买洁净煤"
    elif coal_kg > season.cap_coal_kg:
        errors["coal_kg"] = f"洁净煤超过本采暖季每户上限{season.cap_coal_kg / 1000:g}吨"
    if stoves < 0:
        errors["stoves"] = "炉具数量不能为负数"
    elif stoves > season.cap_stoves:
        errors["stoves"] = f"炉具超过本采暖季每户上限{season.cap_stoves}台"
    if not errors and coal_kg == 0 and stoves == 0:
        errors["coal_kg"] = "请填写洁净煤或炉具的购买数量"
    return errors


def register_purchase(session: Session, actor, household_id: int, coal_kg: int, stoves: int) -> Registration:
    """The household's registration for the active season, state `registered`. One per household and season."""
    _require(actor, Role.VILLAGE)
    found = get_or_404(session, Household, household_id)
    season = seasons.lock_open(session, seasons.active_season(session).id)
    village = session.get(Village, found.village_id)
    errors = check_quantities(season, village, coal_kg, stoves)
    if errors:
        raise Refused("；".join(errors.values()), errors=errors)
    existing = session.execute(select(Registration.id).where(
        Registration.household_id == found.id, Registration.season_id == season.id)
        .execution_options(unscoped=True)).first()
    if existing:
        raise Conflict("该户本采暖季已登记，不能重复登记", field="household_id", existing_id=existing[0])
    registration = Registration(household_id=found.id, season_id=season.id, village_id=found.village_id,
                                coal_kg=coal_kg, stoves=stoves, created_by=getattr(actor, "id", None))
    session.add(registration)
    session.flush()
    audit.record(session, actor, "registration.created", registration)
    return registration


def change_purchase(session: Session, actor, registration_id: int, coal_kg: int, stoves: int) -> Registration:
    """Correct the quantities while the registration is not yet on a notice."""
    _require(actor, Role.VILLAGE)
    registration = get_or_404(session, Registration, registration_id)
    if registration.status != RegistrationStatus.REGISTERED:
        raise Conflict("该登记已公示或已审核，不能再修改数量")
    season = seasons.lock_open(session, registration.season_id)
    errors = check_quantities(season, session.get(Village, registration.village_id), coal_kg, stoves)
    if errors:
        raise Refused("；".join(errors.values()), errors=errors)
    before = audit.snapshot(registration)
    registration.coal_kg, registration.stoves = coal_kg, stoves
    session.flush()
    audit.record(session, actor, "registration.changed", registration, before=before)
    return registration


def publish_notice(session: Session, actor, village_id: int, objection_contact: str = "") -> tuple[Notice, int]:
    """Put every `registered` registration of the village (active season) on a new notice: they become `noticed`.
    The notice runs the season's `notice_days`; approval is possible from `ends_on` on."""
    _require(actor, Role.VILLAGE)
    village = get_or_404(session, Village, village_id)
    season = seasons.lock_open(session, seasons.active_season(session).id)
    contact = clean_text(objection_contact, "objection_contact", 200, label="异议受理") or default_objection(village)
    today = clock.today()
    notice = Notice(village_id=village.id, season_id=season.id, published_on=today,
                    ends_on=today + timedelta(days=season.notice_days), objection_contact=contact,
                    published_by=getattr(actor, "id", None))
    session.add(notice)
    session.flush()
    # A conditional UPDATE: two clerks publishing at once cannot put one registration on two notices.
    count = session.execute(
        update(Registration).where(Registration.village_id == village.id, Registration.season_id == season.id,
                                   Registration.status == RegistrationStatus.REGISTERED)
        .values(status=RegistrationStatus.NOTICED, notice_id=notice.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not count:
        raise Refused("本村（社区）没有待公示的登记")
    audit.record(session, actor, "notice.published", notice, after={**audit.snapshot(notice), "registrations": count})
    return notice, count


def notice(session: Session, notice_id: int) -> Notice:
    return get_or_404(session, Notice, notice_id)


def notices(session: Session, village_id: int | None = None) -> list[Notice]:
    stmt = select(Notice).order_by(Notice.id.desc())
    if village_id:
        stmt = stmt.where(Notice.village_id == village_id)
    return list(session.execute(stmt.limit(200)).scalars())


def notice_rows(session: Session, notice_id: int) -> list[tuple[Registration, Household]]:
    found = get_or_404(session, Notice, notice_id)
    return list(session.execute(
        select(Registration, Household).join(Household, Household.id == Registration.household_id)
        .where(Registration.notice_id == found.id).order_by(Household.id)).all())


def _decide(session: Session, actor, registration_id: int, status: RegistrationStatus, reason: str = "") -> Registration:
    registration = get_or_404(session, Registration, registration_id)
    seasons.lock_open(session, registration.season_id)
    before = audit.snapshot(registration)
    if registration.status != RegistrationStatus.NOTICED:
        label = {RegistrationStatus.REGISTERED: "尚未公示", RegistrationStatus.APPROVED: "已审核通过",
                 RegistrationStatus.REJECTED: "已被驳回"}.get(registration.status, registration.status)
        raise Conflict(f"该登记{label}，不能{'审核' if status == RegistrationStatus.APPROVED else '驳回'}")
    if status == RegistrationStatus.APPROVED:
        # A noticed registration without a notice row (loaded data, e.g. the demo's) has no period left to wait.
        ends_on = session.execute(select(Notice.ends_on).where(Notice.id == registration.notice_id)
                                  ).scalar_one_or_none() if registration.notice_id else None
        if ends_on is not None and clock.today() < ends_on:
            raise Conflict(f"公示期至{ends_on:%Y年%m月%d日}结束，公示期满后才能审核")
    moment = clock.now()
    # Conditional on the state read above: a concurrent decision makes this one a 409, never a double decision.
    done = session.execute(
        update(Registration).where(Registration.id == registration.id,
                                   Registration.status == RegistrationStatus.NOTICED)
        .values(status=status, decided_at=moment, decided_by=getattr(actor, "id", None), reject_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Conflict("该登记已被他人处理，请刷新后重试")
    session.refresh(registration)
    audit.record(session, actor, "registration.approved" if status == RegistrationStatus.APPROVED
                 else "registration.rejected", registration, before=before)
    return registration


def approve(session: Session, actor, registration_id: int) -> Registration:
    _require(actor, Role.TOWN)
    return _decide(session, actor, registration_id, RegistrationStatus.APPROVED)


def reject(session: Session, actor, registration_id: int, reason: str) -> Registration:
    _require(actor, Role.TOWN)
    reason = clean_text(reason, "reason", 200, label="驳回原因")
    if not reason:
        raise Refused("请填写驳回原因", field="reason")
    return _decide(session, actor, registration_id, RegistrationStatus.REJECTED, reason)


MAX_CHOSEN = 500  # registrations approved at once from ticked boxes (a page holds at most 100)


def approve_chosen(session: Session, actor, registration_ids: list[int]) -> list[Registration]:
    """Approve the registrations the town ticked: all of them or none, in the caller's one transaction (as
    settlement.summaries.approve_many does for summaries). Each goes through `approve`'s checks (noticed, notice
    period over, in scope); when any fails, Conflict names every one that cannot be approved and why, and the caller
    keeps nothing (the web edge ends the transaction without committing). The town ticks again without those."""
    _require(actor, Role.TOWN)
    ids = list(dict.fromkeys(registration_ids))
    if not ids:
        raise Refused("请勾选要审核通过的登记", field="ids")
    if len(ids) > MAX_CHOSEN:
        raise Refused(f"一次最多审核{MAX_CHOSEN}户", field="ids")
    done, problems = [], []
    for registration_id in ids:
        try:
            done.append(_decide(session, actor, registration_id, RegistrationStatus.APPROVED))
        except NotFound:
            problems.append(f"登记#{registration_id}：未找到，或不在您的管辖范围内")
        except seasons.SeasonClosed:
            raise  # the whole season refuses, not one registration
        except Conflict as error:
            name = session.execute(select(Household.head_name).join(
                Registration, Registration.household_id == Household.id).where(Registration.id == registration_id)
            ).scalar_one_or_none()
            problems.append(f"{name or f'登记#{registration_id}'}：{error.message}")
    if problems:
        raise Conflict(f"所选{len(ids)}户均未审核通过，因为其中{len(problems)}户不能审核——" + "；".join(problems)
                       + "。请取消勾选这些登记后重试。", field="ids")
    return done


def approve_all_due(session: Session, actor, village_id: int | None = None) -> int:
    """Approve every noticed registration of the active season in scope (optionally of one village) whose notice
    period has ended; SeasonClosed once the season is closed."""
    _require(actor, Role.TOWN)
    season = seasons.lock_open(session, seasons.active_season(session).id)
    stmt = (select(Registration.id).outerjoin(Notice, Notice.id == Registration.notice_id)
            .where(Registration.season_id == season.id, Registration.status == RegistrationStatus.NOTICED,
                   or_(Notice.ends_on <= clock.today(), Registration.notice_id.is_(None)))
            .order_by(Registration.id))
    if village_id:
        stmt = stmt.where(Registration.village_id == village_id)
    ids = list(session.execute(stmt).scalars())  # scoped: the town's villages only
    moment, approved = clock.now(), 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        done = session.execute(
            update(Registration).where(Registration.id.in_(chunk), Registration.status == RegistrationStatus.NOTICED)
            .values(status=RegistrationStatus.APPROVED, decided_at=moment, decided_by=getattr(actor, "id", None))
            .returning(Registration.id).execution_options(synchronize_session=False)
        ).scalars().all()
        for registration_id in done:
            audit.record(session, actor, "registration.approved", "registration", entity_id=registration_id,
                         before={"status": "noticed"}, after={"status": "approved", "bulk": True})
        approved += len(done)
    return approved


@dataclass
class RegistrationRow:
    registration: Registration
    household: Household
    village: Village


def list_registrations(session: Session, *, status: str = "", village_id: int | None = None, q: str = "",
                       season_id: int | None = None, sort: str | None = None, **page) -> paging.Page:
    """Registrations of a season (`season_id`: a past one for an auditor; None: the active one) in scope, with their
    households and villages, filtered, a page at a time (paging.fetch's keyword arguments), by village by default."""
    if season_id is None:
        season = seasons.active_season_or_none(session)
        if season is None:
            return paging.Page([], page.get("per_page", PER_PAGE), total=0)
        season_id = season.id
    stmt = (select(Registration, Household, Village).join(Household, Household.id == Registration.household_id)
            .join(Village, Village.id == Registration.village_id).where(Registration.season_id == season_id))
    if status:
        if status not in set(RegistrationStatus):
            raise Refused("状态无效", field="status")
        stmt = stmt.where(Registration.status == status)
    if village_id:
        stmt = stmt.where(Registration.village_id == village_id)
    condition, cap = _search(q)
    if condition is not None:
        stmt = stmt.where(condition)
    result = paging.fetch(session, stmt, paging.Order.of(sort, REGISTRATION_SORTS, "village", Registration.id),
                          cap=cap, **page)
    result.items = [RegistrationRow(*row) for row in result.items]
    return result


def iter_registrations(session: Session, *, status: str = "", village_id: int | None = None,
                       season_id: int | None = None, chunk: int = 1000):
    """Every registration row of a season (None: the active one) in scope (for exports), a chunk at a time, by
    cursor."""
    after = None
    while True:
        result = list_registrations(session, status=status, village_id=village_id, season_id=season_id,
                                    per_page=chunk, after=after, count=False)
        yield from result.items
        if result.next is None:
            return
        after = result.next
        session.expunge_all()


@dataclass
class Count:
    town: str
    village: str
    village_id: int | None
    by_status: dict[str, int]
    coal_kg: int
    stoves: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def counts(session: Session, season_id: int | None = None) -> tuple[list[Count], list[Count]]:
    """Registrations of a season (None: the active one) in scope, per village and per town: count by state,
    registered kg and stoves (approved ones only, as that is what may be sold)."""
    season = seasons.season_or_active(session, season_id) if season_id is not None \
        else seasons.active_season_or_none(session)
    if season is None:
        return [], []
    rows = session.execute(
        select(Town.name, Village.name, Village.id, Registration.status, func.count(Registration.id),
               func.coalesce(func.sum(Registration.coal_kg), 0), func.coalesce(func.sum(Registration.stoves), 0))
        .join(Village, Village.id == Registration.village_id).join(Town, Town.id == Village.town_id)
        .where(Registration.season_id == season.id)
        .group_by(Town.name, Village.name, Village.id, Registration.status).order_by(Town.name, Village.id)
    ).all()
    by_village: dict[int, Count] = {}
    by_town: dict[str, Count] = {}
    for town, village, vid, status, n, kg, sets in rows:
        for key, store, label in ((vid, by_village, village), (town, by_town, "")):
            item = store.setdefault(key, Count(town, label, vid if label else None, {}, 0, 0))
            item.by_status[status] = item.by_status.get(status, 0) + n
            if status == RegistrationStatus.APPROVED:
                item.coal_kg += int(kg)
                item.stoves += int(sets)
    return list(by_village.values()), list(by_town.values())


def registration(session: Session, registration_id: int) -> Registration:
    return get_or_404(session, Registration, registration_id)
