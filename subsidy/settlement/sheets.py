"""The official spreadsheets of this area, formatted for printing on A4 landscape: title, parties, table, totals,
signature and seal lines, print area, fitted to the page width. Built in memory (they are one month of one supplier,
or one report: small), returned as bytes."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import sheets
from subsidy.models import SUMMARY_STATUS_LABELS, Settlement, Summary, Town, Village
from subsidy.core.scope import Record, get_or_404, show_account, show_id
from subsidy.settlement import statements, summaries

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


class Sheet:
    """A printable form: rows appended top to bottom, the table boxed, the page set up at the end."""

    def __init__(self, title: str, widths: list[int]):
        self.book = Workbook()
        self.ws: Worksheet = self.book.active
        self.ws.title = title[:31]
        self.width = len(widths)
        for i, w in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = w
        self.row = 0

    def title(self, text: str) -> None:
        self.row += 1
        sheets.put(self.ws, self.row, 1, text).font = Font(size=16, bold=True)
        self.ws.cell(self.row, 1).alignment = CENTER
        self.ws.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=self.width)
        self.ws.row_dimensions[self.row].height = 28

    def line(self, text: str) -> None:
        self.row += 1
        sheets.put(self.ws, self.row, 1, text)
        self.ws.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=self.width)

    def table_row(self, values: list, *, header: bool = False, bold: bool = False) -> None:
        self.row += 1
        for col, value in enumerate(values, start=1):
            cell = sheets.put(self.ws, self.row, col, value)
            cell.border = BOX
            if header or bold:
                cell.font = Font(bold=True)
            if header:
                cell.alignment = CENTER

    def blank(self) -> None:
        self.row += 1

    def page_break(self) -> None:
        """What follows prints on a new page (a signature page)."""
        self.ws.row_breaks.append(Break(id=self.row))

    def signatures(self, parties: list[str]) -> None:
        self.blank()
        per = max(1, self.width // max(1, len(parties)))
        self.row += 1
        for i, party in enumerate(parties):
            sheets.put(self.ws, self.row, 1 + i * per, f"{party}（盖章）：")
        self.row += 2
        for i, _ in enumerate(parties):
            sheets.put(self.ws, self.row, 1 + i * per, "经办人签字：")
        self.row += 1
        for i, _ in enumerate(parties):
            sheets.put(self.ws, self.row, 1 + i * per, "日期：    年  月  日")

    def save(self) -> bytes:
        ws = self.ws
        ws.print_area = f"A1:{get_column_letter(self.width)}{self.row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        out = BytesIO()
        self.book.save(out)
        return out.getvalue()


def summary_xlsx(session: Session, summary_id: int, viewer) -> tuple[str, bytes]:
    """The 销售汇总表 of one summary, one row per slip."""
    summary = get_or_404(session, Summary, summary_id)
    towns, suppliers = summaries.names(session)
    supplier = suppliers[summary.supplier_id]
    slips = summaries.slips_with_flags(session, summary, viewer)
    villages = dict(session.execute(select(Village.id, Village.name).where(Village.town_id == summary.town_id)
                                    .execution_options(unscoped=True)).all())
    sheet = Sheet("销售汇总表", [6, 20, 12, 12, 12, 22, 24, 12, 8, 14, 14, 14])
    sheet.title(f"{towns.get(summary.town_id, '')}洁净型煤及节能环保炉具销售汇总表（{summary.month}）")
    sheet.line(f"配送企业：{supplier.name}    统一社会信用代码：{supplier.credit_code}    "
               f"状态：{SUMMARY_STATUS_LABELS.get(summary.status, summary.status)}    编号：HZ-{summary.id:06d}")
    sheet.table_row(["序号", "销售单号", "日期", "村(社区)", "户主", "身份证号", "住址", "洁净煤(吨)", "炉具(台)",
                     "金额(元)", "补贴(元)", "用户实付(元)"], header=True)
    for n, item in enumerate((f for f in slips if f.slip.status == "issued"), start=1):
        s = item.slip
        sheet.table_row([sheets.count(n), s.number, s.issued_on.isoformat(), villages.get(s.village_id, ""),
                         s.head_name, sheets.text(show_id(viewer, Record.LISTING, s.id_number)), s.address, sheets.tons(s.coal_kg),
                         sheets.count(s.stoves), sheets.money(s.amount_fen), sheets.money(s.subsidy_fen),
                         sheets.money(s.amount_fen - s.subsidy_fen)])
    sheet.table_row(["合计", f"共{summary.slip_count}张", "", "", "", "", "", sheets.tons(summary.coal_kg),
                     sheets.count(summary.stoves), sheets.money(summary.amount_fen), sheets.money(summary.subsidy_fen),
                     sheets.money(summary.amount_fen - summary.subsidy_fen)], bold=True)
    sheet.signatures(["配送企业", "街道/镇", "区发改局", "区财政局"])
    return f"销售汇总表-{supplier.code}-{summary.month}-{summary.id}.xlsx", sheet.save()


def settlement_xlsx(session: Session, settlement_id: int, viewer) -> tuple[str, bytes]:
    statement = get_or_404(session, Settlement, settlement_id)
    towns, suppliers = summaries.names(session)
    supplier = suppliers[statement.supplier_id]
    by_town, by_fund = statements.statement_lines(session, statement.id)
    sheet = Sheet("结算单", [20, 12, 16, 12, 18, 18])
    sheet.title(f"清洁煤补贴补充结算单（{statement.month}，第{statement.seq}张）" if statement.seq > 1
                else f"清洁煤补贴结算单（{statement.month}）")
    sheet.line(f"结算单号：{statement.number}    配送企业：{supplier.name}    统一社会信用代码：{supplier.credit_code}")
    sheet.line(f"开户银行：{supplier.bank_name}    账号：{show_account(viewer, supplier.bank_account)}")
    sheet.table_row(["街道/镇", "销售单(张)", "洁净煤(吨)", "炉具(台)", "销售金额(元)", "补贴金额(元)"], header=True)
    for line in by_town:
        sheet.table_row([towns.get(line.town_id, ""), sheets.count(line.slip_count), sheets.tons(line.coal_kg),
                         sheets.count(line.stoves), sheets.money(line.amount_fen), sheets.money(line.subsidy_fen)])
    sheet.table_row(["合计", sheets.count(statement.slip_count), sheets.tons(statement.coal_kg),
                     sheets.count(statement.stoves), sheets.money(statement.amount_fen),
                     sheets.money(statement.subsidy_fen)], bold=True)
    sheet.blank()
    sheet.table_row(["资金来源", "比例", "补贴金额(元)", "", "", ""], header=True)
    for fund in by_fund:
        sheet.table_row([fund.name, sheets.share_bp(fund.share_bp), sheets.money(fund.subsidy_fen), "", "", ""])
    sheet.table_row(["合计", sheets.share_bp(sum(f.share_bp for f in by_fund)),
                     sheets.money(sum(f.subsidy_fen for f in by_fund)), "", "", ""], bold=True)
    if statement.status == "paid":
        sheet.line(f"已支付：{statement.paid_on}，凭证号 {statement.payment_reference}")
    sheet.signatures(["区财政局", "配送企业"])
    return f"结算单-{statement.number}.xlsx", sheet.save()


def payment_instruction_xlsx(session: Session, settlement_ids: list[int], viewer) -> tuple[str, bytes]:
    """The payment instruction for the bank: supplier, bank, account, amount, statement number."""
    _, suppliers = summaries.names(session)
    sheet = Sheet("支付清单", [8, 30, 26, 26, 16, 20])
    sheet.title("清洁煤补贴资金支付清单")
    sheet.table_row(["序号", "收款单位", "开户银行", "银行账号", "金额(元)", "结算单号"], header=True)
    total = 0
    for n, sid in enumerate(settlement_ids, start=1):
        statement = get_or_404(session, Settlement, sid)
        supplier = suppliers[statement.supplier_id]
        sheet.table_row([sheets.count(n), supplier.name, supplier.bank_name, sheets.text(show_account(viewer, supplier.bank_account)),
                         sheets.money(statement.subsidy_fen), statement.number])
        total += statement.subsidy_fen
    sheet.table_row(["合计", "", "", "", sheets.money(total), ""], bold=True)
    sheet.signatures(["区财政局", "审核", "复核"])
    return "支付清单.xlsx", sheet.save()


def town_name(session: Session, town_id: int) -> str:
    town = session.get(Town, town_id)
    return town.name if town else ""
