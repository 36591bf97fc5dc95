"""The monthly report (月报) as the printable spreadsheet the bureau sends upward, on the official forms' layout of
subsidy/settlement/sheets.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from subsidy.core import sheets
from subsidy.reports import progress
from subsidy.settlement.sheets import Sheet


def monthly_report_xlsx(session: Session, month: str) -> tuple[str, bytes]:
    report = progress.monthly_report(session, month)
    sheet = Sheet("月报", [16, 14, 14, 14, 10, 10, 14, 14, 10, 10, 16])
    sheet.title(f"散煤清洁化治理工作月报（{report.month}）")
    sheet.line(f"{report.season_name}    报送截止：{report.due_on.isoformat()}")
    sheet.table_row([report.area_label, "目标(吨)", "本月销售(吨)", "累计销售(吨)", "完成率", "目标炉具(台)",
                     "本月炉具(台)", "累计炉具(台)", "完成率", "本月单数(张)", "累计补贴(元)"], header=True)
    month_by_town = {r.town_id: r for r in report.month_rows}
    rows = report.season_rows + [report.season_total]
    for r in rows:
        m = month_by_town.get(r.town_id) if r.town_id else report.month_total
        sheet.table_row([r.town, sheets.tons(r.target_coal_kg), sheets.tons(m.sold_coal_kg if m else 0),
                         sheets.tons(r.sold_coal_kg), sheets.ratio(r.sold_coal_kg, r.target_coal_kg),
                         sheets.count(r.target_stoves), sheets.count(m.sold_stoves if m else 0),
                         sheets.count(r.sold_stoves), sheets.ratio(r.sold_stoves, r.target_stoves),
                         sheets.count(m.slips if m else 0), sheets.money(r.subsidy_fen)], bold=r.town_id == 0)
    sheet.blank()
    sheet.table_row(["本月结算补贴(元)", sheets.money(report.settled_fen), "其中已支付(元)",
                     sheets.money(report.paid_fen)])
    c = report.callbacks
    sheet.table_row(["本月回访抽查(户)", sheets.count(c.size), "已回访(户)", sheets.count(c.done), "联系到(户)",
                     sheets.count(c.reached), "发现问题(户)", sheets.count(c.discrepancies)])
    sheet.signatures(["填报单位", "审核人"])
    return f"月报-{report.month}.xlsx", sheet.save()
