"""Paying statements through the bank (docs/bank-files.md): the batch transfer file (批量转账) finance hands the bank,
the bank's result file read back, and the reissue of a failed payment.

A statement is paid at most once, whatever the concurrency and however often a failed payment is reissued (DESIGN.md,
invariant 1):

- Each instruction to the bank is a `payment` row (attempt 1, 2, ...). The partial unique index `uq_payment_live`
  lets a statement have only ONE instruction that is not failed, sent or paid: two officers making bank files at the
  same moment cannot both put a statement in theirs (the second one's INSERT waits for the first and then fails,
  and its file goes without that statement), and a payment recorded by hand (statements.pay) is refused while an
  instruction is with the bank.
- The bank's answer moves the instruction `sent` → `paid` or `failed`, and the statement `settled` → `paid` or
  `payment_failed`, each by a conditional UPDATE: the same result file read twice, or by two officers at once,
  records each answer once. A failed instruction stays failed: a late "success" for it is refused.
- Reissuing moves a `payment_failed` statement back to `settled` (conditionally), so that the next bank file makes a
  new instruction for it with the supplier's bank details as they are then (a wrong account is the usual failure).
  `paid` is final: nothing leads out of it.
"""

from __future__ import annotations

import io
import json
import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, db, sheets
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.core.scope import get_or_404
from subsidy.models import (
    ImportUpload, Payment, PaymentFile, PaymentStatus, Role, Settlement, SettlementStatus, Supplier, User,
)
from subsidy.rules.text import without_unwanted
from subsidy.settlement import statements

PURPOSE = "清洁煤补贴 {number}"
# The bank file's columns, in order (docs/bank-files.md). The result file is the same rows with the bank's columns
# added; it is read by its header row, so the bank may reorder or add columns.
FILE_COLUMNS = ("序号", "收款人名称", "收款人账号", "收款人开户行", "金额(元)", "用途", "结算单号", "指令编号")
RESULT_HEADERS = {
    "instruction": ("指令编号", "客户流水号", "业务编号"),
    "statement": ("结算单号",),
    "amount": ("金额(元)", "金额", "交易金额", "转账金额"),
    "result": ("处理结果", "交易状态", "状态", "结果"),
    "reference": ("银行流水号", "交易流水号", "银行参考号", "银行交易号"),
    "date": ("交易日期", "处理日期", "记账日期"),
    "reason": ("失败原因", "备注", "原因"),
}
SUCCESS, FAILURE = ("成功", "交易成功", "已成功"), ("失败", "交易失败", "已失败")


def _require_finance(officer: User) -> None:
    if officer.role != Role.FINANCE:
        raise NotAllowed("只有区财政局可以办理支付")


def instruction_number(payment: Payment) -> str:
    """What the bank file calls the instruction and the result file must carry back: statement id and attempt."""
    return f"ZF{payment.settlement_id:07d}-{payment.attempt}"


# ----------------------------------------------------------------------------------------------- the bank file


@dataclass
class FileMade:
    file: PaymentFile
    skipped: list[str] = field(default_factory=list)  # statements left out, each with why


def payable(session: Session) -> list[Settlement]:
    """Statements waiting for a bank instruction: settled, with a subsidy to pay, and no instruction with the bank."""
    live = select(Payment.id).where(Payment.settlement_id == Settlement.id,
                                    Payment.status != PaymentStatus.FAILED).exists()
    return list(session.execute(select(Settlement).where(Settlement.status == SettlementStatus.SETTLED, ~live)
                                .order_by(Settlement.month, Settlement.id)).scalars())


def make_bank_file(session: Session, *, officer: User, settlement_ids: list[int] | None = None) -> FileMade:
    """A batch transfer file of the given statements (all payable ones if none given). A statement already with the
    bank, paid, or taken by another officer's file at the same moment is left out with the reason."""
    _require_finance(officer)
    wanted = payable(session)
    if settlement_ids is not None:
        chosen = set(settlement_ids)
        wanted = [s for s in wanted if s.id in chosen]
    made = FileMade(PaymentFile(number=f"tmp-{clock.now().timestamp()}-{officer.id}", created_by=officer.id,
                                created_at=clock.now()))
    session.add(made.file)
    session.flush()
    made.file.number = f"PL{clock.today():%Y%m%d}-{made.file.id:05d}"
    suppliers = {s.id: s for s in session.execute(
        select(Supplier).where(Supplier.id.in_({s.supplier_id for s in wanted}))).scalars()}
    for statement in wanted:
        supplier = suppliers[statement.supplier_id]
        if not supplier.bank_account or not supplier.bank_name:
            made.skipped.append(f"{statement.number}：{supplier.name}未登记开户行和账号")
            continue
        if statement.subsidy_fen <= 0:
            made.skipped.append(f"{statement.number}：补贴金额为零，无需支付")
            continue
        payment = Payment(file_id=made.file.id, settlement_id=statement.id,
                          attempt=statements.next_attempt(session, statement.id),
                          amount_fen=statement.subsidy_fen, payee_name=supplier.name, account=supplier.bank_account,
                          bank=supplier.bank_name, purpose=PURPOSE.format(number=statement.number))
        try:
            with session.begin_nested():
                session.add(payment)
                session.flush()
        except IntegrityError as error:
            if not db.is_unique_violation(error):
                raise
            made.skipped.append(f"{statement.number}：已有支付指令在银行处理中")
            continue
        made.file.payments += 1
        made.file.total_fen += payment.amount_fen
    if not made.file.payments:
        raise Refused("没有可以发送银行的结算单" + ("：" + "；".join(made.skipped) if made.skipped else ""))
    session.flush()
    audit.record(session, officer, "payment.file_made", made.file)
    return made


def file_payments(session: Session, file_id: int) -> tuple[PaymentFile, list[Payment]]:
    payment_file = get_or_404(session, PaymentFile, file_id)
    return payment_file, list(session.execute(select(Payment).where(Payment.file_id == file_id)
                                              .order_by(Payment.id)).scalars())


def recent_files(session: Session, limit: int = 20) -> list[PaymentFile]:
    return list(session.execute(select(PaymentFile).order_by(PaymentFile.id.desc()).limit(limit)).scalars())


def bank_file_xlsx(session: Session, file_id: int) -> bytes:
    """The file in the 批量转账 layout (docs/bank-files.md): one sheet of instructions, account numbers as text,
    amounts as yuan number cells; a second sheet with the count and the total for the bank's check."""
    payment_file, payments = file_payments(session, file_id)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("批量转账")
    sheets.append(sheet, list(FILE_COLUMNS))
    for n, p in enumerate(payments, 1):
        sheets.append(sheet, [sheets.count(n), p.payee_name, sheets.text(p.account), p.bank, sheets.money(p.amount_fen),
                              p.purpose, p.purpose.rsplit(" ", 1)[-1], instruction_number(p)])
    totals = book.create_sheet("汇总")
    sheets.append(totals, ["文件编号", "总笔数", "总金额(元)", "制单时间"])
    sheets.append(totals, [payment_file.number, sheets.count(payment_file.payments), sheets.money(payment_file.total_fen),
                           payment_file.created_at.replace(tzinfo=None)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------- the bank's result


@dataclass
class ResultRow:
    row: int
    instruction: str
    statement: str
    amount_fen: int | None
    outcome: str  # "paid", "failed", or "" when refused
    reference: str = ""
    paid_on: str = ""
    reason: str = ""
    refusal: str = ""
    payment_id: int | None = None


@dataclass
class ResultPreview:
    rows: list[ResultRow]

    @property
    def paid(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "paid" and not r.refusal)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "failed" and not r.refusal)

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if r.refusal)


def _cell_text(value) -> str:
    return without_unwanted(str(value)).strip()


def _fen(value) -> int | None:
    """Yuan as the bank writes it (a number cell, or text such as "1,100.00") to integer fen, exactly."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).replace(",", "").replace("，", "").strip())
    except InvalidOperation:
        return None
    fen = amount * 100
    return int(fen) if fen == fen.to_integral_value() else None


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    for candidate in (text, f"{text[:4]}-{text[4:6]}-{text[6:8]}" if text.isdigit() and len(text) == 8 else ""):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return None


def read_result(session: Session, data: bytes) -> ResultPreview:
    """Read the bank's result file (any sheet, any column order: found by the header row) and say for each row what
    confirming it would do, changing nothing."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise Refused("无法读取该文件，请上传银行返回的 xlsx 结果文件", errors={"file": "无法读取该文件"}) from None
    try:
        for sheet in book.worksheets:
            found = _read_sheet(session, sheet)
            if found is not None:
                return found
    finally:
        book.close()
    raise Refused("没有找到结果表头：需要“结算单号”或“指令编号”、“金额(元)”、“处理结果”等列",
                  errors={"file": "没有找到结果表头"})


def _read_sheet(session: Session, sheet) -> ResultPreview | None:
    lines = sheet.iter_rows(values_only=True)
    columns: dict[str, int] | None = None
    header_row = 0
    for header_row, values in enumerate(lines, 1):
        names = [str(v).strip() if v is not None else "" for v in values]
        columns = {}
        for key, aliases in RESULT_HEADERS.items():
            for alias in aliases:
                if alias in names:
                    columns[key] = names.index(alias)
                    break
        if ("instruction" in columns or "statement" in columns) and "result" in columns and "amount" in columns:
            break
        columns = None
        if header_row >= 10:
            return None
    if columns is None:
        return None
    rows = []
    for number, values in enumerate(lines, header_row + 1):
        def get(key):
            index = columns.get(key)
            return values[index] if index is not None and index < len(values) else None
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        row = ResultRow(number, _cell_text((get("instruction") or ""))[:40],
                        _cell_text((get("statement") or ""))[:40], _fen(get("amount")), "",
                        reference=_cell_text((get("reference") or ""))[:64],
                        reason=_cell_text((get("reason") or ""))[:200])
        result = str(get("result") or "").strip()
        row.outcome = "paid" if result in SUCCESS else "failed" if result in FAILURE else ""
        day = _day(get("date"))
        row.paid_on = day.isoformat() if day else ""
        row.refusal = _check(session, row, result)
        rows.append(row)
    return ResultPreview(rows)


def _check(session: Session, row: ResultRow, result: str) -> str:
    if not row.outcome:
        return f"处理结果“{result}”不是“成功”或“失败”"
    payment = _payment_of(session, row)
    if payment is None:
        return "找不到对应的支付指令（结算单号或指令编号不符）"
    row.payment_id = payment.id
    if row.amount_fen != payment.amount_fen:
        return "金额与支付指令不符"
    if payment.status != PaymentStatus.SENT:
        return f"该指令已记录为{'支付成功' if payment.status == PaymentStatus.PAID else '支付失败'}"
    if row.outcome == "paid":
        if not row.reference:
            return "支付成功的行须有银行流水号"
        if not row.paid_on:
            return "支付成功的行须有交易日期"
        if date.fromisoformat(row.paid_on) > clock.today():
            return "交易日期晚于今天"
    elif not row.reason:
        row.reason = "银行未说明原因"
    return ""


def _payment_of(session: Session, row: ResultRow) -> Payment | None:
    if row.instruction.startswith("ZF") and "-" in row.instruction:
        head, _, attempt = row.instruction[2:].partition("-")
        if head.isdigit() and attempt.isdigit():
            return session.execute(select(Payment).where(Payment.settlement_id == int(head),
                                                         Payment.attempt == int(attempt))).scalar_one_or_none()
        return None
    if row.statement:
        statement_id = select(Settlement.id).where(Settlement.number == row.statement).scalar_subquery()
        return session.execute(select(Payment).where(Payment.settlement_id == statement_id)
                               .order_by(Payment.attempt.desc()).limit(1)).scalar_one_or_none()
    return None


def store_result(session: Session, *, officer: User, filename: str, data: bytes) -> tuple[ImportUpload, ResultPreview]:
    """Preview a result file and keep it for the confirmation (in the upload table the household import uses)."""
    _require_finance(officer)
    preview = read_result(session, data)
    upload = ImportUpload(user_id=officer.id, filename=f"bank:{filename}"[:200], sha256=hashlib.sha256(data).hexdigest(),
                          data=data, preview=json.dumps([asdict(r) for r in preview.rows], ensure_ascii=False),
                          rows_total=len(preview.rows))
    session.add(upload)
    session.flush()
    return upload, preview


def stored_result(session: Session, *, officer: User, upload_id: int) -> tuple[ImportUpload, ResultPreview]:
    _require_finance(officer)
    upload = session.get(ImportUpload, upload_id)
    if upload is None or upload.user_id != officer.id or not upload.filename.startswith("bank:"):
        raise NotFound("没有这个上传文件")
    return upload, ResultPreview([ResultRow(**r) for r in json.loads(upload.preview or "[]")])


def confirm_result(session: Session, *, officer: User, upload_id: int) -> ResultPreview:
    """Record the bank's answers of a previewed file: read again (the statements may have moved since the preview),
    each row applied by conditional updates, so a row already recorded is not recorded twice."""
    upload, _ = stored_result(session, officer=officer, upload_id=upload_id)
    if upload.used_at is not None:
        raise Conflict("该结果文件已经导入", field="upload")
    preview = read_result(session, upload.data)
    for row in preview.rows:
        if row.refusal:
            continue
        if not _apply(session, officer, row):
            row.refusal = "该指令已由他人同时记录"
    moved = session.execute(update(ImportUpload).where(ImportUpload.id == upload.id, ImportUpload.used_at.is_(None))
                            .values(used_at=clock.now(), data=b"", rows_done=len(preview.rows),
                                    result=json.dumps([asdict(r) for r in preview.rows], ensure_ascii=False))
                            .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该结果文件已经导入", field="upload")
    return preview


def _apply(session: Session, officer: User, row: ResultRow) -> bool:
    payment = session.get(Payment, row.payment_id)
    statement = session.get(Settlement, payment.settlement_id)
    before = audit.snapshot(statement)
    now = clock.now()
    paid = row.outcome == "paid"
    taken = session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.status == PaymentStatus.SENT)
        .values(status=PaymentStatus.PAID if paid else PaymentStatus.FAILED, bank_reference=row.reference,
                result_on=date.fromisoformat(row.paid_on) if row.paid_on else None, reason=row.reason,
                decided_by=officer.id, decided_at=now).execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        return False
    values = (dict(status=SettlementStatus.PAID, payment_reference=row.reference,
                   paid_on=date.fromisoformat(row.paid_on), paid_at=now, paid_by=officer.id) if paid
              else dict(status=SettlementStatus.PAYMENT_FAILED))
    moved = session.execute(update(Settlement).where(Settlement.id == statement.id,
                                                     Settlement.status == SettlementStatus.SETTLED)
                            .values(**values).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict(f"结算单{statement.number}的状态已变化，请刷新后重新导入", field="status")
    session.refresh(statement)
    session.refresh(payment)
    if paid:
        audit.record(session, officer, "settlement.paid_by_bank", statement, before=before)
    else:
        audit.record(session, officer, "settlement.payment_failed", statement, before=before,
                     after={**audit.snapshot(statement), "reason": row.reason})
    return True


def reissue(session: Session, *, officer: User, settlement_id: int) -> Settlement:
    """Put a statement whose payment failed back in line for the next bank file."""
    _require_finance(officer)
    statement = get_or_404(session, Settlement, settlement_id)
    before = audit.snapshot(statement)
    moved = session.execute(update(Settlement).where(Settlement.id == statement.id,
                                                     Settlement.status == SettlementStatus.PAYMENT_FAILED)
                            .values(status=SettlementStatus.SETTLED)
                            .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("只有支付失败的结算单可以重新支付", field="status")
    session.refresh(statement)
    audit.record(session, officer, "settlement.payment_reissued", statement, before=before)
    return statement


def payments_of(session: Session, settlement_id: int) -> list[Payment]:
    return list(session.execute(select(Payment).where(Payment.settlement_id == settlement_id)
                                .order_by(Payment.attempt)).scalars())


@dataclass
class Failed:
    statement: Settlement
    payment: Payment | None


def failed_statements(session: Session, limit: int = 200) -> list[Failed]:
    """Statements whose payment failed, each with its last instruction (the bank's reason), oldest first."""
    found = list(session.execute(select(Settlement).where(Settlement.status == SettlementStatus.PAYMENT_FAILED)
                                 .order_by(Settlement.id).limit(limit)).scalars())
    last: dict[int, Payment] = {}
    if found:
        for payment in session.execute(select(Payment).where(Payment.settlement_id.in_([s.id for s in found]))
                                       .order_by(Payment.attempt)).scalars():
            last[payment.settlement_id] = payment
    return [Failed(s, last.get(s.id)) for s in found]
