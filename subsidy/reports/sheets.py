"""The monthly report (月报) as the printable spreadsheet the bureau sends upward, on the official forms' layout of
subsidy/settlement/sheets.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from subsidy.reports import progress
from subsidy.rules.money import tons, yuan
from subsidy.settlement.sheets import Sheet


def monthly_report_xlsx(session: Session, month: str) -> tuple[str, bytes]:
    report = progress.monthly_report(session, month)
    sheet = Sheet("月报", [16, 14, 14, 14, 10, 10, 14, 14, 10, 10, 16])
    sheet.title(f"散煤清洁化治理工作月报（{report.month}）")
    sheet.line(f"{report.season_name}    报送截止：{report.due_on.isoformat()}")
    sheet.table_row(["街道/镇", "目标(吨)", "本月销售(吨)", "累计销售(吨)", "完成率", "目标炉具(台)", "本月炉具(台)",
                     "累计炉具(台)", "完成率", "本月单数", "累计补贴(元)"], header=True)
    month_by_town = {r.town_id: r for r in report.month_rows}
    rows = report.season_rows + [report.season_total]
    for r in rows:
        m = month_by_town.get(r.town_id) if r.town_id else report.month_total
        sheet.table_row([r.town, tons(r.target_coal_kg), tons(m.sold_coal_kg if m else 0), tons(r.sold_coal_kg),
                         _pct(r.coal_percent), r.target_stoves, m.sold_stoves if m else 0, r.sold_stoves,
                         _pct(r.stove_percent), m.slips if m else 0, yuan(r.subsidy_fen)], bold=r.town_id == 0)
    sheet.line(f"本月结算补贴：{yuan(report.settled_fen)}元，其中已支付：{yuan(report.paid_fen)}元")
    sheet.signatures(["填报单位", "审核人"])
    return f"月报-{report.month}.xlsx", sheet.save()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"
