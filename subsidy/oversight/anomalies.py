"""Anomaly rules (异常预警): named, explainable rules run over the season's data; each finding is a flag with its
evidence (the households or slips it found, linked from its page) that the bureau reviews: dismissed with a reason,
or confirmed, which opens a case (subsidy/oversight/cases.py).

The rules are `RULES`, a registry: name → `Rule` (Chinese title, the explanation shown beside each flag, what its
evidence lists, and the function that builds its statement). A rule's statement is set-based SQL selecting one row
per piece of evidence: `subject_key` (what the flag is about: a phone's keyed hash, a village and address key, a
clerk), `member_id` (a household's or a slip's id), `subject` (the subject as people read it, masked), `figure` and
`base` (the rule's numbers), and optionally `case_id` (a case the evidence opened already: a callback's). `run` turns
the rows of every rule into flags in one INSERT ... SELECT each, with no row of the season's data passing through
Python. Adding a rule is adding one function and one entry.

A flag that names its case at birth (`callback_discrepancy`: the case the callback opened) is noted in that case's
history when it is raised, and confirmed onto that case (another note); confirming any other flag opens a new one.

A flag's `fingerprint` is md5 of the rule, the subject and the sorted member ids, unique per rule: the same evidence
found again is the same flag (a dismissed one stays dismissed, an open one stays open), new evidence (a fourth
household on a phone) a new flag. An open flag the latest run did not find again is `cleared` (the households
changed their phones, say); found again later, it opens again.

Who: the bureau (drc) reviews; finance and the auditor read. Flags are district-wide: no town's scope applies.
Runs: `subsidy anomalies run`, the server every `anomaly_run_seconds`, or the bureau's button; one process at a time
(an advisory lock on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger, Integer, String, Text, and_, case, cast, extract, func, literal, literal_column, null, or_, select,
    tuple_, union_all, update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from subsidy.core import audit, clock, paging
from subsidy.core.db import pg_branch
from subsidy.core.errors import Conflict, NotAllowed, Refused
from subsidy.core.scope import get_or_404
from subsidy.core.settings import get_settings
from subsidy.models import (
    AnomalyFlag, AnomalyMemberKind, AnomalyStatus, Callback, Case, Delivery, Household, Role, Season, Slip, SlipScan,
    SlipStatus, Supplier, Town, User, Village,
)
from subsidy.oversight import cases
from subsidy.policy.seasons import active_season_or_none
from subsidy.rules.text import clean_text

REVIEWERS = frozenset({Role.DRC})
READERS = frozenset({Role.DRC, Role.FINANCE, Role.AUDITOR})
REASON_MAX = 1000
SHARED_AT_LEAST = 3          # households on one phone or one address of a village
VOIDS_PER_HOUSEHOLD = 2      # voided slips of one household in a season
CLERK_VOID_PERCENT = 5       # a clerk's voids above this share of their slips
BURST_SECONDS = 600          # the burst window: ten minutes
NIGHT = (22, 6)              # China time: from 22:00 to 06:00
UNSCANNED_DAYS = 30          # an office's copy not scanned this many days after the slip
UNDELIVERED_DAYS = 7         # a standing slip without a delivery this many days after it was issued
OFFICE_COPIES = {3: "街道镇联", 4: "区发改局联", 5: "区财政局联"}  # DESIGN.md, the five copies
_RUN_LOCK = 0xA40A  # the PostgreSQL advisory lock that lets one process run the rules at a time
CHINA_OFFSET_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Context:
    """What a rule's statement reads: the season, today (China time) and the settings' limits."""

    season_id: int
    today: object
    burst_slips: int
    night_burst_slips: int
    pg: bool                # the dialect fork's PostgreSQL branch (db.pg_branch)
    postgres: bool = False  # the database is PostgreSQL (its functions, whichever branch)


@dataclass(frozen=True)
class Rule:
    title: str
    explanation: str
    member_kind: str
    members: Callable[[Context], Select]
    # How one flag's figures read: str.format over figure, base and size.
    figures: str
    # PostgreSQL planner settings for this rule's statement alone (SET LOCAL before it, back to the default after):
    # the anti-joins of `unscanned_copy` and `undelivered` merge two inputs that both come sorted by slip from an
    # index, where the planner's estimate prefers hashing the whole of slip_scan or delivery (and, in parallel,
    # every worker reads the merged index in full): about half the time at 100,000 households, and no hash that
    # outgrows work_mem at the full size (scripts/bench_anomalies.py, docs/benchmarks.md).
    planner: tuple[tuple[str, str], ...] = ()


_MERGED = (("enable_hashjoin", "off"), ("max_parallel_workers_per_gather", "0"))
# `burst` reads each run back from the index by (clerk, time) range, one probe a run's start: a nested loop. The
# planner, which cannot know how few the starts are (it guessed 663,000 where 96,000 were), chose a merge join of
# every start with every slip of its clerk instead: 184 s at 1,000,000 households (scripts/bench_anomalies.py).
_PROBED = (("enable_hashjoin", "off"), ("enable_mergejoin", "off"), ("max_parallel_workers_per_gather", "0"))

_h, _s, _v, _t, _scan = (Household.__table__, Slip.__table__, Village.__table__, Town.__table__,
                         SlipScan.__table__)
_delivery, _callback, _supplier = Delivery.__table__, Callback.__table__, Supplier.__table__
_user_t = User.__table__
_flag_t = AnomalyFlag.__table__


def _text(*parts):
    """Concatenated text of columns and literals (|| on both databases)."""
    out = cast(parts[0], String) if not isinstance(parts[0], str) else literal(parts[0])
    for part in parts[1:]:
        out = out.op("||")(literal(part) if isinstance(part, str) else cast(part, String))
    return out


def _seconds(column, ctx: Context):
    """A timestamp as seconds since 1970 (UTC), a number both databases compare and subtract: on PostgreSQL
    date_part's double precision, not EXTRACT's numeric (whose arithmetic over a season's slips cost the burst rule
    a third of its time, scripts/bench_anomalies.py)."""
    if ctx.postgres:
        return func.date_part("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _hour(seconds, ctx: Context):
    """The hour (0-23, China time) of `seconds` since 1970, in whole-number arithmetic on both databases."""
    whole = cast(func.floor(seconds), BigInteger) if ctx.postgres else cast(seconds, Integer)  # both: floor (t > 0)
    return (whole + CHINA_OFFSET_SECONDS) % 86400 // 3600


# --- the rules -------------------------------------------------------------------------------------------------------

def shared_phone(ctx: Context) -> Select:
    """Households sharing one phone number, three or more: grouped by the phone's keyed hash (the number itself is
    sealed, subsidy/models/sealed.py), shown by its last four digits."""
    shared = (select(_h.c.phone_hmac, func.count().label("n")).where(_h.c.phone_hmac != "")
              .group_by(_h.c.phone_hmac).having(func.count() >= SHARED_AT_LEAST).subquery())
    return (select(_h.c.phone_hmac.label("subject_key"), _h.c.id.label("member_id"),
                   _text("手机号尾号", _h.c.phone_tail).label("subject"), shared.c.n.label("figure"),
                   literal(0).label("base"))
            .join_from(_h, shared, shared.c.phone_hmac == _h.c.phone_hmac))


def shared_address(ctx: Context) -> Select:
    """Households of one village at one address, three or more, the address in its normal form
    (subsidy/rules/addresses.py: whitespace, full-width forms, 号/组 spellings folded)."""
    shared = (select(_h.c.village_id, _h.c.address_key, func.count().label("n")).where(_h.c.address_key != "")
              .group_by(_h.c.village_id, _h.c.address_key).having(func.count() >= SHARED_AT_LEAST).subquery())
    return (select(_text(_h.c.village_id, ":", _h.c.address_key).label("subject_key"), _h.c.id.label("member_id"),
                   _text(_v.c.name, " ", _h.c.address_key).label("subject"), shared.c.n.label("figure"),
                   literal(0).label("base"))
            .join_from(_h, shared, and_(shared.c.village_id == _h.c.village_id,
                                        shared.c.address_key == _h.c.address_key))
            .join(_v, _v.c.id == _h.c.village_id))


def repeated_voids(ctx: Context) -> Select:
    """A household with two or more voided slips this season, or a clerk whose voided slips are more than 5% of
    the slips they issued this season; the evidence is the voided slips. Neither side reads the season's slips
    from the table: the voided ones are a short range of ix_slip_standing (season, status), and a clerk's slips
    are counted from ix_slip_clerk_time alone (season, clerk), where one GROUP BY of status and clerk read every
    wide slip row (scripts/bench_anomalies.py)."""
    voided = and_(_s.c.season_id == ctx.season_id, _s.c.status == SlipStatus.VOIDED)
    households = (select(_s.c.household_id, func.count().label("n")).where(voided)
                  .group_by(_s.c.household_id).having(func.count() >= VOIDS_PER_HOUSEHOLD).subquery())
    by_household = (select(_text("household:", _s.c.household_id).label("subject_key"), _s.c.id.label("member_id"),
                           _text("住户 ", _s.c.head_name).label("subject"), households.c.n.label("figure"),
                           literal(0).label("base"))
                    .join_from(_s, households, households.c.household_id == _s.c.household_id).where(voided))
    issued = (select(_s.c.issued_by, func.count().label("n"))
              .where(_s.c.season_id == ctx.season_id, _s.c.issued_by.is_not(None)).group_by(_s.c.issued_by)
              .subquery())
    voids = (select(_s.c.issued_by, func.count().label("voided")).where(voided, _s.c.issued_by.is_not(None))
             .group_by(_s.c.issued_by).subquery())
    clerks = (select(voids.c.issued_by, voids.c.voided, issued.c.n)
              .join_from(voids, issued, issued.c.issued_by == voids.c.issued_by)
              .where(voids.c.voided * 100 > issued.c.n * CLERK_VOID_PERCENT).subquery())
    by_clerk = (select(_text("clerk:", _s.c.issued_by).label("subject_key"), _s.c.id.label("member_id"),
                       _text("开单员 ", _user_t.c.username).label("subject"), clerks.c.voided.label("figure"),
                       clerks.c.n.label("base"))
                .join_from(_s, clerks, clerks.c.issued_by == _s.c.issued_by)
                .join(_user_t, _user_t.c.id == _s.c.issued_by).where(voided))
    return union_all(by_household, by_clerk)


def _is_night(column, ctx: Context):
    hour = _hour(_seconds(column, ctx), ctx)
    return or_(hour >= NIGHT[0], hour < NIGHT[1])


def _within_window(earlier, later, ctx: Context):
    """`later` is less than BURST_SECONDS after `earlier` (PostgreSQL: timestamp arithmetic, no conversion)."""
    if ctx.postgres:
        return later - earlier < timedelta(seconds=BURST_SECONDS)
    return _seconds(later, ctx) - _seconds(earlier, ctx) < BURST_SECONDS


def _bursts(ctx: Context, limit: int, *, night: bool) -> Select:
    """The slips of a season each inside some run of more than `limit` slips by one clerk within BURST_SECONDS.
    One pass over the clerk's slips in time order (the index ix_slip_clerk_time alone, no sort) finds where a run
    starts: a slip whose `limit`-th successor (LEAD) is less than the window after it. The starts are few, and
    the run of each is the slips from it to that successor, read back by clerk and (time, id) range from the same
    index. One flag per clerk and day. `night`: only the slips issued at night count, as if the day's slips were
    not there."""
    where = [_s.c.season_id == ctx.season_id, _s.c.issued_by.is_not(None)]
    if night:
        where.append(_is_night(_s.c.issued_at, ctx))
    in_time = {"partition_by": _s.c.issued_by, "order_by": (_s.c.issued_at, _s.c.id)}
    ahead = select(_s.c.issued_by, _s.c.issued_at.label("from_at"), _s.c.id.label("from_id"),
                   func.lead(_s.c.issued_at, limit).over(**in_time).label("to_at"),
                   func.lead(_s.c.id, limit).over(**in_time).label("to_id")).where(*where).subquery()
    starts = select(ahead).where(ahead.c.to_at.is_not(None),
                                 _within_window(ahead.c.from_at, ahead.c.to_at, ctx)).subquery()
    # Runs overlap (in a burst every slip but the last `limit` starts one), and a later start's successor comes
    # later: each start reads only the slips after the previous start's successor, so that no slip is read twice.
    by_start = {"partition_by": starts.c.issued_by, "order_by": (starts.c.from_at, starts.c.from_id)}
    after_at, after_id = (func.lag(starts.c.to_at).over(**by_start), func.lag(starts.c.to_id).over(**by_start))
    overlaps = and_(after_at.is_not(None), tuple_(after_at, after_id) >= tuple_(starts.c.from_at, starts.c.from_id))
    ranges = select(starts.c.issued_by, case((overlaps, after_at), else_=starts.c.from_at).label("from_at"),
                    case((overlaps, after_id + 1), else_=starts.c.from_id).label("from_id"),
                    starts.c.to_at, starts.c.to_id).subquery()
    run_slip = _s.alias("run_slip")
    inside = [run_slip.c.season_id == ctx.season_id, run_slip.c.issued_by == ranges.c.issued_by,
              tuple_(run_slip.c.issued_at, run_slip.c.id) >= tuple_(ranges.c.from_at, ranges.c.from_id),
              tuple_(run_slip.c.issued_at, run_slip.c.id) <= tuple_(ranges.c.to_at, ranges.c.to_id)]
    if night:
        inside.append(_is_night(run_slip.c.issued_at, ctx))
    members = (select(run_slip.c.id, run_slip.c.issued_by, run_slip.c.issued_on)
               .join_from(ranges, run_slip, and_(*inside)).subquery())
    per_day = func.count().over(partition_by=(members.c.issued_by, members.c.issued_on))
    found = select(members, per_day.label("n")).subquery()
    prefix, label = ("night:", "夜间 ") if night else ("", "")
    return (select(_text(prefix, "clerk:", found.c.issued_by, ":", found.c.issued_on).label("subject_key"),
                   found.c.id.label("member_id"),
                   _text(label, "开单员 ", _user_t.c.username, " ", found.c.issued_on).label("subject"),
                   found.c.n.label("figure"), literal(limit).label("base"))
            .join_from(found, _user_t, _user_t.c.id == found.c.issued_by))


def burst(ctx: Context) -> Select:
    """A clerk issuing more than `anomaly_burst_slips` slips within ten minutes, or more than
    `anomaly_night_burst_slips` within ten minutes at night (22:00-06:00 China time)."""
    return union_all(_bursts(ctx, ctx.burst_slips, night=False), _bursts(ctx, ctx.night_burst_slips, night=True))


def unscanned_copy(ctx: Context) -> Select:
    """Copies 3, 4 and 5 (town, bureau, finance) of standing slips issued 30 days ago or earlier that their office
    has not scanned: one flag per office copy, town and month of issue (a month's flag stops changing once its slips
    are all older than the limit). The scans of each slip are summed into a mask of its copies (slip_scan's unique
    (slip_id, copy_no) makes the sum of 2^copy a bitwise or) while slip_scan's index is read in slip order, and
    merged with the season's standing slips read in id order from ix_slip_standing alone; only the slips whose
    mask lacks a copy are multiplied by the three copies (`Rule.planner`: no hash of the season's scans;
    scripts/bench_anomalies.py). The count is the flag's size: no window counts it again over every member row."""
    copies = union_all(*(select(literal(n).label("copy_no"), literal(1 << n).label("bit"))
                         for n in OFFICE_COPIES)).subquery("office_copy")
    every_copy = sum(1 << n for n in OFFICE_COPIES)
    masks = (select(_scan.c.slip_id, func.sum(literal(1).op("<<")(_scan.c.copy_no)).label("mask"))
             .group_by(_scan.c.slip_id).subquery("scanned"))
    mask = func.coalesce(masks.c.mask, 0)
    lacking = (select(_s.c.id, _s.c.town_id, _s.c.issued_on, mask.label("mask"))
               .join_from(_s, masks, masks.c.slip_id == _s.c.id, isouter=True)
               .where(_s.c.season_id == ctx.season_id, _s.c.status == SlipStatus.ISSUED,
                      _s.c.issued_on <= ctx.today - timedelta(days=UNSCANNED_DAYS),
                      mask.op("&")(every_copy) != every_copy)  # copies 1-2, if ever scanned, do not count
               .subquery("lacking"))
    # The town's name and the month, once a slip, before the slips lacking copies are multiplied by the copies.
    named = (select(lacking.c.id, lacking.c.town_id, lacking.c.mask, _t.c.name.label("town"),
                    _month(lacking.c.issued_on).label("month"))
             .join_from(lacking, _t, _t.c.id == lacking.c.town_id).subquery("named"))
    copy_name = case(*((copies.c.copy_no == n, name) for n, name in OFFICE_COPIES.items()), else_="")
    return (select(_text("copy:", copies.c.copy_no, ":town:", named.c.town_id, ":", named.c.month)
                   .label("subject_key"), named.c.id.label("member_id"),
                   _text(named.c.town, " ", copy_name, " ", named.c.month).label("subject"),
                   literal(0).label("figure"), literal(UNSCANNED_DAYS).label("base"))
            .join_from(named, copies, named.c.mask.op("&")(copies.c.bit) == 0))


def _month(column):
    """A date's month as text, `2026-11` (both databases: the year and the month extracted and joined)."""
    return _text(extract("year", column), "-", extract("month", column))


def undelivered(ctx: Context) -> Select:
    """Standing slips issued more than 7 days ago that have no delivery (table `delivery`): one flag per supplier,
    town and month of issue, the slips its evidence; the subject names the oldest slip's day (it only changes with
    the members, as the fingerprint does). A delivery recorded later takes its slip out of the evidence, and a
    flag whose every slip was delivered is cleared. The anti-join merges the slips in id order (ix_slip_standing)
    with delivery's unique slip_id, both read from the index alone (`Rule.planner`)."""
    delivered = select(_delivery.c.id).where(_delivery.c.slip_id == _s.c.id).exists()
    waiting = (select(_s.c.id, _s.c.supplier_id, _s.c.town_id, _s.c.issued_on, _month(_s.c.issued_on).label("month"))
               .where(_s.c.season_id == ctx.season_id, _s.c.status == SlipStatus.ISSUED,
                      _s.c.issued_on < ctx.today - timedelta(days=UNDELIVERED_DAYS), ~delivered).subquery())
    group = (waiting.c.supplier_id, waiting.c.town_id, waiting.c.month)
    oldest = func.min(waiting.c.issued_on).over(partition_by=group)
    found = select(waiting, oldest.label("oldest")).subquery()
    return (select(_text("supplier:", found.c.supplier_id, ":town:", found.c.town_id, ":", found.c.month)
                   .label("subject_key"), found.c.id.label("member_id"),
                   _text(_supplier.c.name, " ", _t.c.name, " ", found.c.month, "（最早", found.c.oldest, "开具）")
                   .label("subject"), literal(0).label("figure"), literal(UNDELIVERED_DAYS).label("base"))
            .join_from(found, _supplier, _supplier.c.id == found.c.supplier_id)
            .join(_t, _t.c.id == found.c.town_id))


def callback_discrepancy(ctx: Context) -> Select:
    """A callback of this season's slips that found a discrepancy (the household received less, paid more or
    denies the purchase: subsidy/verification/callbacks.py): one flag per callback, its slip the evidence, the case
    the callback opened linked (`case_id`), so that confirming the flag confirms that case instead of opening a
    second one."""
    return (select(_text("callback:", _callback.c.id).label("subject_key"), _s.c.id.label("member_id"),
                   _text("销售单 ", _s.c.number, " 住户 ", _s.c.head_name).label("subject"),
                   func.coalesce(_callback.c.received_kg, 0).label("figure"), _s.c.coal_kg.label("base"),
                   _callback.c.case_id.label("case_id"))
            .join_from(_callback, _s, _s.c.id == _callback.c.slip_id)
            .where(_callback.c.discrepancy, _s.c.season_id == ctx.season_id))


RULES: dict[str, Rule] = {
    "shared_phone": Rule("多户共用手机号", "同一手机号登记在三户或以上住户名下，可能是代办、冒名登记或虚报户数。",
                         AnomalyMemberKind.HOUSEHOLD, shared_phone, "共{size}户"),
    "shared_address": Rule("多户同一住址",
                           "同一村（社区）内三户或以上住户的住址相同（已忽略空格、全角字符和“号/组”的不同写法），"
                           "可能是一户拆成多户或虚报户数。",
                           AnomalyMemberKind.HOUSEHOLD, shared_address, "共{size}户"),
    "repeated_voids": Rule("反复作废销售单",
                           "同一住户本采暖季有两张或以上作废的销售单，或开单员作废的销售单超过其开单数的5%。",
                           AnomalyMemberKind.SLIP, repeated_voids, "作废{figure}张（开单{base}张）"),
    "unscanned_copy": Rule("存根联未扫码",
                           "销售单开具30天后，街道镇联、区发改局联或区财政局联仍未扫码登记，纸质联可能未送达。",
                           AnomalyMemberKind.SLIP, unscanned_copy, "未扫码{size}张（超过{base}天）", _MERGED),
    "burst": Rule("短时集中开单",
                  "同一开单员10分钟内开具的销售单超过设定张数（夜间22时至6时另有更低的限额），可能是批量虚开。",
                  AnomalyMemberKind.SLIP, burst, "当日集中开单{size}张（10分钟内超过{base}张）", _PROBED),
    "undelivered": Rule("开单未配送", "销售单开具7天后仍没有配送到户记录，可能是只开单未送煤，或配送未及时登记。",
                        AnomalyMemberKind.SLIP, undelivered, "未配送{size}张（开单超过{base}天）", _MERGED),
    "callback_discrepancy": Rule("回访发现不符",
                                 "回访抽查时住户所说的实收数量或实付金额与销售单不符，或否认购买；"
                                 "回访时已登记案件，确认预警即确认该案件。",
                                 AnomalyMemberKind.SLIP, callback_discrepancy,
                                 "住户称实收{figure}公斤（销售单{base}公斤）"),
}


def figures_of(flag: AnomalyFlag) -> str:
    rule = RULES.get(flag.rule)
    return rule.figures.format(figure=flag.figure, base=flag.base, size=flag.size) if rule else ""


def title_of(rule: str) -> str:
    return RULES[rule].title if rule in RULES else rule


# --- running ---------------------------------------------------------------------------------------------------------

def _flags(ctx: Context, name: str, rule: Rule):
    """The statement that selects the flags of one rule: the member rows grouped by subject, the member ids sorted
    and joined, and the fingerprint."""
    rows = rule.members(ctx).subquery()
    linked = rows.c.case_id if "case_id" in rows.c else cast(null(), Integer)
    # DIALECT FORK (bench: scripts/bench_anomalies.py): PostgreSQL's ordered aggregate; the portable branch
    # orders inside a window instead (SQLite's group_concat takes no ORDER BY before 3.44) and groups that.
    if ctx.pg:
        # Byte order for the key's sort: the database's collation compared each of 600,000 member rows of
        # unscanned_copy by strcoll (the groups are the same: equal keys are equal bytes). Not for the subject's
        # max: a household's voided slips may carry two spellings of its head's name, and which one is the max
        # is the database's collation's to say, as before.
        key = rows.c.subject_key.collate("C")
        grouped = select(
            key.label("subject_key"), func.max(rows.c.subject).label("subject"),
            func.string_agg(cast(rows.c.member_id, Text), aggregate_order_by(literal_column("','"),
                                                                              rows.c.member_id)).label("members"),
            func.count().label("size"), func.max(rows.c.figure).label("figure"),
            func.max(rows.c.base).label("base"), func.max(linked).label("case_id")).group_by(key).subquery()
    else:
        window = {"partition_by": rows.c.subject_key, "order_by": rows.c.member_id, "rows": (None, None)}
        windowed = select(rows.c.subject_key, rows.c.subject, rows.c.figure, rows.c.base, linked.label("case_id"),
                          func.aggregate_strings(cast(rows.c.member_id, Text), ",").over(**window).label("members"),
                          func.count().over(**window).label("size")).subquery()
        grouped = select(windowed.c.subject_key, func.max(windowed.c.subject).label("subject"),
                         func.max(windowed.c.members).label("members"), func.max(windowed.c.size).label("size"),
                         func.max(windowed.c.figure).label("figure"), func.max(windowed.c.base).label("base"),
                         func.max(windowed.c.case_id).label("case_id")).group_by(windowed.c.subject_key).subquery()
    return select(
        literal(ctx.season_id).label("season_id"), literal(name).label("rule"), grouped.c.subject_key,
        func.substr(grouped.c.subject, 1, 300).label("subject"), literal(str(rule.member_kind)).label("member_kind"),
        grouped.c.members, grouped.c.size, grouped.c.figure, grouped.c.base,
        func.md5(_text(name, "|", grouped.c.subject_key, "|", grouped.c.members)).label("fingerprint"),
        grouped.c.case_id)


_COLUMNS = ("season_id", "rule", "subject_key", "subject", "member_kind", "members", "size", "figure", "base",
            "fingerprint", "case_id")


def _upsert(session: Session, ctx: Context, name: str, rule: Rule, now: datetime) -> None:
    """Insert the rule's flags; one whose fingerprint is there already is only marked seen (a cleared one opens
    again; dismissed and confirmed ones keep their review)."""
    if ctx.postgres:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    found = _flags(ctx, name, rule).subquery()
    source = select(*(found.c[c] for c in _COLUMNS), literal(AnomalyStatus.OPEN).label("status"),
                    literal(now, _flag_t.c.first_seen_at.type).label("first_seen_at"),
                    literal(now, _flag_t.c.last_seen_at.type).label("last_seen_at"),
                    literal("").label("reason"))
    if not ctx.postgres:
        source = source.where(literal(True))  # SQLite's parser: INSERT ... SELECT ... ON CONFLICT needs a WHERE
    statement = insert(_flag_t).from_select([*_COLUMNS, "status", "first_seen_at", "last_seen_at", "reason"], source)
    statement = statement.on_conflict_do_update(
        index_elements=["rule", "fingerprint"],
        set_={"last_seen_at": statement.excluded.last_seen_at,
              "case_id": func.coalesce(_flag_t.c.case_id, statement.excluded.case_id),
              "status": case((_flag_t.c.status == AnomalyStatus.CLEARED, AnomalyStatus.OPEN),
                             else_=_flag_t.c.status)})
    session.execute(statement)
    session.execute(update(_flag_t).where(_flag_t.c.rule == name, _flag_t.c.status == AnomalyStatus.OPEN,
                                          _flag_t.c.last_seen_at < now).values(status=AnomalyStatus.CLEARED))


@dataclass(frozen=True)
class RunResult:
    season_id: int
    raised: dict[str, int]   # new flags per rule
    open: dict[str, int]     # open flags per rule after the run
    ran: bool = True         # False: another process was running the rules


def run(session: Session, actor: User | None = None, *, rules: list[str] | None = None) -> RunResult | None:
    """Run the rules (all, or those named) over the active season, in the caller's transaction. None when there is
    no active season; `ran` False when another process holds the run (PostgreSQL's advisory lock)."""
    if actor is not None and actor.role not in REVIEWERS:
        raise NotAllowed("只有区发改局可以运行异常预警")
    season = active_season_or_none(session)
    if season is None:
        return None
    conn = session.connection()
    pg = pg_branch(conn)
    if conn.dialect.name == "postgresql":
        if not conn.execute(select(func.pg_try_advisory_xact_lock(_RUN_LOCK))).scalar():
            return RunResult(season.id, {}, {}, ran=False)
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # the window functions sort a season's slips
        # JIT compiling these statements' many expressions cost more than it saved (scripts/bench_anomalies.py).
        conn.exec_driver_sql("SET LOCAL jit = off")
    settings = get_settings()
    ctx = Context(season_id=season.id, today=clock.today(), burst_slips=max(1, settings.anomaly_burst_slips),
                  night_burst_slips=max(1, settings.anomaly_night_burst_slips), pg=pg,
                  postgres=conn.dialect.name == "postgresql")
    now = clock.now()
    names = [n for n in RULES if rules is None or n in rules]
    for name in names:
        rule = RULES[name]
        if ctx.postgres:
            for setting, value in rule.planner:
                conn.exec_driver_sql(f"SET LOCAL {setting} = {value}")
        _upsert(session, ctx, name, rule, now)
        if ctx.postgres:
            for setting, _ in rule.planner:
                conn.exec_driver_sql(f"SET LOCAL {setting} TO DEFAULT")
    # A flag raised with its case (a callback's) is noted in that case's history: a few a night, not a season's rows.
    for linked in session.execute(select(AnomalyFlag).where(AnomalyFlag.first_seen_at == now,
                                                            AnomalyFlag.case_id.is_not(None))).scalars():
        cases.note(session, None, linked.case_id, comment=_linked_note(linked))
    raised = dict(session.execute(select(_flag_t.c.rule, func.count()).where(_flag_t.c.first_seen_at == now)
                                  .group_by(_flag_t.c.rule)).all())
    still = dict(session.execute(select(_flag_t.c.rule, func.count()).where(_flag_t.c.status == AnomalyStatus.OPEN)
                                 .group_by(_flag_t.c.rule)).all())
    result = RunResult(season.id, {n: raised.get(n, 0) for n in names}, {n: still.get(n, 0) for n in names})
    audit.record(session, actor, "anomaly.run", "anomaly_flag", entity_id="",
                 after={"season_id": season.id, "raised": sum(result.raised.values()),
                        "open": sum(result.open.values())})
    return result


# --- reviewing -------------------------------------------------------------------------------------------------------

def _snapshot(flag_: AnomalyFlag) -> dict:
    """The flag for its audit entries without its member list (thousands of ids, which the flag keeps)."""
    return {k: v for k, v in audit.snapshot(flag_).items() if k != "members"}


def _review(session: Session, user: User, flag_id: int, to: str, **values) -> tuple[AnomalyFlag, dict]:
    if user.role not in REVIEWERS:
        raise NotAllowed("只有区发改局可以核查异常预警")
    flag = get_or_404(session, AnomalyFlag, flag_id)
    before = _snapshot(flag)
    moved = session.execute(update(AnomalyFlag).where(AnomalyFlag.id == flag.id,
                                                      AnomalyFlag.status.in_([AnomalyStatus.OPEN,
                                                                              AnomalyStatus.CLEARED]))
                            .values(status=to, reviewed_by=user.id, reviewed_at=clock.now(), **values)
                            .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该预警已核查过", field="status")
    session.refresh(flag)
    return flag, before


def dismiss(session: Session, user: User, flag_id: int, *, reason: str) -> AnomalyFlag:
    """open → dismissed, with the reason. The same evidence never raises it again (the fingerprint); a flag
    reviewed already is a Conflict (409)."""
    reason = clean_text(reason, "reason", REASON_MAX, label="排除理由", required=True)
    flag, before = _review(session, user, flag_id, AnomalyStatus.DISMISSED, reason=reason)
    audit.record(session, user, "anomaly.dismissed", flag, before=before, after=_snapshot(flag))
    return flag


def _linked_note(flag_: AnomalyFlag) -> str:
    return f"异常预警 #{flag_.id}（{title_of(flag_.rule)}：{flag_.subject}，{figures_of(flag_)}）关联本案件，待核查"[
        :cases.COMMENT_MAX]


def _confirmed_note(flag_: AnomalyFlag, comment: str) -> str:
    text = f"异常预警 #{flag_.id}（{title_of(flag_.rule)}：{flag_.subject}）经区发改局核查确认，并入本案件办理"
    return (text + (f"。核查意见：{comment}" if comment else ""))[:cases.COMMENT_MAX]


def confirm(session: Session, user: User, flag_id: int, *, comment: str = "") -> AnomalyFlag:
    """open → confirmed, opening a case (channel `system`, the bureau's) that names the flag and links its first
    household or slip; a flag whose evidence opened its case already (`case_id`: a callback's) is confirmed onto
    that case, noted in its history (`case.noted`), and opens none. A flag reviewed already is a Conflict (409):
    two reviewers confirming at once open one case (the conditional update decides, and the loser's case rolls back
    with its transaction)."""
    comment = clean_text(comment, "comment", REASON_MAX, label="核查意见")
    flag = get_or_404(session, AnomalyFlag, flag_id)
    if flag.status not in (AnomalyStatus.OPEN, AnomalyStatus.CLEARED):
        raise Conflict("该预警已核查过", field="status")
    if flag.case_id is not None:
        # The evidence opened its case already (a callback's): the flag is confirmed onto it, not onto a second.
        flag, before = _review(session, user, flag_id, AnomalyStatus.CONFIRMED, reason=comment)
        audit.record(session, user, "anomaly.confirmed", flag, before=before, after=_snapshot(flag))
        cases.note(session, user, flag.case_id, comment=_confirmed_note(flag, comment))
        return flag
    first = int(flag.members.split(",")[0]) if flag.members else None
    link = {}
    if first is not None and flag.member_kind == AnomalyMemberKind.HOUSEHOLD:
        link["household_id"] = first
    elif first is not None:
        number = session.execute(select(Slip.number).where(Slip.id == first)).scalar_one_or_none()
        link["slip_number"] = number
    category = "impersonation" if flag.rule in ("shared_phone", "shared_address") else "other"
    description = (f"异常预警：{title_of(flag.rule)}，{flag.subject}，{figures_of(flag)}。"
                   f"{RULES[flag.rule].explanation if flag.rule in RULES else ''}")
    case = cases.open_case(session, None, channel="system", category=category, description=description[:2000],
                           season_id=flag.season_id, comment=comment or f"由异常预警 #{flag.id} 确认", **link)
    flag, before = _review(session, user, flag_id, AnomalyStatus.CONFIRMED, reason=comment, case_id=case.id)
    audit.record(session, user, "anomaly.confirmed", flag, before=before, after=_snapshot(flag))
    return flag


# --- reading ---------------------------------------------------------------------------------------------------------

def _require_reader(user: User) -> None:
    if user.role not in READERS:
        raise NotAllowed("没有查看异常预警的权限")


SORTS = {"id": AnomalyFlag.id}
DEFAULT_SORT = "-id"


def list_flags(session: Session, *, rule: str | None = None, status: str | None = None,
               season_id: int | None = None, sort: str | None = None, **page) -> paging.Page:
    """A page of the flags, newest first (paging.fetch's keyword arguments: cursors, a capped count, like every
    list), of the season whose run raised them (`season_id`; every season when None); an unknown rule or status is
    refused by its field."""
    where = []
    if season_id is not None:
        where.append(AnomalyFlag.season_id == season_id)
    if rule:
        if rule not in RULES:
            raise Refused("没有这条预警规则", field="rule")
        where.append(AnomalyFlag.rule == rule)
    if status:
        if status not in set(AnomalyStatus):
            raise Refused("请选择正确的状态", field="status")
        where.append(AnomalyFlag.status == status)
    return paging.fetch(session, select(AnomalyFlag).where(*where),
                        paging.Order.of(sort, SORTS, DEFAULT_SORT, AnomalyFlag.id), **page)


def open_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AnomalyFlag)
                           .where(AnomalyFlag.status == AnomalyStatus.OPEN)).scalar_one()


def member_ids(flag: AnomalyFlag, limit: int | None = None) -> list[int]:
    ids = [int(i) for i in flag.members.split(",") if i] if flag.members else []
    return ids[:limit] if limit is not None else ids


@dataclass(frozen=True)
class Member:
    """One piece of a flag's evidence as its page lists it: the household or slip, with what identifies it
    (the phone masked by the page, never whole here)."""

    kind: str
    id: int
    label: str        # the head's name, or the slip's number
    village: str
    address: str
    phone_tail: str
    extra: str        # a slip's status and time


MEMBERS_SHOWN = 200


def members_of(session: Session, flag: AnomalyFlag, limit: int = MEMBERS_SHOWN) -> list[Member]:
    """The first `limit` households or slips of a flag's evidence (a flag on a placeholder phone may name
    thousands); unscoped reads: the readers of flags are district-wide."""
    ids = member_ids(flag, limit)
    if not ids:
        return []
    if flag.member_kind == AnomalyMemberKind.HOUSEHOLD:
        rows = session.execute(select(_h.c.id, _h.c.head_name, _v.c.name, _h.c.address, _h.c.phone_tail)
                               .join(_v, _v.c.id == _h.c.village_id).where(_h.c.id.in_(ids)).order_by(_h.c.id)
                               .execution_options(unscoped=True)).all()
        return [Member("household", i, name, village, address, tail, "") for i, name, village, address, tail in rows]
    rows = session.execute(select(_s.c.id, _s.c.number, _v.c.name, _s.c.address, _s.c.phone_tail, _s.c.status,
                                  _s.c.issued_at, _s.c.head_name)
                           .join(_v, _v.c.id == _s.c.village_id).where(_s.c.id.in_(ids)).order_by(_s.c.id)
                           .execution_options(unscoped=True)).all()
    return [Member("slip", i, number, village, address, tail,
                   f"{head} · {'已作废' if status == SlipStatus.VOIDED else '有效'} · "
                   f"{clock.local(at).strftime('%Y-%m-%d %H:%M')}")
            for i, number, village, address, tail, status, at, head in rows]


@dataclass(frozen=True)
class FlagView:
    """A flag with what its page shows: the first MEMBERS_SHOWN of its evidence, its figures, the case it opened."""

    flag: AnomalyFlag
    members: list[Member]
    figures: str
    case: Case | None
    season: Season | None


def view(session: Session, user: User, flag_id: int) -> FlagView:
    _require_reader(user)
    found = get_or_404(session, AnomalyFlag, flag_id)
    return FlagView(found, members_of(session, found), figures_of(found),
                    session.get(Case, found.case_id) if found.case_id else None, session.get(Season, found.season_id))
