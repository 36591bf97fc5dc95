"""The monthly report (月报), the dispatch sheet (调度表) and the acceptance report (考核验收) as the printable
spreadsheets the bureau sends upward, on the official forms' layout of subsidy/settlement/sheets.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from subsidy.core import sheets
from subsidy.models import CASE_FINDING_LABELS, CASE_STATUS_LABELS, CATEGORY_LABELS, PRODUCT_LABELS
from subsidy.reports import acceptance, dispatch, progress
from subsidy.settlement.sheets import Sheet


TIMELINESS_HEADER = ["配送企业", "街道/镇", "有效销售单(张)", "3天内送达(张)", "4至7天送达(张)", "7天以上送达(张)",
                     "未送达(张)", "3天内送达率"]
TIMELINESS_COUNTS = ("slips", "within_3", "within_7", "later", "not_delivered")
CALLBACKS_HEADER = ["配送企业", "街道/镇", "回访抽取(户)", "已回访(户)", "联系到(户)", "发现问题(户)", "回访完成率"]
CALLBACKS_COUNTS = ("size", "done", "reached", "discrepancies")


def monthly_report_xlsx(session: Session, month: str, season_id: int | None = None) -> tuple[str, bytes]:
    report = progress.monthly_report(session, month, season_id)
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
    if report.callbacks_by:
        sheet.table_row(CALLBACKS_HEADER, header=True)
        for r in report.callbacks_by:
            sheet.table_row([r.supplier, r.town, *[sheets.count(getattr(r, name)) for name in CALLBACKS_COUNTS],
                             sheets.ratio(r.done, r.size)])
    sheet.blank()
    sheet.line(f"抽检覆盖率（截至 {report.month} 月底，种子文件 002：抽检覆盖率 100%，不合格复检率 100%）")
    sheet.table_row(["配送企业", "进货批次", "已抽检批次", "覆盖率", "不合格批次", "不合格抽检", "已复检", "复检率"],
                    header=True)
    for r in report.coverage:
        sheet.table_row([r.supplier_name, sheets.count(r.batches), sheets.count(r.checked),
                         sheets.ratio(r.checked, r.batches), sheets.count(r.failed), sheets.count(r.failures),
                         sheets.count(r.retested), sheets.ratio(r.retested, r.failures)], bold=r.supplier_id is None)
    sheet.blank()
    sheet.line("本月开具销售单的配送到户及时情况（按配送企业、街道/镇）")
    sheet.table_row(TIMELINESS_HEADER, header=True)
    for t in report.timeliness:
        sheet.table_row([t.supplier, t.town, *[sheets.count(getattr(t, name)) for name in TIMELINESS_COUNTS],
                         sheets.ratio(t.within_3, t.slips)])
    if not report.timeliness:
        sheet.line("本月无有效销售单。")
    sheet.signatures(["填报单位", "审核人"])
    return f"月报-{report.month}.xlsx", sheet.save()


def _figure(column: dispatch.Column, value: int):
    return sheets.tons(value) if column.tons else sheets.count(value)


def dispatch_xlsx(session: Session, *, kind: str, day, filled_by) -> tuple[str, bytes]:
    """The dispatch sheet (调度表) as a leading group circulates it: title, period, the table (this period and the
    last, per town and in total, against the targets), notes, then 填报单位 / 填报人 / 联系电话 / 日期.
    `filled_by`: the person making it (subsidy.core.people.Person)."""
    report = dispatch.dispatch(session, kind=kind, day=day)
    widths = [18] + [11] * (2 * len(dispatch.COLUMNS)) + [11, 11, 9, 10, 10, 9]
    sheet = Sheet(report.period.title, widths)
    season = report.season.name if report.season else ""
    sheet.title(f"散煤清洁化治理工作{report.period.title}")
    sheet.line(f"{season}    调度期间：{report.period.label}    对比：{report.before.first.isoformat()} 至 "
               f"{report.before.last.isoformat()}")
    header = ["街道/镇"]
    for column in dispatch.COLUMNS:
        header += [f"{column.label}本期", f"{column.label}上期"]
    header += ["目标(吨)", "累计(吨)", "完成率", "目标炉具(台)", "累计炉具(台)", "完成率"]
    sheet.table_row(header, header=True)
    for row in report.rows + [report.total]:
        values = [row.town]
        for column in dispatch.COLUMNS:
            values += [_figure(column, getattr(row.now, column.name)),
                       _figure(column, getattr(row.before, column.name))]
        values += [sheets.tons(row.target_coal_kg), sheets.tons(row.season_coal_kg),
                   sheets.ratio(row.season_coal_kg, row.target_coal_kg), sheets.count(row.target_stoves),
                   sheets.count(row.season_stoves), sheets.ratio(row.season_stoves, row.target_stoves)]
        sheet.table_row(values, bold=row is report.total)
    sheet.blank()
    sheet.line("说明：")
    for n, note in enumerate(report.notes, start=1):
        sheet.line(f"{n}. {note}")
    sheet.blank()
    sheet.line(f"填报单位：{filled_by.unit or '区发改局'}    填报人：{filled_by.name}    联系电话：            "
               f"填报日期：{report.made_on.isoformat()}")
    return f"{report.period.title}-{report.period.first.isoformat()}.xlsx", sheet.save()


def _one_row(sheet: Sheet, figures: dict | None, name: str, columns: list) -> None:
    """A section of one row of figures (callbacks, spot checks): `columns` as (heading, key of a count, or a function
    of the figures giving the cell); for an old snapshot without the section, the line saying so."""
    if figures is None:
        sheet.line(acceptance.NOT_YET_REPORTED[name])
        return
    sheet.table_row([heading for heading, _ in columns], header=True)
    sheet.table_row([value(figures) if callable(value) else sheets.count(figures[value]) for _, value in columns])


def acceptance_xlsx(session: Session, season_id: int) -> tuple[str, bytes]:
    """The season's acceptance report (考核验收) on one printable sheet: the towns' table, coal and stoves by product and
    by household category, subsidy by fund, batches, cases, deliveries, callbacks, spot checks, the comparison with
    last season, and a signature page of its own (a page break before it)."""
    r = acceptance.report(session, season_id)
    names = {t["town_id"]: t["town"] for t in r.towns}
    sheet = Sheet("考核验收", [18, 11, 10, 10, 10, 10, 10, 12, 10, 14, 14, 14, 14, 9, 9, 9, 9, 9])
    state = "（草稿，采暖季尚未关闭）" if r.draft else f"（定稿，{r.closed_at[:10]} 关闭采暖季时生成）"
    sheet.title(f"{r.season['name']}清洁取暖工作考核验收报告{state}")
    sheet.line(f"采暖季：{r.season['starts_on']} 至 {r.season['ends_on']}    生成时间：{r.made_at[:19]}")
    sheet.line("一、目标任务完成及覆盖情况")
    sheet.table_row(["街道/镇", "目标(吨)", "目标炉具", "登记户数", "审核通过", "覆盖户数", "销售单(张)",
                     "销售(吨)", "炉具(台)", "销售金额(元)", "补贴(元)", "已结算补贴(元)", "已支付补贴(元)",
                     "煤完成率", "炉具完成率", "作废单", "投诉(件)", "办结(件)"], header=True)
    for t in r.towns + [r.total]:
        sheet.table_row([t["town"], sheets.tons(t["target_coal_kg"]), sheets.count(t["target_stoves"]),
                         sheets.count(t["registered"]), sheets.count(t["approved"]), sheets.count(t["covered"]),
                         sheets.count(t["slips"]), sheets.tons(t["coal_kg"]), sheets.count(t["stoves"]),
                         sheets.money(t["amount_fen"]), sheets.money(t["subsidy_fen"]),
                         sheets.money(t["settled_fen"]), sheets.money(t["paid_fen"]),
                         sheets.ratio(t["coal_kg"], t["target_coal_kg"]),
                         sheets.ratio(t["stoves"], t["target_stoves"]), sheets.count(t["voided"]),
                         sheets.count(t["cases"]), sheets.count(t["cases_closed"])], bold=t is r.total)
    if r.previous:
        p = r.previous["total"]
        sheet.table_row([f"上季（{r.previous['season']}）", sheets.tons(p["target_coal_kg"]),
                         sheets.count(p["target_stoves"]), sheets.count(p["registered"]), sheets.count(p["approved"]),
                         sheets.count(p["covered"]), sheets.count(p["slips"]), sheets.tons(p["coal_kg"]),
                         sheets.count(p["stoves"]), sheets.money(p["amount_fen"]), sheets.money(p["subsidy_fen"]),
                         sheets.money(p["settled_fen"]), sheets.money(p["paid_fen"]),
                         sheets.ratio(p["coal_kg"], p["target_coal_kg"]), sheets.ratio(p["stoves"], p["target_stoves"]),
                         sheets.count(p["voided"]), sheets.count(p["cases"]), sheets.count(p["cases_closed"])])
    sheet.blank()
    sheet.line("二、分产品销售情况")
    sheet.table_row(["街道/镇", "产品", "数量(吨/台)", "补贴(元)"], header=True)
    for p in r.products:
        coal = p["product"] != "stove"
        sheet.table_row(["全区" if p["town_id"] is None else names.get(p["town_id"], ""), PRODUCT_LABELS.get(p["product"], p["product"]),
                         sheets.tons(p["quantity"]) if coal else sheets.count(p["quantity"]),
                         sheets.money(p["subsidy_fen"])], bold=p["town_id"] is None)
    sheet.blank()
    sheet.line("三、分户类别情况（五保、低保、建档立卡分列）")
    sheet.table_row(["街道/镇", "户类别", "户数", "洁净煤(吨)", "炉具(台)", "补贴(元)"], header=True)
    for c in r.categories:
        sheet.table_row(["全区" if c["town_id"] is None else names.get(c["town_id"], ""),
                         CATEGORY_LABELS.get(c["category"], c["category"]), sheets.count(c["households"]),
                         sheets.tons(c["coal_kg"]), sheets.count(c["stoves"]), sheets.money(c["subsidy_fen"])],
                        bold=c["town_id"] is None)
    sheet.blank()
    sheet.line("四、补贴资金结算及拨付（分资金来源）")
    sheet.table_row(["资金来源", "已结算(元)", "已支付(元)"], header=True)
    for f in r.funds:
        sheet.table_row([f["name"], sheets.money(f["settled_fen"]), sheets.money(f["paid_fen"])])
    sheet.table_row(["合计", sheets.money(sum(f["settled_fen"] for f in r.funds)),
                     sheets.money(sum(f["paid_fen"] for f in r.funds))], bold=True)
    sheet.blank()
    sheet.line("五、质量管控（进货批次）")
    b = r.batches
    sheet.table_row(["批次数", "检验合格", "检验不合格", "进货(吨)", "已销售(吨)"], header=True)
    sheet.table_row([sheets.count(b["count"]), sheets.count(b["passed"]), sheets.count(b["failed"]),
                     sheets.tons(b["quantity_kg"]), sheets.tons(b["sold_kg"])])
    sheet.blank()
    sheet.line("六、投诉举报办理结果")
    sheet.table_row(["状态", "核查结论", "件数"], header=True)
    for c in r.case_outcomes:
        sheet.table_row([CASE_STATUS_LABELS.get(c["status"], c["status"]),
                         CASE_FINDING_LABELS.get(c["finding"], c["finding"] or "—"), sheets.count(c["count"])])
    sheet.blank()
    sheet.line("七、配送到户")
    if r.deliveries:
        sheet.table_row(["街道/镇", "销售单(张)", "已配送", "未配送", "3日内送达", "4至7日", "7日以上", "配送率"],
                        header=True)
        for d in r.deliveries["towns"] + [r.deliveries["total"]]:
            sheet.table_row([d["town"], sheets.count(d["slips"]), sheets.count(d["delivered"]),
                             sheets.count(d["undelivered"]), sheets.count(d["within_3"]), sheets.count(d["within_7"]),
                             sheets.count(d["later"]), sheets.ratio(d["delivered"], d["slips"])],
                            bold=d["town_id"] is None)
    else:
        sheet.line(acceptance.NOT_YET_REPORTED["deliveries"])
    sheet.blank()
    sheet.line("八、回访抽查")
    _one_row(sheet, r.callbacks, "callbacks", [
        ("抽样(次)", "samples"), ("抽取销售单(张)", "drawn"), ("完成回访(户)", "done"), ("联系到(户)", "answered"),
        ("发现问题(户)", "discrepancies")])
    sheet.blank()
    sheet.line("九、政府抽检")
    _one_row(sheet, r.spot_checks, "spot_checks", [
        ("抽检(次)", "count"), ("不合格(次)", "failed"), ("进货批次", "batches"), ("已抽检批次", "checked"),
        ("抽检覆盖率", lambda q: sheets.ratio(q["checked"], q["batches"])), ("不合格", "failures"),
        ("已复检", "retested")])
    if r.left_out:
        sheet.blank()
        sheet.line("附：定稿时尚未列入的项目")
        for text in r.left_out.values():
            sheet.line(f"· {text}")
    sheet.page_break()
    sheet.title("考核验收签字页")
    sheet.line(f"{r.season['name']}清洁取暖工作考核验收")
    sheet.signatures(["验收组组长", "区发改局", "区财政局"])
    sheet.signatures(["街道/镇代表", "审计"])
    return f"考核验收-{r.season['code']}.xlsx", sheet.save()
