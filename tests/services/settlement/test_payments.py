"""Bank payments: the batch transfer file, the bank's result file, the reissue of a failed payment, and the
invariant that a statement is paid at most once across reissues, whatever the concurrency (both backends)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update

from subsidy.core import clock
from subsidy.core.errors import Conflict, Refused
from subsidy.models import Payment, Settlement, Supplier
from subsidy.settlement import payments, reconciliation, statements
from tests.factories.settlement import supplier
from tests.services.settlement.test_settlement import (
    _race, approve, build, do, fresh, sell, session, submit, this_month, town_code,
)

__all__ = ["session"]  # the plain-session fixture of the settlement tests

RESULT_HEADER = ["序号", "收款人名称", "收款人账号", "收款人开户行", "金额(元)", "用途", "结算单号", "指令编号",
                 "处理结果", "银行流水号", "交易日期", "失败原因"]


def settled(engine, session, *codes):
    """A settled statement of this month for each supplier code, through the whole review chain."""
    for code in codes:
        sell(session, code, kg=400)
    made = []
    for code in codes:
        for summary in build(engine, code):
            submit(engine, summary.id, username=code)
            for reviewer in (town_code(session, summary), "drc", "finance"):
                approve(engine, reviewer, summary.id)
        statement, _ = do(engine, "finance", lambda s, me, code=code: statements.settle(
            s, officer=me, supplier_id=supplier(s, code).id, month=this_month()))
        made.append(statement)
    return made


def bank_file(engine, **kwargs):
    return do(engine, "finance", lambda s, me: payments.make_bank_file(s, officer=me, **kwargs))


def read_file(engine, file_id) -> list[list]:
    data = do(engine, "finance", lambda s, me: payments.bank_file_xlsx(s, file_id))
    sheet = load_workbook(io.BytesIO(data))["批量转账"]
    return [[c for c in row] for row in sheet.iter_rows()]


def result_file(rows: list[dict], header=RESULT_HEADER, title_rows: int = 0) -> bytes:
    book = Workbook()
    sheet = book.active
    for _ in range(title_rows):
        sheet.append(["某某银行批量转账结果"])
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h, "") for h in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def answer(engine, file_id, outcomes: dict[str, tuple]) -> list[dict]:
    """The bank's rows for a file: the same rows, with (result, reference, reason) by statement number."""
    rows = []
    for cells in read_file(engine, file_id)[1:]:
        values = dict(zip(RESULT_HEADER, [c.value for c in cells]))
        result, reference, reason = outcomes[values["结算单号"]]
        values.update({"处理结果": result, "银行流水号": reference, "交易日期": clock.today().isoformat(),
                       "失败原因": reason})
        rows.append(values)
    return rows


def import_result(engine, data: bytes):
    upload, preview = do(engine, "finance", lambda s, me: payments.store_result(s, officer=me, filename="r.xlsx",
                                                                              data=data))
    return preview, do(engine, "finance", lambda s, me: payments.confirm_result(s, officer=me, upload_id=upload.id))


def test_the_bank_file_carries_payee_account_as_text_amount_as_a_number_and_the_statement_number(engine, session,
                                                                                                demo):
    statement, = settled(engine, session, "coal-a")
    made = bank_file(engine)
    header, row = read_file(engine, made.file.id)
    assert [c.value for c in header] == list(payments.FILE_COLUMNS)
    values = dict(zip(payments.FILE_COLUMNS, row))
    seller = fresh(session).get(Supplier, statement.supplier_id)
    assert values["收款人名称"].value == seller.name
    assert values["收款人账号"].value == seller.bank_account and values["收款人账号"].data_type == "s"
    assert values["收款人账号"].number_format == "@"
    assert values["收款人开户行"].value == seller.bank_name
    assert values["金额(元)"].data_type == "n" and values["金额(元)"].number_format == "#,##0.00"
    assert round(values["金额(元)"].value * 100) == statement.subsidy_fen
    assert statement.number in values["用途"].value and values["结算单号"].value == statement.number
    assert made.file.payments == 1 and made.file.total_fen == statement.subsidy_fen


def test_a_statement_with_the_bank_is_not_put_in_a_second_file_nor_paid_by_hand(engine, session, demo):
    statement, = settled(engine, session, "coal-a")
    bank_file(engine)
    with pytest.raises(Refused):
        bank_file(engine)
    with pytest.raises(Conflict) as refused:
        do(engine, "finance", lambda s, me: statements.pay(s, officer=me, settlement_id=statement.id,
                                                           reference="R", paid_on=clock.today()))
    assert "银行" in str(refused.value)


def test_a_result_with_one_failure_pays_one_fails_the_other_and_the_reissue_pays_it_once(engine, session, demo):
    a, b = settled(engine, session, "coal-a", "coal-b")
    made = bank_file(engine)
    preview, done = import_result(engine, result_file(answer(engine, made.file.id, {
        a.number: ("成功", "BK-0001", ""), b.number: ("失败", "", "账号户名不符")})))
    assert (preview.paid, preview.failed, preview.refused) == (1, 1, 0)
    fresh(session)
    assert session.get(Settlement, a.id).status == "paid"
    assert session.get(Settlement, a.id).payment_reference == "BK-0001"
    assert session.get(Settlement, a.id).paid_on == clock.today()
    assert session.get(Settlement, b.id).status == "payment_failed"
    assert [f.payment.reason for f in payments.failed_statements(session)] == ["账号户名不符"]
    session.rollback()

    # A paid statement cannot be reissued; the failed one can, once.
    with pytest.raises(Conflict):
        do(engine, "finance", lambda s, me: payments.reissue(s, officer=me, settlement_id=a.id))
    do(engine, "finance", lambda s, me: payments.reissue(s, officer=me, settlement_id=b.id))
    with pytest.raises(Conflict):
        do(engine, "finance", lambda s, me: payments.reissue(s, officer=me, settlement_id=b.id))
    again = bank_file(engine)
    assert [row[6].value for row in read_file(engine, again.file.id)[1:]] == [b.number]
    assert read_file(engine, again.file.id)[1][7].value.endswith("-2")  # attempt 2
    # The bank's late "success" for the failed first attempt is refused; the second attempt pays.
    stale = answer(engine, made.file.id, {a.number: ("成功", "BK-0001", ""), b.number: ("成功", "BK-LATE", "")})
    late, _ = import_result(engine, result_file(stale))
    assert late.paid == 0 and late.refused == 2
    import_result(engine, result_file(answer(engine, again.file.id, {b.number: ("成功", "BK-0002", "")})))
    fresh(session)
    assert session.get(Settlement, b.id).status == "paid"
    assert session.get(Settlement, b.id).payment_reference == "BK-0002"
    paid = session.execute(select(Payment.settlement_id, func.count()).where(Payment.status == "paid")
                           .group_by(Payment.settlement_id)).all()
    assert sorted(paid) == sorted([(a.id, 1), (b.id, 1)])


def test_the_result_is_read_by_its_header_in_any_column_order_under_a_title_row(engine, session, demo):
    statement, = settled(engine, session, "coal-a")
    made = bank_file(engine)
    rows = answer(engine, made.file.id, {statement.number: ("成功", "BK-9", "")})
    shuffled = ["银行流水号", "处理结果", "金额(元)", "交易日期", "结算单号", "收款人名称"]
    preview, _ = import_result(engine, result_file(rows, header=shuffled, title_rows=2))
    assert preview.paid == 1
    assert fresh(session).get(Settlement, statement.id).payment_reference == "BK-9"


def test_a_result_row_with_another_amount_or_no_reference_is_refused_and_nothing_is_recorded(engine, session, demo):
    statement, = settled(engine, session, "coal-a")
    made = bank_file(engine)
    rows = answer(engine, made.file.id, {statement.number: ("成功", "", "")})
    wrong = [dict(rows[0], **{"金额(元)": rows[0]["金额(元)"] + 1, "银行流水号": "BK"})]
    for data in (result_file(rows), result_file(wrong)):
        preview, _ = import_result(engine, data)
        assert preview.refused == 1 and preview.paid == 0
    assert fresh(session).get(Settlement, statement.id).status == "settled"


def test_a_file_that_is_not_a_result_is_refused(engine, session, demo):
    with pytest.raises(Refused):
        do(engine, "finance", lambda s, me: payments.store_result(s, officer=me, filename="x.xlsx", data=b"nope"))
    with pytest.raises(Refused):
        do(engine, "finance", lambda s, me: payments.store_result(s, officer=me, filename="x.xlsx",
                                                                  data=result_file([], header=["甲", "乙"])))


def test_officers_making_files_and_importing_results_at_once_never_pay_a_statement_twice(engine, session, demo):
    """Four officers make bank files at the same moment: each statement is in one file. Its failure is reissued,
    four officers make files again at once: one new instruction. Two officers confirm the same success at once:
    recorded once. Whatever the interleaving, at most one instruction per statement is not failed."""
    statement, = settled(engine, session, "coal-a")
    results, errors = _race(4, lambda: bank_file(engine))
    assert len(results) == 1 and all(isinstance(e, (Refused, Conflict)) for e in errors), errors
    import_result(engine, result_file(answer(engine, results[0].file.id, {statement.number: ("失败", "", "户名不符")})))
    do(engine, "finance", lambda s, me: payments.reissue(s, officer=me, settlement_id=statement.id))
    results, errors = _race(4, lambda: bank_file(engine))
    assert len(results) == 1, errors
    data = result_file(answer(engine, results[0].file.id, {statement.number: ("成功", "BK-X", "")}))
    uploads = [do(engine, "finance", lambda s, me: payments.store_result(s, officer=me, filename="r.xlsx",
                                                                         data=data))[0] for _ in range(2)]
    confirmed, errors = _race(2, lambda: do(engine, "finance", lambda s, me: payments.confirm_result(
        s, officer=me, upload_id=uploads.pop().id)))
    assert sum(p.paid for p in confirmed) == 1, (confirmed, errors)
    fresh(session)
    live = session.execute(select(func.count()).select_from(Payment).where(
        Payment.settlement_id == statement.id, Payment.status != "failed")).scalar()
    assert live == 1
    assert session.get(Settlement, statement.id).status == "paid"


def test_the_database_refuses_a_second_live_instruction_however_it_is_written(engine, session, demo):
    from sqlalchemy.exc import IntegrityError

    statement, = settled(engine, session, "coal-a")
    made = bank_file(engine)
    fresh(session)
    with pytest.raises(IntegrityError):
        session.add(Payment(file_id=made.file.id, settlement_id=statement.id, attempt=9, amount_fen=1,
                            payee_name="x", account="1", bank="b", purpose="p", status="paid"))
        session.flush()


def test_the_month_reconciles_to_the_fen_by_fund_and_against_the_slips(engine, session, demo):
    a, b = settled(engine, session, "coal-a", "coal-b")
    made = bank_file(engine, settlement_ids=[a.id])
    import_result(engine, result_file(answer(engine, made.file.id, {a.number: ("失败", "", "账号错误")})))
    report = reconciliation.month_reconciliation(fresh(session), this_month())
    assert report.total.settled == a.subsidy_fen + b.subsidy_fen
    assert (report.total.paid, report.total.failed, report.total.outstanding) == (0, a.subsidy_fen, b.subsidy_fen)
    assert (report.counts.failed, report.counts.outstanding) == (1, 1)
    assert [s.difference_fen for s in report.statements] == [0, 0] and report.balanced
    assert sum(amounts.settled for _, _, amounts in report.funds) == report.total.settled
    assert sum(amounts.failed for _, _, amounts in report.funds) == a.subsidy_fen
    # A statement whose figure no longer matches its slips shows the difference to the fen.
    session.execute(update(Settlement).where(Settlement.id == b.id).values(subsidy_fen=Settlement.subsidy_fen + 1))
    report = reconciliation.month_reconciliation(session, this_month())
    assert [s.difference_fen for s in report.statements if s.id == b.id] == [1] and not report.balanced
