"""Heating seasons and their policy: subsidy rates (optionally tiered), caps, funds, notice days, town targets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit
from subsidy.core.errors import Conflict, NotFound, Refused, SubsidyError
from subsidy.models import COAL_PRODUCTS, Category, FundShare, Product, Season, SubsidyRate, Town, TownTarget
from subsidy.rules.measures import parse_percent_bp, parse_tons_to_kg, parse_yuan
from subsidy.rules.text import clean_text_into

HOTLINE = re.compile(r"[0-9][0-9 ()（）,，-]*")
FUND_NAMES = {"province": "省级资金", "city": "市级资金", "district": "区级资金", "town": "街道/镇资金"}


def active_season(session: Session) -> Season:
    season = session.execute(select(Season).where(Season.is_active.is_(True))).scalar_one_or_none()
    if season is None:
        raise Refused("当前没有进行中的采暖季，请联系区发改局设置")
    return season


def active_season_or_none(session: Session) -> Season | None:
    return session.execute(select(Season).where(Season.is_active.is_(True))).scalar_one_or_none()


CLOSED = ("本采暖季已由区发改局关闭（已考核验收），不再受理购买登记、公示和审核，也不能开具、作废销售单或登记配送；"
          "所有记录仍可查阅")


class SeasonClosed(Refused):
    """A write into a closed season: a refusal (422 with the field and the reason, CONTRACT.md: POST
    /seasons/{id}/close), so that a form re-rendered for bad input shows the reason beside its field and the API
    answers `{"errors": {field: reason}}`. `field` is the field that names the season's record in the write
    (`registration_id` for a sale, `season_id` when the season is the active one).

    What a closed season refuses (each write calls `lock_open` first): registrations (new, changed, imported),
    notices (公示), the town's decisions (approve, reject, approve in bulk), slips (issued at the counter or at the
    door), voids, deliveries, and new batches of stock.

    What it still takes, because they look back at what was done in it and change none of its figures (the frozen
    acceptance report stays true): callbacks to its slips' households (回访: the sample is drawn and answered after
    the sales), spot checks of its batches (a failed one still opens a case and stops the batch), cases about it,
    the monthly summaries of its last months through their review and settlement, and the payment of its
    settlements (paid, failed, reissued: finance pays after the season). tests/services/policy/test_closed_season.py
    shows both lists."""

    def __init__(self, field: str = "season_id"):
        super().__init__(CLOSED, field)


def lock_open(session: Session, season_id: int) -> Season:
    """The season, share-locked until the caller's commit, for a write that belongs to it (a registration and its
    notice and decision, a slip and its void and delivery, a batch); SeasonClosed (a refusal: 422) once it is
    closed. Every such write calls this before it changes anything (SeasonClosed lists them, and what stays
    allowed). Closing takes the row's exclusive lock (subsidy/reports/acceptance.py: close_season), so a write racing
    the close either commits before the close reads the season's figures or waits and is refused here: nothing lands
    in a closed season. (SQLite: write transactions are IMMEDIATE, one at a time, so the plain read decides the
    same.)"""
    season = session.execute(select(Season).where(Season.id == season_id).with_for_update(read=True)
                             .execution_options(populate_existing=True)).scalar_one()
    if season.closed_at is not None:
        raise SeasonClosed()
    return season


@dataclass(frozen=True)
class Tier:
    from_kg: int
    rate_fen: int


def parse_rate(text: str, product: Product) -> list[Tier]:
    """A rate cell as typed on the policy page: "300" (yuan per ton, or per set for stoves), or tiers for coal as
    "0:300, 2:150" (300 yuan per ton for the first 2 t a household buys in the season, 150 above)."""
    text = (text or "").strip().replace("，", ",").replace("：", ":")
    if not text:
        raise Refused("请填写补贴标准")
    try:
        return _parse_rate(text, product)
    except ValueError as error:  # money parsing speaks Chinese already; make it a refusal, never a 500
        raise Refused(str(error)) from None


def _parse_rate(text: str, product: Product) -> list[Tier]:
    if ":" not in text:
        return [Tier(0, parse_yuan(text))]
    if not product.is_coal:
        raise Refused("炉具补贴不分阶梯")
    tiers = []
    for part in text.split(","):
        if ":" not in part:
            raise Refused(f"阶梯格式应为“起始吨数:每吨补贴元”，如“0:300, 2:150”，“{part.strip()}”无法识别")
        tons_text, yuan_text = part.split(":", 1)
        tiers.append(Tier(parse_tons_to_kg(tons_text.strip()), parse_yuan(yuan_text.strip())))
    tiers.sort(key=lambda t: t.from_kg)
    if tiers[0].from_kg != 0:
        raise Refused("第一档阶梯须从0吨开始")
    if len({t.from_kg for t in tiers}) != len(tiers):
        raise Refused("阶梯起始吨数不能重复")
    return tiers


def format_rate(tiers: list[Tier]) -> str:
    """The cell text `parse_rate` reads back: "300", "0:300, 2:150", "0:300, 2.5:150.50"."""
    if len(tiers) == 1 and tiers[0].from_kg == 0:
        return _yuan_text(tiers[0].rate_fen)
    return ", ".join(f"{_tons_text(t.from_kg)}:{_yuan_text(t.rate_fen)}" for t in tiers)


def _yuan_text(fen: int) -> str:
    return str(fen // 100) if fen % 100 == 0 else f"{fen // 100}.{fen % 100:02d}"


def rate_table(session: Session, season_id: int) -> dict[tuple[str, str], list[Tier]]:
    """(product, category) → the season's tiers by from_kg, as the policy page shows them. (A sale reads the same rows
    with its own statement: `subsidy.sales.issuing`, the buyer row's `tiers`.)"""
    table: dict[tuple[str, str], list[Tier]] = {}
    for rate in session.execute(select(SubsidyRate).where(SubsidyRate.season_id == season_id)
                                .order_by(SubsidyRate.from_kg)).scalars():
        table.setdefault((rate.product, rate.category), []).append(Tier(rate.from_kg, rate.rate_fen))
    return table


def funds_of(session: Session, season_id: int) -> list[FundShare]:
    return list(session.execute(select(FundShare).where(FundShare.season_id == season_id)
                                .order_by(FundShare.position, FundShare.id)).scalars())


@dataclass
class PolicyInput:
    name: str
    code: str
    starts_on: date
    ends_on: date
    notice_days: int
    cap_coal_kg: int
    cap_stoves: int
    stove_once_ever: bool
    rates: dict[tuple[str, str], list[Tier]]  # (product, category) → tiers
    funds: list[tuple[str, int]]  # (fund, share in basis points)
    hotline: str = ""  # the complaint hotline (举报电话): digits, with spaces, hyphens, brackets or a comma


def validate_policy(policy: PolicyInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    clean_text_into(errors, policy.name, "name", 64, label="采暖季名称", required=True)
    if not policy.code.strip() or not policy.code.isalnum() or len(policy.code) > 8:
        errors["code"] = "采暖季代码为1至8位字母或数字，用于销售单号"
    if policy.ends_on < policy.starts_on:
        errors["ends_on"] = "结束日期不能早于开始日期"
    hotline = clean_text_into(errors, policy.hotline, "hotline", 32, label="举报电话")
    if hotline and not HOTLINE.fullmatch(hotline):
        errors["hotline"] = "举报电话只能包含数字、空格、连字符、括号和逗号，如 0538-12345"
    if policy.notice_days < 0 or policy.notice_days > 60:
        errors["notice_days"] = "公示天数应在0至60天之间"
    if policy.cap_coal_kg < 0:
        errors["cap_coal_kg"] = "每户洁净煤上限不能为负数"
    if policy.cap_stoves < 0:
        errors["cap_stoves"] = "每户炉具上限不能为负数"
    if not policy.funds:
        errors["funds"] = "请至少设置一项资金来源"
    else:
        total = sum(share for _, share in policy.funds)
        if any(share <= 0 for _, share in policy.funds):
            errors["funds"] = "每项资金比例须大于0"
        elif total != 10000:
            errors["funds"] = f"各级资金比例合计须为100%，现为{total / 100:g}%"
        if len({fund for fund, _ in policy.funds}) != len(policy.funds):
            errors["funds"] = "同一资金来源不能重复"
        if any(fund not in FUND_NAMES for fund, _ in policy.funds):
            errors["funds"] = "未知的资金来源"
    for product in Product:
        for category in Category:
            if (product, category) not in policy.rates:
                errors[f"rate_{product}_{category}"] = "请填写补贴标准"
    return errors


def save_policy(session: Session, actor, policy: PolicyInput, season: Season | None = None) -> Season:
    """Create a season or replace the policy of an existing one; refused whole if anything is wrong."""
    errors = validate_policy(policy)
    if errors:
        raise Refused(next(iter(errors.values())), errors=errors)
    before = audit.snapshot(season) if season else None
    if season is None:
        season = Season(name=policy.name.strip(), code=policy.code.strip().upper(), starts_on=policy.starts_on,
                        ends_on=policy.ends_on)
        session.add(season)
    season.name, season.code = policy.name.strip(), policy.code.strip().upper()
    season.starts_on, season.ends_on, season.notice_days = policy.starts_on, policy.ends_on, policy.notice_days
    season.cap_coal_kg, season.cap_stoves, season.stove_once_ever = (
        policy.cap_coal_kg, policy.cap_stoves, policy.stove_once_ever)
    season.hotline = policy.hotline.strip()
    session.flush()
    session.execute(delete(SubsidyRate).where(SubsidyRate.season_id == season.id))
    session.execute(delete(FundShare).where(FundShare.season_id == season.id))
    for (product, category), tiers in policy.rates.items():
        for tier in tiers:
            session.add(SubsidyRate(season_id=season.id, product=product, category=category,
                                    from_kg=tier.from_kg, rate_fen=tier.rate_fen))
    for position, (fund, share) in enumerate(policy.funds):
        session.add(FundShare(season_id=season.id, fund=fund, name=FUND_NAMES[fund], share_bp=share,
                              position=position))
    session.flush()
    audit.record(session, actor, "season.policy_saved", season, before=before,
                 after={**audit.snapshot(season), "rates": {f"{p}/{c}": [(t.from_kg, t.rate_fen) for t in ts]
                                                            for (p, c), ts in policy.rates.items()},
                        "funds": policy.funds})
    return season


def activate(session: Session, actor, season: Season) -> None:
    """Make `season` the one active season (the partial unique index makes two impossible)."""
    session.execute(update(Season).where(Season.is_active.is_(True), Season.id != season.id).values(is_active=False))
    session.flush()
    season.is_active = True
    session.flush()
    audit.record(session, actor, "season.activated", season)


def set_target(session: Session, actor, season: Season, town: Town, coal_kg: int, stoves: int) -> TownTarget:
    if coal_kg < 0 or stoves < 0:
        raise Refused("任务量不能为负数", field="coal")
    target = session.execute(select(TownTarget).where(TownTarget.season_id == season.id,
                                                      TownTarget.town_id == town.id)).scalar_one_or_none()
    before = audit.snapshot(target) if target else None
    if target is None:
        target = TownTarget(season_id=season.id, town_id=town.id)
        session.add(target)
    target.coal_kg, target.stoves = coal_kg, stoves
    session.flush()
    audit.record(session, actor, "season.target_set", target, before=before)
    return target


def targets_of(session: Session, season_id: int) -> dict[int, TownTarget]:
    return {t.town_id: t for t in session.execute(select(TownTarget).where(TownTarget.season_id == season_id)).scalars()}


def flat_rates(coal_fen_per_ton: int, stove_fen: int) -> dict[tuple[str, str], list[Tier]]:
    rates = {}
    for category in Category:
        for product in COAL_PRODUCTS:
            rates[(product, category)] = [Tier(0, coal_fen_per_ton)]
        rates[(Product.STOVE, category)] = [Tier(0, stove_fen)]
    return rates


def previous_season(session: Session, season: Season) -> Season | None:
    """The season before `season` (by its first day): what the reports compare this season with."""
    return session.execute(select(Season).where(Season.starts_on < season.starts_on)
                           .order_by(Season.starts_on.desc(), Season.id.desc()).limit(1)).scalar_one_or_none()


def season_or_active(session: Session, season_id: int | None) -> Season:
    """The season asked for (a past one, for the reports), else the active one; NotFound for an unknown id."""
    if season_id is None:
        return active_season(session)
    season = session.get(Season, season_id)
    if season is None:
        raise NotFound()
    return season


def list_seasons(session: Session) -> list[Season]:
    return list(session.execute(select(Season).order_by(Season.starts_on.desc(), Season.id.desc())).scalars())


def format_percent_bp(bp: int) -> str:
    return f"{bp // 100}" if bp % 100 == 0 else f"{bp // 100}.{bp % 100:02d}".rstrip("0")


def policy_form(session: Session, season: Season | None) -> dict[str, str]:
    """The policy page's fields filled from a saved season (or sensible blanks for a new one)."""
    if season is None:
        return {"notice_days": "7", "cap_coal": "3", "cap_stoves": "1", "stove_once_ever": "1"}
    form = {"name": season.name, "code": season.code, "starts_on": season.starts_on.isoformat(),
            "ends_on": season.ends_on.isoformat(), "notice_days": str(season.notice_days),
            "cap_coal": _tons_text(season.cap_coal_kg), "cap_stoves": str(season.cap_stoves),
            "stove_once_ever": "1" if season.stove_once_ever else "", "hotline": season.hotline}
    for (product, category), tiers in rate_table(session, season.id).items():
        form[f"rate_{product}_{category}"] = format_rate(tiers)
    for share in funds_of(session, season.id):
        form[f"fund_{share.fund}"] = format_percent_bp(share.share_bp)
    return form


def _tons_text(kg: int) -> str:
    whole, rest = divmod(kg, 1000)
    return str(whole) if not rest else f"{whole}.{rest:03d}".rstrip("0")


def _date_of(text: str, label: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise Refused(f"请填写{label}，格式如 2027-11-01") from None


def _whole(text: str, label: str) -> int:
    text = (text or "").strip()
    if not re.fullmatch(r"\d{1,6}", text):
        raise Refused(f"{label}应为不小于0的整数")
    return int(text)


def policy_from_form(form: dict) -> PolicyInput:
    """Read the policy page. Every field's reason is collected, so the clerk sees all of them at once."""
    errors: dict[str, str] = {}

    def read(key: str, parse, default):
        try:
            return parse()
        except (SubsidyError, ValueError) as error:
            errors[key] = getattr(error, "message", None) or str(error)
            return default

    today = date(2000, 1, 1)
    starts_on = read("starts_on", lambda: _date_of(form.get("starts_on"), "开始日期"), today)
    ends_on = read("ends_on", lambda: _date_of(form.get("ends_on"), "结束日期"), starts_on)
    notice_days = read("notice_days", lambda: _whole(form.get("notice_days"), "公示天数"), 0)
    cap_coal_kg = read("cap_coal", lambda: parse_tons_to_kg(str(form.get("cap_coal") or "").strip() or "x"), 0)
    cap_stoves = read("cap_stoves", lambda: _whole(form.get("cap_stoves"), "每户炉具上限"), 0)
    rates: dict[tuple[str, str], list[Tier]] = {}
    for product in Product:
        for category in Category:
            key = f"rate_{product}_{category}"
            tiers = read(key, lambda: parse_rate(str(form.get(key) or ""), product), None)
            if tiers is not None:
                rates[(product, category)] = tiers
    funds: list[tuple[str, int]] = []
    for fund in FUND_NAMES:
        raw = str(form.get(f"fund_{fund}") or "").strip()
        if raw:
            share = read("funds", lambda: parse_percent_bp(raw), None)
            if share:
                funds.append((fund, share))
            elif share == 0:
                errors.setdefault("funds", "每项资金比例须大于0（不出资的请留空）")
    policy = PolicyInput(name=str(form.get("name") or ""), code=str(form.get("code") or "").strip(),
                         starts_on=starts_on, ends_on=ends_on, notice_days=notice_days, cap_coal_kg=cap_coal_kg,
                         cap_stoves=cap_stoves, stove_once_ever=bool(form.get("stove_once_ever")), rates=rates,
                         funds=funds, hotline=str(form.get("hotline") or ""))
    for key, reason in validate_policy(policy).items():
        key = "cap_coal" if key == "cap_coal_kg" else key
        errors.setdefault(key, reason)
    if errors:
        raise Refused(_first(errors), errors=errors)
    return policy


def _first(errors: dict[str, str]) -> str:
    # The fund total is the refusal a clerk most needs to read first.
    return errors.get("funds") or next(iter(errors.values()))


def save_policy_form(session: Session, actor, form: dict, season_id: int | None = None) -> Season:
    season = None
    if season_id is not None:
        season = session.get(Season, season_id)
        if season is None:
            raise NotFound()
    policy = policy_from_form(form)
    taken = session.execute(select(Season.id).where(Season.code == policy.code.strip().upper())
                            .execution_options(unscoped=True)).scalar_one_or_none()
    if taken is not None and (season is None or taken != season.id):
        raise Conflict("该采暖季代码已被使用", field="code")
    return save_policy(session, actor, policy, season)


def activate_by_id(session: Session, actor, season_id: int) -> Season:
    season = session.get(Season, season_id)
    if season is None:
        raise NotFound()
    if not season.is_active:
        activate(session, actor, season)
    return season


def set_targets(session: Session, actor, season_id: int, form: dict) -> list[TownTarget]:
    """Targets for every town from the targets page: coal in tons (`coal_<town id>`), stoves (`stoves_<town id>`).
    All refused together if any cell is wrong."""
    season = session.get(Season, season_id)
    if season is None:
        raise NotFound()
    errors: dict[str, str] = {}
    values: list[tuple[Town, int, int]] = []
    for town in session.execute(select(Town).order_by(Town.id)).scalars():
        coal_text = str(form.get(f"coal_{town.id}") or "").strip() or "0"
        stoves_text = str(form.get(f"stoves_{town.id}") or "").strip() or "0"
        coal_kg = stoves = 0
        try:
            coal_kg = parse_tons_to_kg(coal_text)
        except ValueError as error:
            errors[f"coal_{town.id}"] = f"{town.name}：{error}"
        try:
            stoves = _whole(stoves_text, "炉具任务量")
        except SubsidyError as error:
            errors[f"stoves_{town.id}"] = f"{town.name}：{error.message}"
        values.append((town, coal_kg, stoves))
    if errors:
        raise Refused(next(iter(errors.values())), errors=errors)
    return [set_target(session, actor, season, town, coal_kg, stoves) for town, coal_kg, stoves in values]
