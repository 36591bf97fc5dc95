"""The audit log as people read it: a Chinese sentence for each change (who by name and unit, when, what), the
change field by field with Chinese labels, units and masked numbers; the log narrowed by date, person, action and
object; and its spreadsheet."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from subsidy.core import audit, audit_text, clock, db
from subsidy.models import AuditEntry, User
from subsidy.registry import households
from tests.factories.registry import household_input, new_id_number

MOMENT = datetime(2026, 12, 1, 2, 30, tzinfo=timezone.utc)  # 10:30 in China


def _user(s, username: str) -> User:
    return s.execute(select(User).where(User.username == username)).scalar_one()


@pytest.fixture
def walked(demo, engine, frozen):
    """One household through register, edit, registration, notice, approval; and another rejected."""
    frozen(MOMENT)
    with db.transaction(engine) as s:
        clerk = _user(s, "dongguan")
        id_number = new_id_number()
        made = households.register_household(s, clerk, clerk.village_id, household_input(
            head_name="韩立", id_number=id_number, phone="13905381234"))
        households.edit_household(s, clerk, made.id, household_input(
            head_name="韩立", id_number=id_number, phone="13905389999"))
        registration = households.register_purchase(s, clerk, made.id, 2000, 1)
        other = households.register_household(s, clerk, clerk.village_id, household_input(head_name="柳青"))
        rejected = households.register_purchase(s, clerk, other.id, 1000, 0)
        households.publish_notice(s, clerk, clerk.village_id)
        ids = {"household": made.id, "other": other.id, "id_number": id_number}
    with db.transaction(engine) as s:
        town = _user(s, "caiyuan2")
        households.approve(s, town, registration.id)
        households.reject(s, town, rejected.id, "户籍不在本村")
    return ids


def _history(engine, household_id):
    with db.transaction(engine) as s:
        _, _, entries = households.history(s, household_id)
        return audit_text.describe(s, entries)


def test_each_change_of_a_household_reads_as_a_chinese_sentence_naming_the_person_and_unit(walked, engine):
    described = _history(engine, walked["household"])
    sentences = {d.entry.action: d.sentence for d in described}
    assert list(sentences) == ["household.registered", "household.edited", "registration.created",
                               "notice.published", "registration.approved"]
    assert sentences["household.registered"] == "2026-12-01 10:30，王文书（东关村）登记了住户韩立（东关村，普通）。"
    assert sentences["household.edited"] == ("2026-12-01 10:30，王文书（东关村）修改了住户韩立的信息："
                                            "联系电话由“139****1234”改为“139****9999”。")
    assert "登记了本采暖季的购买：洁净煤2.000吨，炉具1台" in sentences["registration.created"]
    assert "发布了东关村的公示，共4户" in sentences["notice.published"]
    assert sentences["registration.approved"].startswith("2026-12-01 10:30，张明远（财源街道）审核通过了住户韩立的购买登记")
    assert "状态由“公示中”改为“已审核”" in sentences["registration.approved"]
    for d in described:  # no code, no English key, no whole number anywhere a person reads
        text = d.sentence + "".join(f"{c.label}{c.before}{c.after}" for c in d.changes)
        assert "." not in d.action and "_" not in text and walked["id_number"] not in text


def test_a_change_is_shown_field_by_field_with_labels_units_and_masked_numbers(walked, engine):
    described = {d.entry.action: d for d in _history(engine, walked["household"])}
    edited = described["household.edited"].changes
    assert [(c.label, c.before, c.after) for c in edited] == [("联系电话", "139****1234", "139****9999")]
    created = {c.label: c.after for c in described["household.registered"].changes}
    assert created["身份证号码"] == walked["id_number"][:6] + "********" + walked["id_number"][-4:]
    assert created["户类别"] == "普通" and created["村/社区"] == "东关村"
    assert all(c.before is None for c in described["household.registered"].changes)
    bought = {c.label: c.after for c in described["registration.created"].changes}
    assert bought["洁净煤"] == "2.000吨" and bought["炉具"] == "1台" and bought["状态"] == "已登记"
    raw = described["household.edited"]
    assert '"phone": "139****9999"' in raw.raw_after  # the auditor's raw entry, as stored


def test_a_rejection_says_why_and_amounts_read_in_yuan(walked, engine):
    described = _history(engine, walked["other"])
    assert described[-1].sentence.endswith("张明远（财源街道）驳回了住户柳青的购买登记，原因：户籍不在本村："
                                           "状态由“公示中”改为“未通过”。")
    assert [c.label for c in described[-1].changes] == ["状态", "驳回原因"]
    with db.transaction(engine) as s:
        finance = _user(s, "finance")
        audit.record(s, finance, "settlement.paid", "settlement", entity_id=7,
                     before={"status": "settled", "subsidy_fen": 123456},
                     after={"status": "paid", "subsidy_fen": 123456, "number": "JS-A-202612",
                            "payment_reference": "ZF-1", "paid_on": "2026-12-05"})
        audit.record(s, None, "made.up", "town", entity_id=3)
    with db.transaction(engine) as s:
        rows = audit.entries_page(s, page=1, per_page=2).items
        made_up, paid = audit_text.describe(s, rows)
    assert "钱丽华（区财政局）支付了结算单JS-A-202612，支付凭证号ZF-1，支付日期2026年12月05日" in paid.sentence
    assert "状态由“已结算待支付”改为“已支付”" in paid.sentence
    assert made_up.sentence.endswith("系统执行了操作“made.up”（街道/镇 #3）。")  # an unknown code still reads


def test_the_log_is_narrowed_by_date_person_action_and_object(walked, engine, frozen):
    frozen(datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc))  # 01:00 on December 4 in China
    with db.transaction(engine) as s:
        households.edit_household(s, _user(s, "dongguan"), walked["household"], household_input(
            head_name="韩立", id_number=walked["id_number"], phone="13905380000"))

    def actions(**flt):
        with db.transaction(engine) as s:
            found = audit.entries_page(s, audit.LogFilter(**flt), per_page=100)
            rows, total = found.items, found.total
            assert total == len(rows)
            return [e.action for e in rows]

    household = str(walked["household"])
    assert actions(entity="household", entity_id=household) == ["household.edited", "household.edited",
                                                                "household.registered"]
    assert actions(entity="household", entity_id=household, since=date(2026, 12, 4)) == ["household.edited"]
    assert actions(entity="household", entity_id=household, until=date(2026, 12, 3)) == ["household.edited",
                                                                                          "household.registered"]
    assert actions(who="张明远") == actions(who="caiyuan2") == ["registration.rejected", "registration.approved"]
    assert actions(who="李春华") == []  # the other clerk of the same town did nothing
    assert actions(action="registration.approved", who="张明远") == ["registration.approved"]
    # Nothing after the last entry: the frozen day's, or the demo's, which was loaded at the real time (on a
    # machine whose clock is past December 4 in China, "since December 5" holds the demo's entries).
    after_all = max(date(2026, 12, 5), clock.local(datetime.now(timezone.utc)).date() + timedelta(days=1))
    assert actions(since=after_all) == []
    assert actions(entity="household", entity_id=household, since=date(2026, 12, 5)) == []  # the day after its last


def test_the_filtered_log_exports_to_a_spreadsheet_of_text_cells(walked, engine):
    with db.transaction(engine) as s:
        data = audit_text.export_xlsx(s, audit.LogFilter(who="caiyuan2"))
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == audit_text.EXPORT_HEADER
    assert len(rows) == 3
    approved = {h: c for h, c in zip(audit_text.EXPORT_HEADER, rows[2])}
    assert approved["操作人"].value == "张明远" and approved["单位"].value == "财源街道"
    assert approved["操作"].value == "审核通过登记" and approved["对象"].value.startswith("购买登记")
    assert "审核通过了住户韩立的购买登记" in approved["说明"].value
    assert "状态：公示中 → 已审核" in approved["变更明细"].value
    assert '"status":"approved"' in approved["修改后（原始记录）"].value
    assert isinstance(approved["编号"].value, int)
    assert all(c.data_type == "s" for c in rows[2][1:])


def test_an_export_is_bounded_and_says_where_it_stopped(walked, engine):
    with db.transaction(engine) as s:
        data = audit_text.export_xlsx(s, audit.LogFilter(), limit=3, chunk=2)
    rows = list(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1 + 3 + 1 and "仅导出了最新的 3 条记录" in rows[-1][1]
    with db.transaction(engine) as s:
        newest = s.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(3)).scalars().all()
    assert [r[0] for r in rows[1:4]] == newest
