"""Standards as presets judged on their boundaries, and government spot checks (抽检) on a real database (SQLite and
PostgreSQL): a failure freezes the batch whatever sale is running, opens a case, lists the slips sold from it, and
makes the supplier's batches of the same source due for a re-test; the coverage figures count all of it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from subsidy.core import clock, db
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.models import Batch, Case, CaseLink, SpotCheck
from subsidy.policy import quality, seasons
from subsidy.quality import coverage, inspections
from subsidy.sales import issuing
from subsidy.supply import batches, ledger
from tests.factories import sales as f
from tests.factories.supply import add_batch

GOOD = {"volatile_pct": "9.80", "sulfur_pct": "0.35", "ash_pct": "18.00", "calorific_mj_kg": "24.5"}
# Sulfur over the briquette default (GB 34170 型煤1号: St,d <= 0.50 %).
BAD = {**GOOD, "sulfur_pct": "0.80"}
FROZEN = "政府抽检不合格，已停止销售"


def check_input(values=None, *, days_ago: int = 0, report_no: str = "CJ-2026-001", **overrides):
    return inspections.SpotCheckInput(
        sampled_on=clock.today() - timedelta(days=days_ago), place="东关配送点", sampler="王检查",
        lab="泰安市产品质量检验所", report_no=report_no, values=dict(values or GOOD), **overrides)


def sell(session, clerk, kg=100, batch_id=None):
    h, r = f.household(session, "dongguan", coal_kg=3000)
    return issuing.issue_slip(session, clerk=clerk, registration_id=r.id, id_number=h.id_number,
                              lines=[issuing.LineIn("briquette", kg, batch_id=batch_id)])


# --- presets on their boundaries ---------------------------------------------------------------------------------

def _at(indicator, limit):
    return quality.limit_text(indicator, limit)


def _report(preset, **over):
    """Every limited value exactly at its limit; a value without a limit far out (it is not judged)."""
    values = {}
    for i in quality.INDICATORS:
        limit = preset.limit(i.limit_column)
        if limit is not None:
            values[i.key] = _at(i, limit)
        elif i.required:
            values[i.key] = _at(i, i.bound if i.kind == "max" else 0)
    values.update(over)
    return values


@pytest.mark.parametrize("code", sorted(quality.PRESETS))
def test_each_preset_passes_every_value_at_its_limit_and_fails_one_step_over_naming_it(demo, session, code):
    season = seasons.active_season(session)
    preset = quality.PRESETS[code]
    standard = quality.apply_preset(session, None, season.id, "briquette", code)
    assert standard.preset == code and standard.source == preset.source
    at_limit = add_batch(session, report_no=f"{code}-AT", **_report(preset))
    assert at_limit.passed, batches.reasons(at_limit)
    limited = [i for i in quality.INDICATORS if preset.limit(i.limit_column) is not None]
    assert limited
    for i in limited:
        limit = preset.limit(i.limit_column)
        step = limit + 1 if i.kind == "max" else limit - 1
        over = add_batch(session, report_no=f"{code}-{i.key}", **_report(preset, **{i.key: _at(i, step)}))
        word = "超过上限" if i.kind == "max" else "低于下限"
        assert batches.reasons(over) == [f"{i.name} {i.show(step)} {word} {i.show(limit)}"], i.key


def test_a_limit_left_empty_is_not_applicable_and_a_value_not_reported_is_not_judged(demo, session):
    season = seasons.active_season(session)
    quality.save_standard(session, None, season.id, "briquette", volatile_pct="", sulfur_pct="0.50", ash_pct="",
                          calorific_mj_kg="", mercury_ug_g="0.600", source="只管硫和汞")
    standard = quality.standard_for(session, season.id, "briquette")
    assert (standard.max_volatile_cpct, standard.max_ash_cpct, standard.min_calorific_kj_kg) == (None, None, None)
    assert standard.max_mercury_ng_g == 600
    loose = add_batch(session, volatile_pct="40", ash_pct="60", calorific_mj_kg="5")
    assert loose.passed and loose.mercury_ng_g is None  # not reported: empty, not zero
    assert quality.unreported(loose, standard) == ["汞 Hg,d"]
    assert not add_batch(session, mercury_ug_g="0.601").passed


def test_every_failing_value_is_named_with_its_limit(demo, session):
    batch = add_batch(session, volatile_pct="12.01", sulfur_pct="0.51", ash_pct="25.01", calorific_mj_kg="20.999",
                      mercury_ug_g="0.7", arsenic_ug_g="81", phosphorus_pct="0.151", chlorine_pct="0.301",
                      fluorine_ug_g="201")
    assert batches.reasons(batch) == [
        "挥发分 Vdaf 12.01% 超过上限 12.00%", "全硫 St,d 0.51% 超过上限 0.50%", "灰分 Ad 25.01% 超过上限 25.00%",
        "低位发热量 Qnet,ar 20.999 MJ/kg 低于下限 21.000 MJ/kg", "汞 Hg,d 0.700 μg/g 超过上限 0.600 μg/g",
        "砷 As,d 81 μg/g 超过上限 80 μg/g", "磷 P,d 0.151% 超过上限 0.150%", "氯 Cl,d 0.301% 超过上限 0.300%",
        "氟 F,d 201 μg/g 超过上限 200 μg/g"]


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("moisture_pct", "-1", "不能为负数"),
    ("ash_pct", "100.01", "不能超过100%"),
    ("calorific_mj_kg", "41", "不应超过 40.000 MJ/kg"),
    ("mercury_ug_g", "1200", "不应超过 50.000 μg/g"),
    ("arsenic_ug_g", "3.5", "应为整数"),
    ("phosphorus_pct", "0.0151", "最多保留3位小数"),
    ("strength_n", "abc", "格式不正确"),
])
def test_values_out_of_range_or_with_more_decimals_than_the_lab_gives_are_refused_by_field(demo, session, field,
                                                                                           value, reason):
    with pytest.raises(Refused) as refused:
        add_batch(session, **{field: value})
    assert set(refused.value.errors) == {field} and reason in refused.value.errors[field]


# --- spot checks ------------------------------------------------------------------------------------------------

@pytest.fixture
def drc(session, demo):
    return f.user(session, "drc")


def test_a_passed_spot_check_changes_nothing_for_sales(session, drc):
    batch = add_batch(session, arrival_date=clock.today() - timedelta(days=3))
    check = inspections.record(session, drc, batch.id, check_input(days_ago=1))
    assert check.passed and check.case_id is None and batch.frozen_at is None
    assert check.standard_source.startswith("GB 34170-2017")


def test_a_failed_spot_check_freezes_the_batch_opens_a_case_and_names_the_failing_value(session, drc):
    batch = add_batch(session, report_no="JC-OWN-1")
    check = inspections.record(session, drc, batch.id, check_input(BAD))
    assert not check.passed and check.failed_reasons == "全硫 St,d 0.80% 超过上限 0.50%"
    session.refresh(batch)
    assert batch.frozen_at is not None and batch.passed  # its own report passed: the two are shown side by side
    case = session.get(Case, check.case_id)
    assert (case.channel, case.category, case.status) == ("inspection", "quality", "open")
    assert "0.80%" in case.description and "JC-OWN-1" in case.description
    links = {(link.kind, link.target_id) for link in session.execute(
        select(CaseLink).where(CaseLink.case_id == case.id)).scalars()}
    assert ("batch", batch.id) in links and ("supplier", batch.supplier_id) in links


def test_a_frozen_batch_sells_nothing_named_or_by_default_and_its_stock_stays_frozen_in_the_ledger(session, drc):
    clerk = f.user(session, "coal-a")
    for b in session.execute(select(Batch).where(Batch.supplier_id == clerk.supplier_id)).scalars():
        b.frozen_at = clock.now()  # only the new batch is for sale
    batch = add_batch(session, quantity_kg=1000)
    sold = sell(session, clerk, 300, batch.id)
    inspections.record(session, drc, batch.id, check_input(BAD))
    with pytest.raises(Refused) as named:
        sell(session, clerk, 100, batch.id)
    assert FROZEN in named.value.message and "JC-TEST-1" in named.value.message
    with pytest.raises(Refused) as default:
        sell(session, clerk, 100)
    assert "没有检验合格且库存足够" in default.value.message
    book = ledger.build(session, clerk.supplier_id, "briquette")
    assert book.frozen_kg >= 700 and book.sellable_kg == book.balance_kg - book.frozen_kg
    (row,) = [r for r in book.rows if r.batch_id == batch.id and r.kind == "in"]
    assert row.frozen and "冻结" in row.detail
    sold_list, total = inspections.sold_from(session, batch.id)
    assert total == 1 and sold_list[0].number == sold.number and sold_list[0].kg == 300
    assert sold_list[0].village == "东关村" or sold_list[0].village  # the household's village, for the exchange
    assert [(v.slips, v.kg) for v in inspections.sold_by_village(session, batch.id)] == [(1, 300)]


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"sampled_on": clock.today() + timedelta(days=1)}, "sampled_on", "不能晚于今天"),
    ({"sampled_on": clock.today() - timedelta(days=30)}, "sampled_on", "不能早于该批次的到货日期"),
    ({"sampled_on": None}, "sampled_on", "请填写抽样日期"),
    ({"lab": " "}, "lab", "检测机构"),
    ({"values": {**GOOD, "mercury_ug_g": "2000"}}, "mercury_ug_g", "不应超过"),
    ({"values": {**GOOD, "sulfur_pct": "-0.1"}}, "sulfur_pct", "不能为负数"),
])
def test_a_wrong_spot_check_is_refused_with_the_reason_and_writes_nothing(session, drc, change, field, reason):
    batch = add_batch(session, arrival_date=clock.today() - timedelta(days=10))
    data = check_input()
    for key, value in change.items():
        setattr(data, key, value)
    with pytest.raises(Refused) as refused:
        inspections.record(session, drc, batch.id, data)
    assert reason in refused.value.errors[field]
    assert session.execute(select(SpotCheck).where(SpotCheck.batch_id == batch.id)).first() is None


def test_only_the_bureau_records_spot_checks_a_batch_out_of_scope_is_not_found_and_a_report_is_recorded_once(
        session, drc):
    batch = add_batch(session)
    with pytest.raises(NotAllowed):
        inspections.record(session, f.user(session, "caiyuan"), batch.id, check_input())
    with pytest.raises(NotFound):
        inspections.record(session, drc, 10**9, check_input())
    inspections.record(session, drc, batch.id, check_input())
    with pytest.raises(Conflict):
        inspections.record(session, drc, batch.id, check_input())


def test_a_failure_makes_the_other_batches_of_the_same_source_due_for_a_retest_and_flags_an_overdue_supplier(
        session, drc):
    season = seasons.active_season(session)
    long_ago = clock.today() - timedelta(days=60)
    failed = add_batch(session, origin="测试矿区甲", report_no="JC-A", arrival_date=long_ago)
    same = add_batch(session, origin="测试矿区甲", report_no="JC-B", arrival_date=long_ago)
    other = add_batch(session, origin="测试矿区乙", report_no="JC-C", arrival_date=long_ago)
    elsewhere = add_batch(session, "coal-b", origin="测试矿区甲", report_no="JC-D", arrival_date=long_ago)
    check = inspections.record(session, drc, failed.id, check_input(BAD, days_ago=40))
    due = inspections.awaiting_retest(session, season.id).items
    assert [a.batch.id for a in due] == [same.id] and inspections.awaiting_count(session, season.id) == 1
    assert due[0].failed.id == check.id and due[0].deadline == check.sampled_on + timedelta(days=season.retest_days)
    assert other.id not in [a.batch.id for a in due] and elsewhere.id not in [a.batch.id for a in due]
    (late,) = inspections.overdue(session, season.id)
    assert late.supplier.id == failed.supplier_id  # 40 days ago, 30 days to re-test: overdue
    # A passed re-test within the deadline clears both lists.
    inspections.record(session, drc, same.id, check_input(days_ago=20, report_no="CJ-RE-1"))
    assert inspections.awaiting_retest(session, season.id).items == []
    assert inspections.awaiting_count(session, season.id) == 0
    assert inspections.overdue(session, season.id) == []
    assert inspections.retests(session, season.id)[0].retested_on == clock.today() - timedelta(days=20)


def test_the_retest_list_pages_by_cursor_and_names_each_batchs_earliest_failure(session, drc):
    season = seasons.active_season(session)
    long_ago = clock.today() - timedelta(days=60)
    first = add_batch(session, origin="测试矿区丙", report_no="JC-P1", arrival_date=long_ago)
    second = add_batch(session, origin="测试矿区丙", report_no="JC-P2", arrival_date=long_ago)
    due = [add_batch(session, origin="测试矿区丙", report_no=f"JC-P-{n}", arrival_date=long_ago) for n in range(3)]
    early = inspections.record(session, drc, first.id, check_input(BAD, days_ago=30, report_no="CJ-P-1"))
    inspections.record(session, drc, second.id, check_input(BAD, days_ago=10, report_no="CJ-P-2"))
    one = inspections.awaiting_retest(session, season.id, per_page=2)
    assert [a.batch.id for a in one.items] == [due[0].id, due[1].id] and one.total == 3 and one.next
    assert {a.failed.id for a in one.items} == {early.id}
    assert one.items[0].deadline == early.sampled_on + timedelta(days=season.retest_days)
    two = inspections.awaiting_retest(session, season.id, per_page=2, after=one.next)
    assert [a.batch.id for a in two.items] == [due[2].id] and two.page == 2 and two.next is None
    # The failed batches are frozen, so they are not due themselves.
    assert first.id not in [a.batch.id for a in one.items + two.items]


def test_the_spot_check_list_pages_newest_sample_first_and_filters_by_result(session, drc):
    season = seasons.active_season(session)
    long_ago = clock.today() - timedelta(days=60)
    made = [inspections.record(session, drc, add_batch(session, report_no=f"JC-L-{n}", arrival_date=long_ago).id,
                               check_input(BAD if n == 1 else None, days_ago=n, report_no=f"CJ-L-{n}"))
            for n in (3, 1, 2, 1)]
    one = inspections.listing(session, season_id=season.id, per_page=2)
    two = inspections.listing(session, season_id=season.id, per_page=2, after=one.next)
    newest = sorted(made, key=lambda c: (c.sampled_on, c.id), reverse=True)
    assert [r.check.id for r in one.items + two.items][:4] == [c.id for c in newest]
    assert one.items[0].batch_report_no.startswith("JC-L-") and one.items[0].supplier_name
    back = inspections.listing(session, season_id=season.id, per_page=2, before=two.prev)
    assert [r.check.id for r in back.items] == [r.check.id for r in one.items]
    failed = inspections.listing(session, season_id=season.id, passed=False)
    assert {r.check.id for r in failed.items} >= {c.id for c in made if not c.passed}
    assert all(not r.check.passed for r in failed.items)


def test_coverage_counts_batches_checked_failed_and_retested_per_supplier(session, drc):
    season = seasons.active_season(session)
    before = {r.supplier_name: r for r in coverage.coverage(session, season.id)}
    a = add_batch(session, origin="测试矿区丙", report_no="JC-1")
    b = add_batch(session, origin="测试矿区丙", report_no="JC-2")
    add_batch(session, origin="测试矿区丙", report_no="JC-3")
    inspections.record(session, drc, a.id, check_input(BAD))
    inspections.record(session, drc, b.id, check_input(report_no="CJ-2"))
    rows = {r.supplier_name: r for r in coverage.coverage(session, season.id)}
    name = "泰安市甲洁净煤配送有限公司"
    got, was = rows[name], before[name]
    assert (got.batches - was.batches, got.checked - was.checked, got.failed - was.failed) == (3, 2, 1)
    assert (got.failures, got.retested) == (1, 1) and got.retest_bp == 10000
    assert got.coverage_bp == got.checked * 10000 // got.batches
    total = rows["合计"]
    assert total.supplier_id is None and total.batches == sum(r.batches for r in rows.values() if r.supplier_id)


# --- the freeze and a running sale (both databases; the threat is concurrency) -------------------------------------

def _setup(engine, *, alone: bool = False):
    """coal-a's new batch, the bureau, and two households to sell to; `alone`: the batch is the only one coal-a can
    sell from (so a sale that names no batch defaults to it)."""
    with db.transaction(engine) as s:
        clerk, bureau = f.user(s, "coal-a"), f.user(s, "drc")
        if alone:
            for other in s.execute(select(Batch).where(Batch.supplier_id == clerk.supplier_id)).scalars():
                other.frozen_at = clock.now()
        batch = add_batch(s, quantity_kg=5000, report_no="JC-RACE")
        people = [f.household(s, "dongguan", coal_kg=3000) for _ in range(2)]
        return clerk, bureau, batch.id, [(h.id_number, r.id) for h, r in people]


def _sell_in(engine, clerk, batch_id, person, results):
    """A sale of 100 kg naming `batch_id` (None: the default batch) in its own transaction; its number or error."""
    s = db.new_session(engine, write=True)
    try:
        results.append(db.run_in_transaction(s, lambda: issuing.issue(
            s, clerk=clerk, registration_id=person[1], id_number=person[0],
            lines=[issuing.LineIn("briquette", 100, batch_id=batch_id)])).number)
    except Exception as error:  # noqa: BLE001 - collected for the assertions
        results.append(error)
    finally:
        s.close()


@pytest.mark.parametrize("named", [True, False], ids=["naming_the_batch", "defaulting_to_it"])
def test_a_sale_that_waits_behind_a_freeze_is_refused_with_the_reason(engine, demo, named):
    """On PostgreSQL the sale's stock UPDATE waits on the batch row the freeze holds, then finds it frozen (the
    condition is on the outer WHERE, which PostgreSQL re-checks after the wait); on SQLite it waits for the lock."""
    clerk, bureau, batch_id, people = _setup(engine, alone=not named)
    freezer = db.new_session(engine, write=True)
    try:
        inspections.record(freezer, bureau, batch_id, check_input(BAD))  # holds the batch row, not yet committed
        results: list = []
        seller = threading.Thread(target=_sell_in, args=(engine, clerk, batch_id if named else None, people[0],
                                                         results))
        seller.start()
        time.sleep(0.5)
        assert seller.is_alive() and not results  # the sale queues behind the freeze
        freezer.commit()
    finally:
        freezer.close()
    seller.join(30)
    (refused,) = results
    assert isinstance(refused, Refused), refused
    assert (FROZEN if named else "没有检验合格且库存足够") in refused.message
    with db.new_session(engine) as s:
        assert s.get(Batch, batch_id).sold_kg == 0


def test_a_freeze_that_waits_behind_a_sale_lets_it_complete_and_lists_it(engine, demo):
    clerk, bureau, batch_id, people = _setup(engine)
    seller = db.new_session(engine, write=True)
    results: list = []
    try:
        number = issuing.issue(seller, clerk=clerk, registration_id=people[0][1], id_number=people[0][0],
                               lines=[issuing.LineIn("briquette", 100, batch_id=batch_id)]).number
        freezing = threading.Thread(target=lambda: results.append(_record_in(engine, bureau, batch_id)))
        freezing.start()
        time.sleep(0.5)
        assert freezing.is_alive() and not results  # the freeze queues behind the sale holding the batch row
        seller.commit()
    finally:
        seller.close()
    freezing.join(30)
    assert results and not isinstance(results[0], Exception), results
    with db.new_session(engine) as s:
        batch = s.get(Batch, batch_id)
        assert batch.frozen_at is not None and batch.sold_kg == 100  # the sale whole, before the freeze
        assert [slip.number for slip in inspections.sold_from(s, batch_id)[0]] == [number]
    after: list = []
    _sell_in(engine, clerk, batch_id, people[1], after)
    assert isinstance(after[0], Refused) and FROZEN in after[0].message


def _record_in(engine, bureau, batch_id):
    s = db.new_session(engine, write=True)
    try:
        return db.run_in_transaction(s, lambda: inspections.record(s, bureau, batch_id, check_input(BAD)).id)
    except Exception as error:  # noqa: BLE001 - returned for the assertions
        return error
    finally:
        s.close()
