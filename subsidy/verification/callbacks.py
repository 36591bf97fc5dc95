"""Callbacks (回访抽查, issue #16 items 3 and 4): the bureau, or a town on its own summaries, draws a random sample of
a submitted summary's slips and calls each sampled household back.

The draw (`draw_sample`). A percentage or a size of the summary's standing slips, at least one, with a seed from
`secrets` recorded on the sample: `random.Random(seed).sample` over the slip ids in ascending order
(subsidy/rules/sampling.py) draws the same slips again from the same population, whose SHA-256 is kept beside the
seed. One sample per summary (DESIGN.md invariant 9): the summary's row is locked first, so a second draw waits and
then finds the first (409), and `callback_sample.summary_id` is unique behind it. Drawn while the summary waits for
its town or for the bureau (submitted, town approved): after the bureau's approval it would check nothing.

A callback (`record_callback`). Append-only rows in `callback`: a household not reached is recorded with the tries so
far, and called again later in a new row that claims more tries; the row that reaches it, or that records the third
unanswered try (`UNREACHED_AFTER_TRIES`), is done, and nothing is recorded after it (409). One done row per sampled
slip and sample, by a partial unique index; recordings of one slip take turns on the sampled slip's row lock.

A discrepancy: the household received less coal or fewer stoves than the slip says, paid more than the slip's
household share (`household_pays_fen`), or denies the purchase (reached, received nothing). It never changes the
slip: the slip is set aside from its summary with the reason (settlement's `take_out`, the reviewers' set-aside),
so that money follows only the slips that stand, and a case is opened (channel `callback`) for the slip's town.

The bureau cannot approve a summary whose sample has callbacks not done (settlement/summaries.py reads these
tables: `_refuse_open_callbacks`).

The note is what a household said: personal data. The audit entry names the callback row (`note_ref`), never the
text; nothing here logs it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from subsidy.core import audit, paging
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import (
    UNREACHED_AFTER_TRIES, Callback, CallbackSample, CallbackSampleSlip, CaseCategory, Role, Slip, Summary,
    SummaryStatus, Supplier, Town, User,
)
from subsidy.oversight import cases
from subsidy.rules import sampling
from subsidy.rules.money import yuan
from subsidy.rules.text import clean_text
from subsidy.settlement import summaries

S = SummaryStatus
CALLERS = frozenset({Role.TOWN, Role.DRC})
DRAWABLE = (S.SUBMITTED, S.TOWN_APPROVED)  # waiting for the town or the bureau
RECORDABLE = (S.SUBMITTED, S.TOWN_APPROVED, S.RETURNED)  # before the bureau's approval, which waits for them
SEED_BITS = 63  # fits a signed BIGINT
NOTE_MAX = 500
MAX_ATTEMPTS = 99
MAX_KG = 10**9
MAX_FEN = 10**12
PAGE = 100  # sampled slips per page of the sample


@dataclass(frozen=True)
class Drawn:
    sample: CallbackSample
    numbers: list[str]  # the drawn slips' numbers, in the order of the draw


@dataclass(frozen=True)
class Progress:
    """A sample at a glance: slips drawn, callbacks done (reached, or unreached after three tries), reached, and
    discrepancies found."""

    sample_id: int
    size: int
    done: int
    reached: int
    discrepancies: int

    @property
    def open(self) -> int:
        return self.size - self.done

    def as_dict(self) -> dict[str, int]:
        return {"size": self.size, "done": self.done, "discrepancies": self.discrepancies}


@dataclass(frozen=True)
class Recorded:
    callback: Callback
    reasons: list[str]  # why it is a discrepancy, in Chinese; empty when it is none


@dataclass(frozen=True)
class SampledRow:
    position: int
    slip: Slip
    last: Callback | None  # the latest recording, None before the first call


def _require_caller(user: User) -> None:
    if user.role not in CALLERS:
        raise NotAllowed("只有街道/镇和区发改局可以进行回访抽查")


def _whole(value, field: str, label: str, low: int, high: int, *, required: bool = True) -> int | None:
    """An integer typed by someone, within [low, high]; a bool is not one (JSON `true`)."""
    if value is None or value == "":
        if required:
            raise Refused(f"请填写{label}", field=field)
        return None
    if isinstance(value, bool):
        raise Refused(f"{label}应为整数", field=field)
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 15:
            raise Refused(f"{label}应为不小于 {low} 的整数", field=field)
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise Refused(f"{label}应在 {low} 至 {high} 之间", field=field)
    return value


# --- the draw --------------------------------------------------------------------------------------------------------

def draw_sample(session: Session, *, user: User, summary_id: int, percent=None, size=None) -> Drawn:
    """Draw the summary's callback sample: `percent` (1–100, rounded up) or `size` (1 to the slip count) of its
    standing slips. Conflict when it already has one, or is not waiting for the town or the bureau."""
    _require_caller(user)
    summary = get_or_404(session, Summary, summary_id)
    if (percent is None or percent == "") == (size is None or size == ""):
        raise Refused("请填写抽查比例或抽查户数（二者填一项）", field="size")
    if summary.status not in DRAWABLE:
        raise Conflict("只有已提交、尚待街道/镇或区发改局审核的汇总表可以抽查", field="status")
    summaries.lock_in_status(session, summary, DRAWABLE)
    existing = sample_of(session, summary.id)
    if existing is not None:
        raise Conflict("该汇总表已抽取过回访样本，不能重复抽取", field="sample", existing_id=existing.id)
    population = summaries.standing_slip_ids(session, summary)
    if not population:
        raise Refused("该汇总表没有有效的销售单，无法抽查", field="size")
    if percent not in (None, ""):
        percent = _whole(percent, "percent", "抽查比例（%）", 1, 100)
        count = sampling.size_of_percent(len(population), percent)
    else:
        percent = None
        count = _whole(size, "size", "抽查户数", 1, len(population))
    seed = secrets.randbits(SEED_BITS)
    chosen = sampling.draw(seed, population, count)
    sample = CallbackSample(summary_id=summary.id, seed=seed, size=count, population=len(population),
                            population_digest=sampling.digest(population), percent=percent, drawn_by=user.id)
    session.add(sample)
    session.flush()
    session.execute(insert(CallbackSampleSlip), [{"sample_id": sample.id, "slip_id": slip_id, "position": i}
                                                 for i, slip_id in enumerate(chosen, start=1)])
    # Read back through the rows just written, not `IN (chosen)`: a draw of tens of thousands of slips would pass
    # more bind parameters than SQLite (32,766) or psycopg (65,535) take.
    numbers = dict(session.execute(select(Slip.id, Slip.number)
                                   .join(CallbackSampleSlip, CallbackSampleSlip.slip_id == Slip.id)
                                   .where(CallbackSampleSlip.sample_id == sample.id)
                                   .execution_options(unscoped=True)).all())
    audit.record(session, user, "callback.sample_drawn", sample)
    return Drawn(sample, [numbers[i] for i in chosen])


def sample_of(session: Session, summary_id: int) -> CallbackSample | None:
    return session.execute(select(CallbackSample).where(CallbackSample.summary_id == summary_id)
                           .execution_options(unscoped=True)).scalar_one_or_none()


# --- callbacks -------------------------------------------------------------------------------------------------------

def _sampled(session: Session, slip_number) -> tuple[Slip, CallbackSampleSlip]:
    """The slip (in the caller's scope) and its place in the latest sample that drew it, locked: recordings of one
    sampled slip take turns. NotFound for a slip in no sample."""
    number = clean_text(slip_number, "slip_number", 32, label="销售单号").upper() if slip_number else ""
    slip = session.execute(select(Slip).where(Slip.number == number)).scalar_one_or_none() if number else None
    if slip is None:
        raise NotFound("未找到该销售单，或该销售单不在回访样本中")
    sampled = session.execute(select(CallbackSampleSlip).where(CallbackSampleSlip.slip_id == slip.id)
                              .order_by(CallbackSampleSlip.sample_id.desc()).limit(1).with_for_update()
                              .execution_options(unscoped=True)).scalar_one_or_none()
    if sampled is None:
        raise NotFound("该销售单不在回访样本中")
    return slip, sampled


def discrepancies(slip: Slip, *, received_kg: int, received_stoves: int, paid_fen: int) -> list[tuple[str, str]]:
    """(case category, reason) of what a reached household said against its slip; empty when it matches."""
    if received_kg == 0 and received_stoves == 0:
        return [(CaseCategory.IMPERSONATION, "回访住户否认购买")]
    found = []
    if received_kg < slip.coal_kg:
        found.append((CaseCategory.SHORT_WEIGHT, f"住户称实收洁净煤{received_kg}公斤，"
                                                 f"少于销售单的{slip.coal_kg}公斤"))
    if received_stoves < slip.stoves:
        found.append((CaseCategory.SHORT_WEIGHT, f"住户称实收炉具{received_stoves}台，少于销售单的{slip.stoves}台"))
    if paid_fen > slip.household_pays_fen:
        found.append((CaseCategory.PRICE, f"住户称实付{yuan(paid_fen)}元，超过销售单应付的{yuan(slip.household_pays_fen)}元"))
    return found


def record_callback(session: Session, *, user: User, slip_number, reached, attempts, received_kg=None,
                    received_stoves=None, paid_fen=None, note="") -> Recorded:
    """Record a call (or the calls so far) to a sampled household. `attempts` counts every try up to this one, so
    it must exceed what was recorded before; `received_*` and `paid_fen` are required when `reached`. A discrepancy
    sets the slip aside from its summary and opens a case."""
    _require_caller(user)
    if not isinstance(reached, bool):
        raise Refused("请选择是否联系到住户", field="reached")
    attempts = _whole(attempts, "attempts", "拨打次数", 1, MAX_ATTEMPTS)
    note = clean_text(note or "", "note", NOTE_MAX, label="回访情况")
    if reached:
        received_kg = _whole(received_kg, "received_kg", "住户实收洁净煤（公斤）", 0, MAX_KG)
        received_stoves = _whole(received_stoves, "received_stoves", "住户实收炉具（台）", 0, 1000)
        paid_fen = _whole(paid_fen, "paid_fen", "住户实付金额", 0, MAX_FEN)
    else:
        received_kg = received_stoves = paid_fen = None
    slip, sampled = _sampled(session, slip_number)
    sample = session.get(CallbackSample, sampled.sample_id)
    summary = get_or_404(session, Summary, sample.summary_id)
    if summary.status not in RECORDABLE:
        raise Conflict("该汇总表已经区发改局审核，回访抽查已结束", field="status")
    last = _last(session, sample.id, slip.id)
    if last is not None and last.done:
        raise Conflict("该销售单的回访已记录完毕，不能重复记录", field="slip_number", existing_id=last.id)
    if last is not None and attempts <= last.attempts:
        raise Refused(f"此前已记录拨打 {last.attempts} 次，本次记录的累计拨打次数应大于 {last.attempts}",
                      field="attempts")
    found = discrepancies(slip, received_kg=received_kg, received_stoves=received_stoves,
                          paid_fen=paid_fen) if reached else []
    callback = Callback(sample_id=sample.id, slip_id=slip.id, reached=reached, attempts=attempts,
                        done=reached or attempts >= UNREACHED_AFTER_TRIES, received_kg=received_kg,
                        received_stoves=received_stoves, paid_fen=paid_fen, note=note, discrepancy=bool(found),
                        recorded_by=user.id)
    session.add(callback)
    session.flush()
    reasons = [reason for _, reason in found]
    if found:
        reason = "回访发现问题：" + "；".join(reasons)
        opened = cases.open_case(session, user, channel="callback", category=found[0][0],
                                 description=f"{reason}（销售单 {slip.number}，汇总表 HZ-{summary.id:06d}）",
                                 slip_number=slip.number, household_id=slip.household_id, town_id=slip.town_id)
        callback.case_id = opened.id
        session.flush()
        if slip.summary_id == summary.id and slip.status == "issued":
            summaries.take_out(session, actor=user, summary=summary, slip_id=slip.id, reason=reason[:200])
    audit.record(session, user, "callback.recorded", callback,
                 after={**audit.snapshot(callback), "note": "", "note_ref": f"callback:{callback.id}" if note else ""})
    return Recorded(callback, reasons)


def _last(session: Session, sample_id: int, slip_id: int):
    """The latest recording's id, tries and whether it was the last (not its note: a row read here is never
    logged with what the household said, whatever SQLAlchemy's log level)."""
    return session.execute(select(Callback.id, Callback.attempts, Callback.done)
                           .where(Callback.sample_id == sample_id, Callback.slip_id == slip_id)
                           .order_by(Callback.attempts.desc()).limit(1)
                           .execution_options(unscoped=True)).first()


# --- reading ---------------------------------------------------------------------------------------------------------

def progress(session: Session, summary_ids: list[int]) -> dict[int, Progress]:
    """Each of these summaries' sample at a glance, by summary id (absent: no sample), in one statement."""
    if not summary_ids:
        return {}
    rows = session.execute(
        select(CallbackSample.summary_id, CallbackSample.id, CallbackSample.size, func.count(Callback.id),
               func.coalesce(func.sum(case((Callback.reached, 1), else_=0)), 0),
               func.coalesce(func.sum(case((Callback.discrepancy, 1), else_=0)), 0))
        .outerjoin(Callback, (Callback.sample_id == CallbackSample.id) & Callback.done)
        .where(CallbackSample.summary_id.in_(summary_ids))
        .group_by(CallbackSample.summary_id, CallbackSample.id, CallbackSample.size)
        .execution_options(unscoped=True)).all()
    return {summary_id: Progress(sample_id, size, int(done), int(reached), int(found))
            for summary_id, sample_id, size, done, reached, found in rows}


# A sample's one order: the draw's (positions run 1..size without gaps; unique with the sample, so also the tiebreak).
ORDER = paging.Order.of(None, {"position": CallbackSampleSlip.position}, "position", CallbackSampleSlip.position)


def sampled_rows(session: Session, sample: CallbackSample, *, page: int = 1, per_page: int = PAGE,
                 after: str | None = None, before: str | None = None) -> paging.Page:
    """One page of the sample's slips in the order of the draw (paging.fetch: by cursor or by page number), each
    with its latest recording, as SampledRows; `total` is the sample's size (nothing to count)."""
    stmt = (select(CallbackSampleSlip.position, Slip).join(Slip, Slip.id == CallbackSampleSlip.slip_id)
            .where(CallbackSampleSlip.sample_id == sample.id).execution_options(unscoped=True))
    result = paging.fetch(session, stmt, ORDER, per_page=per_page, page=page, after=after, before=before,
                          count=False)
    slip_ids = [slip.id for _, slip in result.items]
    latest: dict[int, Callback] = {}
    if slip_ids:
        for callback in session.execute(select(Callback).where(Callback.sample_id == sample.id,
                                                               Callback.slip_id.in_(slip_ids))
                                        .order_by(Callback.attempts).execution_options(unscoped=True)).scalars():
            latest[callback.slip_id] = callback
    result.items = [SampledRow(position, slip, latest.get(slip.id)) for position, slip in result.items]
    result.total = sample.size
    return result


@dataclass
class SupplierTownFigures:
    """The callbacks of one supplier's month in one town (its summary's sample): slips drawn, callbacks done
    (reached, or unreached after three tries), reached, and discrepancies found."""

    supplier_id: int
    supplier: str
    town_id: int
    town: str
    size: int = 0
    done: int = 0
    reached: int = 0
    discrepancies: int = 0


def month_figures_by_supplier_and_town(session: Session, month: str) -> list[SupplierTownFigures]:
    """The callbacks of the summaries of `month` per supplier and town (a summary is one supplier's month in one
    town), in the caller's scope (a town: its own), by supplier name and town. Two grouped statements, whatever the
    number of callbacks."""
    found: dict[tuple[int, int], SupplierTownFigures] = {}
    names = dict(session.execute(select(Supplier.id, Supplier.name).execution_options(unscoped=True)).all())
    towns = dict(session.execute(select(Town.id, Town.name).execution_options(unscoped=True)).all())

    def figures(supplier_id: int, town_id: int) -> SupplierTownFigures:
        key = (supplier_id, town_id)
        if key not in found:
            found[key] = SupplierTownFigures(supplier_id, names.get(supplier_id, ""), town_id, towns.get(town_id, ""))
        return found[key]

    for supplier_id, town_id, size in session.execute(
            select(Summary.supplier_id, Summary.town_id, func.coalesce(func.sum(CallbackSample.size), 0))
            .join(Summary, Summary.id == CallbackSample.summary_id).where(Summary.month == month)
            .group_by(Summary.supplier_id, Summary.town_id)):
        figures(supplier_id, town_id).size = int(size)
    for supplier_id, town_id, done, reached, found_wrong in session.execute(
            select(Summary.supplier_id, Summary.town_id, func.count(Callback.id),
                   func.coalesce(func.sum(case((Callback.reached, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((Callback.discrepancy, 1), else_=0)), 0))
            .select_from(Callback).join(CallbackSample, CallbackSample.id == Callback.sample_id)
            .join(Summary, Summary.id == CallbackSample.summary_id)
            .where(Callback.done, Summary.month == month).group_by(Summary.supplier_id, Summary.town_id)):
        row = figures(supplier_id, town_id)
        row.done, row.reached, row.discrepancies = int(done), int(reached), int(found_wrong)
    return sorted(found.values(), key=lambda f: (f.supplier, f.town_id))


def month_figures(session: Session, month: str,
                  by_supplier_and_town: list[SupplierTownFigures] | None = None) -> Progress:
    """The callbacks of the summaries of `month`, in the caller's scope (a town: its own): slips drawn, callbacks
    done, reached, discrepancies; the total of `month_figures_by_supplier_and_town` (given, or read). For the
    monthly report."""
    rows = (month_figures_by_supplier_and_town(session, month) if by_supplier_and_town is None
            else by_supplier_and_town)
    return Progress(0, sum(r.size for r in rows), sum(r.done for r in rows), sum(r.reached for r in rows),
                    sum(r.discrepancies for r in rows))


@dataclass(frozen=True)
class SamplePage:
    """What the sample's page shows: the summary, its sample (None before the draw) with its progress, one page
    of the drawn slips (a paging.Page of SampledRows), and whether the sample may still be drawn or called."""

    summary: Summary
    sample: CallbackSample | None
    progress: Progress | None
    rows: paging.Page
    drawable: bool
    recordable: bool


def sample_page(session: Session, summary_id: int, **page) -> SamplePage:
    """The summary's sample with one page of its slips (paging.fetch's keyword arguments: `page`, `per_page`,
    `after`, `before`)."""
    summary = get_or_404(session, Summary, summary_id)
    sample = sample_of(session, summary.id)
    if sample is None:
        return SamplePage(summary, None, None, paging.Page([], PAGE, total=0), summary.status in DRAWABLE, False)
    return SamplePage(summary, sample, progress(session, [summary.id]).get(summary.id),
                      sampled_rows(session, sample, **page), False, summary.status in RECORDABLE)
