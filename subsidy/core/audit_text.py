"""The audit log read by people: every action as a Chinese sentence (who, when, what), and each entry's change field
by field with Chinese labels and units, ID numbers and phones masked. The household's 变更记录, the 审计日志 page
and its spreadsheet all read entries through `describe`; the raw entry (its JSON) stays beside it for the auditor.

`ACTIONS` is the registry of every action code the code base writes with `audit.record`: its Chinese name (the
action filter lists these) and the sentence's predicate. tests/unit/test_audit_census.py reads every
`audit.record(...)` call of subsidy/ and fails for a code missing here, so a new action comes with its sentence.
A code not in the registry (an old entry, a test's filler) still reads as a sentence that names the code.

Predicates are `str.format` templates over the entry's values (the snapshot after the change, over the one
before), each already formatted for people: `{coal_kg}` is "2.000吨", `{amount_fen}` "1,100.00元", `{village_id}`
the village's name, `{status}` the state's Chinese name; a value the entry does not carry is empty. Besides the
columns: `{household}` (the head of the household a household or registration entry is about), `{target}` (the
user an `app_user` entry is about) and `{entity_id}`.

Amounts and quantities are formatted by subsidy/rules/money.py; ID numbers and phones are masked with the rules of
subsidy/rules/idnumbers.py whatever the reader's role, as everywhere in the log (subsidy/core/audit.py masks them
before writing; an entry written otherwise is masked here all the same).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import clock, people
from subsidy.models import (
    CASE_CATEGORY_LABELS, CATEGORY_LABELS, COPIES, PRODUCT_LABELS, REGISTRATION_STATUS_LABELS, ROLE_LABELS,
    SETTLEMENT_STATUS_LABELS,
    SLIP_STATUS_LABELS, SUMMARY_STATUS_LABELS, SUPPLIER_STATUS_LABELS, ZONE_LABELS, AuditEntry, Household,
    Registration, Supplier, Town, Village,
)
from subsidy.rules.idnumbers import mask_account, mask_id_number, mask_phone
from subsidy.rules.money import hundredths, mj_per_kg, tons, yuan


@dataclass(frozen=True)
class Action:
    name: str       # the filter's label: 登记住户
    predicate: str  # what the person did, after their name: 登记了住户{head_name}


ACTIONS: dict[str, Action] = {
    # registry
    "household.registered": Action("登记住户", "登记了住户{head_name}（{village_id}，{category}）"),
    "household.edited": Action("修改住户信息", "修改了住户{head_name}的信息"),
    "household.imported": Action("表格导入新增住户", "通过表格导入新增住户{count}户"),
    "household.imported_update": Action("表格导入修改住户", "通过表格导入修改了住户信息"),
    "household.import_confirmed": Action("确认表格导入",
                                         "确认导入表格“{file}”：新增{imported}，更新{updated}，拒绝{refused}"),
    "registration.created": Action("登记购买", "为住户{household}登记了本采暖季的购买：洁净煤{coal_kg}，炉具{stoves}"),
    "registration.changed": Action("修改登记数量", "修改了住户{household}购买登记的数量"),
    "registration.approved": Action("审核通过登记", "审核通过了住户{household}的购买登记"),
    "registration.rejected": Action("驳回登记", "驳回了住户{household}的购买登记，原因：{reject_reason}"),
    "registration.imported": Action("表格导入新增登记", "通过表格导入新增购买登记{count}条"),
    "registration.imported_update": Action("表格导入修改登记", "通过表格导入修改了住户{household}购买登记的数量"),
    "notice.published": Action("发布公示", "发布了{village_id}的公示，共{registrations}，公示期至{ends_on}"),
    # sales
    "slip.issue": Action("开具销售单",
                         "开具了销售单{number}：{head_name}，金额{amount_fen}，补贴{subsidy_fen}"),
    "slip.void": Action("作废销售单", "作废了销售单{number}，原因：{void_reason}"),
    "slip.scan": Action("扫码登记", "扫码登记了销售单的{copy_no}"),
    "slip.released": Action("放行剔除的销售单", "放行了被剔除的销售单{number}，可计入以后月份的汇总"),
    # settlement
    "summary.built": Action("生成汇总表",
                            "生成了{supplier_id}{month}在{town_id}的销售汇总表：销售单{slip_count}，补贴{subsidy_fen}"),
    "summary.rebuilt": Action("重新生成汇总表", "重新生成了{supplier_id}{month}在{town_id}的销售汇总表"),
    "summary.submitted": Action("提交汇总表", "盖章提交了{supplier_id}{month}在{town_id}的销售汇总表"),
    "case.opened": Action("登记投诉举报", "登记了投诉举报案件{number}"),
    "case.accepted": Action("受理投诉举报", "受理了投诉举报案件{number}，开始办理"),
    "case.closed": Action("办结投诉举报", "办结了投诉举报案件{number}：{outcome}"),
    "case.reopened": Action("重新办理投诉举报", "重新打开了投诉举报案件{number}"),
    "case.noted": Action("投诉举报案件备注", "在投诉举报案件{number}中记录：{comment}"),
    "case.deadlines_saved": Action("设置案件办理期限", "设置了{name}各类投诉举报案件的办理期限：{case_deadlines}"),
    "anomaly.run": Action("运行异常预警", "运行了异常预警规则，新增预警{raised}条，待核查{open}条"),
    "anomaly.dismissed": Action("排除异常预警", "排除了异常预警#{entity_id}（{subject}）：{reason}"),
    "anomaly.confirmed": Action("确认异常预警", "确认了异常预警#{entity_id}（{subject}），转为案件办理"),
    # verification (回访抽查)
    "callback.sample_drawn": Action("抽取回访样本", "从汇总表抽取了{size}张销售单回访（共{population}张，随机种子{seed}）"),
    "callback.recorded": Action("记录回访", "记录了第{attempts}次回访拨打的结果"),
    "summary.early_allowed": Action("同意提前提交汇总表", "同意{supplier_id}在{month}结束前提交{town_id}的销售汇总表"),
    "summary.approved": Action("审核通过汇总表", "审核通过了{supplier_id}{month}在{town_id}的销售汇总表"),
    "summary.returned": Action("退回汇总表", "退回了{supplier_id}{month}在{town_id}的销售汇总表，原因：{reason}"),
    "summary.slip_set_aside": Action("剔除销售单",
                                     "从{supplier_id}{month}在{town_id}的销售汇总表中剔除了销售单{slip}，原因：{reason}"),
    "settlement.settled": Action("结算", "为{supplier_id}{month}结算，结算单{number}，补贴{subsidy_fen}"),
    "settlement.paid": Action("支付", "支付了结算单{number}，支付凭证号{payment_reference}，支付日期{paid_on}"),
    "settlement.paid_by_bank": Action("银行支付成功", "按银行结果记录结算单{number}已支付，银行流水号{payment_reference}，"
                                                  "支付日期{paid_on}"),
    "settlement.payment_failed": Action("银行支付失败", "按银行结果记录结算单{number}支付失败，原因：{reason}"),
    "settlement.payment_reissued": Action("重新支付", "将支付失败的结算单{number}重新列入待支付"),
    "payment.file_made": Action("生成批量转账文件", "生成了批量转账文件{number}，共{payments}笔，合计{total_fen}"),
    # reporting upward
    "platform.exported": Action("导出上报数据", "导出了上报平台数据（{since}之后至{high_water_mark}）"),
    # policy
    "town.created": Action("新增街道/镇", "新增了街道/镇{name}"),
    "village.created": Action("新增村/社区", "在{town_id}新增了村/社区{name}（{zone}）"),
    "village.zone_changed": Action("修改区域类型", "修改了{name}的区域类型"),
    "quality.standard_saved": Action("保存质量标准", "保存了{product}的质量标准"),
    "season.policy_saved": Action("保存采暖季政策", "保存了采暖季政策“{name}”"),
    "season.activated": Action("启用采暖季", "将“{name}”设为当前采暖季"),
    "season.closed": Action("关闭采暖季", "关闭了采暖季“{name}”，不再受理登记和销售，考核验收报告定稿"),
    "season.target_set": Action("设定目标任务", "设定了{town_id}的目标任务：洁净煤{coal_kg}，炉具{stoves}"),
    "demo.loaded": Action("载入演示数据", "载入了演示数据"),
    # supply
    "suppliers.created": Action("新增配送企业", "新增了配送企业{name}"),
    "suppliers.updated": Action("修改配送企业", "修改了配送企业{name}的信息"),
    "suppliers.contact_updated": Action("修改企业联系方式", "修改了配送企业{name}的联系方式"),
    "suppliers.suspended": Action("暂停配送企业", "暂停了配送企业{name}，原因：{reason}"),
    "suppliers.reactivated": Action("恢复配送企业", "恢复了配送企业{name}"),
    "contracts.created": Action("新增配送合同",
                                "新增了配送合同：{supplier_id}在{town_id}配送{product}，价格{price_fen}"),
    "contracts.contract_attached": Action("上传合同扫描件", "上传了配送合同的扫描件"),
    "contracts.guarantee_attached": Action("上传保证金凭证", "上传了配送合同的履约保证金凭证"),
    "attachment.uploaded": Action("上传附件", "上传了附件“{filename}”"),
    "depots.created": Action("新增保供点", "新增了{supplier_id}的保供点“{name}”（{town_id}，{address}）"),
    "depots.updated": Action("修改保供点", "修改了{supplier_id}的保供点“{name}”"),
    "depots.deactivated": Action("停用保供点", "停用了{supplier_id}的保供点“{name}”"),
    "depots.reactivated": Action("启用保供点", "重新启用了{supplier_id}的保供点“{name}”"),
    # delivery
    "delivery.recorded": Action("登记配送到户", "登记了销售单的配送到户：{delivered_on}送达，签收人{receiver}"),
    "batches.recorded": Action("登记进货批次",
                               "登记了进货批次：{product}{quantity_kg}，检验报告{report_no}，{passed}"),
    "batches.frozen": Action("冻结进货批次", "因抽检不合格冻结了进货批次（检验报告{report_no}），停止销售"),
    "quality.retest_days_saved": Action("设置复检期限", "将复检期限设为{retest_days}天"),
    "quality.spot_check_recorded": Action("登记抽检结果", "登记了抽检结果：{lab}检测报告{report_no}，{passed}"),
    # accounts
    "user.created": Action("新增用户", "新增了用户{username}（{display_name}，{role}）"),
    "user.enabled": Action("启用用户", "启用了用户{target}"),
    "user.disabled": Action("停用用户", "停用了用户{target}"),
    "user.password_reset": Action("重置密码", "重置了用户{target}的密码"),
    "user.unlocked": Action("解除锁定", "解除了用户{target}的锁定"),
    "user.locked": Action("锁定用户", "因密码错误次数过多被锁定至{locked_until}"),
    "user.login": Action("登录", "登录了系统"),
    "user.password_changed": Action("修改密码", "修改了自己的密码"),
    "token.issued": Action("申请接口令牌", "申请了接口令牌"),
    "login.address_blocked": Action("封禁登录地址", "因登录失败次数过多，封禁了地址{entity_id}至{blocked_until}"),
}

# What each kind of record is called (the 对象 column and the object filter).
ENTITIES: dict[str, str] = {
    "household": "住户", "registration": "购买登记", "notice": "公示", "import_upload": "导入文件",
    "slip": "销售单", "slip_scan": "销售单扫码", "summary": "销售汇总表", "settlement": "结算单",
    "town": "街道/镇", "village": "村/社区", "district": "区县", "season": "采暖季", "town_target": "目标任务",
    "quality_standard": "质量标准", "supplier": "配送企业", "contract": "配送合同", "attachment": "附件",
    "batch": "进货批次", "delivery": "配送到户", "app_user": "用户", "api_token": "接口令牌", "address_failures": "登录地址",
    "payment_file": "批量转账文件", "platform_export": "上报数据导出", "depot": "保供点",
}

_STATUS_BY_ENTITY = {"registration": REGISTRATION_STATUS_LABELS, "slip": SLIP_STATUS_LABELS,
                     "summary": SUMMARY_STATUS_LABELS, "settlement": SETTLEMENT_STATUS_LABELS,
                     "supplier": SUPPLIER_STATUS_LABELS}


# ---------------------------------------------------------------------------------------------- formatting values

def _text(value) -> str:
    return "" if value is None else str(value)


def _masked(rule: Callable[[str], str]) -> Callable[[object], str]:
    # The log holds them masked already (core/audit.py); masking a masked value again would star its head too.
    return lambda value: "" if not value else (str(value) if "*" in str(value) else rule(str(value)))


def _int(value, formatter: Callable[[int], str], unit: str) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{formatter(int(value))}{unit}"
    except (TypeError, ValueError):
        return str(value)


def _thousandths(value: int) -> str:
    return f"{value / 1000:.3f}"


def _moment(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return clock.local(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _day(value) -> str:
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y年%m月%d日")
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%Y年%m月%d日") if value else ""
    except ValueError:
        return str(value)


def _month(value) -> str:
    text = _text(value)
    if len(text) == 7 and text[4] == "-":
        return f"{text[:4]}年{int(text[5:])}月"
    return text


def _label(mapping: dict) -> Callable[[object], str]:
    return lambda value: "" if value is None else mapping.get(value, str(value))


def _yes_no(yes: str, no: str) -> Callable[[object], str]:
    return lambda value: "" if value is None else (yes if value in (True, 1, "true", "1") else no)


def _copy(value) -> str:
    try:
        return f"第{int(value)}联（{COPIES[int(value)].name}）"
    except (TypeError, ValueError, KeyError):
        return _text(value)


def _deadlines(value) -> str:
    if not isinstance(value, dict):
        return _text(value)
    return "，".join(f"{CASE_CATEGORY_LABELS.get(k, k)}{v}天" for k, v in value.items())


# key -> (label, formatter). Keys without an entry (ids, timestamps, hashes) are left to the raw entry.
Formatter = Callable[[object], str]
FIELDS: dict[str, tuple[str, Formatter]] = {
    "head_name": ("户主姓名", _text),
    "id_number": ("身份证号码", _masked(mask_id_number)),
    "phone": ("联系电话", _masked(mask_phone)),
    "contact_phone": ("联系电话", _masked(mask_phone)),
    "bank_account": ("银行账号", _masked(mask_account)),
    "address": ("住址", _text),
    "category": ("户类别", _label(CATEGORY_LABELS)),
    "village_id": ("村/社区", _text),   # names resolved in _Names
    "town_id": ("街道/镇", _text),
    "supplier_id": ("配送企业", _text),
    "coal_kg": ("洁净煤", lambda v: _int(v, tons, "吨")),
    "stoves": ("炉具", lambda v: _int(v, str, "台")),
    "sold_coal_kg": ("已购洁净煤", lambda v: _int(v, tons, "吨")),
    "sold_stoves": ("已购炉具", lambda v: _int(v, str, "台")),
    "quantity_kg": ("进货数量", lambda v: _int(v, tons, "吨")),
    "sold_kg": ("已售数量", lambda v: _int(v, tons, "吨")),
    "cap_coal_kg": ("每户洁净煤上限", lambda v: _int(v, tons, "吨")),
    "cap_stoves": ("每户炉具上限", lambda v: _int(v, str, "台")),
    "amount_fen": ("金额", lambda v: _int(v, yuan, "元")),
    "subsidy_fen": ("补贴", lambda v: _int(v, yuan, "元")),
    "price_fen": ("配送价格", lambda v: _int(v, yuan, "元")),
    "total_fen": ("合计金额", lambda v: _int(v, yuan, "元")),
    "slip_count": ("销售单", lambda v: _int(v, str, "张")),
    "status": ("状态", _text),          # by the entry's kind, in _value
    "reject_reason": ("驳回原因", _text),
    "outcome": ("处理结果", _text),
    "case_deadlines": ("案件办理期限", _deadlines),
    "description": ("内容", _text),
    "void_reason": ("作废原因", _text),
    "set_aside_reason": ("剔除原因", _text),
    "reason": ("原因", _text),
    "slip": ("销售单号", _text),
    "number": ("编号", _text),
    "month": ("月份", _month),
    "published_on": ("公示日期", _day),
    "ends_on": ("截止日期", _day),
    "starts_on": ("开始日期", _day),
    "paid_on": ("支付日期", _day),
    "signed_on": ("签订日期", _day),
    "arrival_date": ("到货日期", _day),
    "report_date": ("检验报告日期", _day),
    "tender_date": ("中标日期", _day),
    "locked_until": ("锁定至", _moment),
    "early_allowed_at": ("同意提前提交时间", _moment),
    "blocked_until": ("封禁至", _moment),
    "objection_contact": ("异议受理", _text),
    "registrations": ("户数", lambda v: _int(v, str, "户")),
    "count": ("数量", _text),
    "payment_reference": ("支付凭证号", _text),
    "name": ("名称", _text),
    "code": ("代码", _text),
    "zone": ("区域类型", _label(ZONE_LABELS)),
    "product": ("产品", _label(PRODUCT_LABELS)),
    "username": ("用户名", _text),
    "display_name": ("姓名", _text),
    "role": ("角色", _label(ROLE_LABELS)),
    "is_active": ("启用", _yes_no("是", "否")),
    "active": ("启用", _yes_no("是", "否")),
    "must_change_password": ("须修改密码", _yes_no("是", "否")),
    "notice_days": ("公示天数", lambda v: _int(v, str, "天")),
    "stove_once_ever": ("炉具每户限购一台（跨采暖季）", _yes_no("是", "否")),
    "copy_no": ("联次", _copy),
    "filename": ("文件名", _text),
    "file": ("文件名", _text),
    "imported": ("新增", lambda v: _int(v, str, "户")),
    "updated": ("更新", lambda v: _int(v, str, "户")),
    "refused": ("拒绝", lambda v: _int(v, str, "行")),
    "credit_code": ("统一社会信用代码", _text),
    "legal_rep": ("法定代表人", _text),
    "contact_name": ("联系人", _text),
    "bank_name": ("开户银行", _text),
    "tender_notice_no": ("中标通知书编号", _text),
    "products": ("中标产品", lambda v: "、".join(PRODUCT_LABELS.get(p, p) for p in _text(v).split(",") if p)),
    "guarantee_received": ("履约保证金", _yes_no("已收", "未收")),
    "producer": ("生产企业", _text),
    "origin": ("产地", _text),
    "vehicle": ("车牌号", _text),
    "report_no": ("检验报告编号", _text),
    "lab": ("检验机构", _text),
    "passed": ("检验结果", _yes_no("检验合格", "检验不合格")),
    "failed_reasons": ("不合格项", _text),
    "volatile_cpct": ("挥发分", lambda v: _int(v, hundredths, "%")),
    "sulfur_cpct": ("全硫", lambda v: _int(v, hundredths, "%")),
    "ash_cpct": ("灰分", lambda v: _int(v, hundredths, "%")),
    "calorific_kj_kg": ("发热量", lambda v: _int(v, mj_per_kg, "MJ/kg")),
    "max_volatile_cpct": ("挥发分上限", lambda v: _int(v, hundredths, "%")),
    "max_sulfur_cpct": ("全硫上限", lambda v: _int(v, hundredths, "%")),
    "max_ash_cpct": ("灰分上限", lambda v: _int(v, hundredths, "%")),
    "min_calorific_kj_kg": ("发热量下限", lambda v: _int(v, mj_per_kg, "MJ/kg")),
    "moisture_cpct": ("全水分", lambda v: _int(v, hundredths, "%")),
    "mercury_ng_g": ("汞", lambda v: _int(v, _thousandths, "μg/g")),
    "arsenic_ug_g": ("砷", lambda v: _int(v, str, "μg/g")),
    "phosphorus_mpct": ("磷", lambda v: _int(v, _thousandths, "%")),
    "chlorine_mpct": ("氯", lambda v: _int(v, _thousandths, "%")),
    "fluorine_ug_g": ("氟", lambda v: _int(v, str, "μg/g")),
    "strength_n": ("冷压强度", lambda v: _int(v, str, "N/个")),
    "drop_cpct": ("跌落强度", lambda v: _int(v, hundredths, "%")),
    "max_moisture_cpct": ("全水分上限", lambda v: _int(v, hundredths, "%")),
    "max_mercury_ng_g": ("汞上限", lambda v: _int(v, _thousandths, "μg/g")),
    "max_arsenic_ug_g": ("砷上限", lambda v: _int(v, str, "μg/g")),
    "max_phosphorus_mpct": ("磷上限", lambda v: _int(v, _thousandths, "%")),
    "max_chlorine_mpct": ("氯上限", lambda v: _int(v, _thousandths, "%")),
    "max_fluorine_ug_g": ("氟上限", lambda v: _int(v, str, "μg/g")),
    "min_strength_n": ("冷压强度下限", lambda v: _int(v, str, "N/个")),
    "min_drop_cpct": ("跌落强度下限", lambda v: _int(v, hundredths, "%")),
    "preset": ("标准模板", _text),
    "retest_days": ("复检期限（天）", _text),
    "frozen_at": ("冻结时间", _moment),
    "sampled_on": ("抽样日期", _text),
    "place": ("抽样地点", _text),
    "sampler": ("抽样人", _text),
    "standard_source": ("判定依据", _text),
    "source": ("依据", _text),
    "bulk": ("批量审核", _yes_no("是", "否")),
}
# The same column means something else on some records.
_LABEL_BY_ENTITY = {("notice", "ends_on"): "公示截止", ("season", "ends_on"): "结束日期",
                    ("slip", "number"): "销售单号", ("settlement", "number"): "结算单号",
                    ("season", "is_active"): "当前采暖季"}
_POSITION = {key: position for position, key in enumerate(FIELDS)}
_NAMED = {"village_id": Village, "town_id": Town, "supplier_id": Supplier}


# ---------------------------------------------------------------------------------------------- describing entries

@dataclass(frozen=True)
class Change:
    label: str
    before: str | None  # None: the entry has no "before" (a creation): the value is what was recorded
    after: str


@dataclass
class Described:
    entry: AuditEntry
    when: str
    who: people.Person
    action: str       # the Chinese name of the action
    subject: str      # 住户 李建国 / 销售单 TS21A-000123-7
    sentence: str
    changes: list[Change] = field(default_factory=list)

    @property
    def raw_before(self) -> str:
        return _pretty(self.entry.before)

    @property
    def raw_after(self) -> str:
        return _pretty(self.entry.after)


def action_name(code: str) -> str:
    found = ACTIONS.get(code)
    return found.name if found else code


def action_choices(present: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(code, Chinese name) of every registered action and of any other code found in the log, by name."""
    codes = set(ACTIONS) | set(present)
    return sorted(((code, action_name(code)) for code in codes), key=lambda pair: (pair[0] not in ACTIONS, pair[0]))


def entity_choices() -> list[tuple[str, str]]:
    return list(ENTITIES.items())


def describe(session: Session, entries: Iterable[AuditEntry]) -> list[Described]:
    """Each entry as people read it. Names of users, villages, towns and suppliers in a few queries for all."""
    entries = list(entries)
    loaded = [(e, _load(e.before), _load(e.after)) for e in entries]
    user_ids = {e.user_id for e in entries if e.user_id is not None}
    user_ids |= {int(e.entity_id) for e in entries if e.entity == "app_user" and str(e.entity_id).isdigit()}
    who = people.people(session, user_ids)
    names = _names(session, [values for _, before, after in loaded for values in (before, after)])
    names.update(_households(session, entries))
    return [_describe(e, before, after, who, names) for e, before, after in loaded]


def _describe(entry: AuditEntry, before: dict, after: dict, who: dict, names: dict) -> Described:
    person = people.SYSTEM if entry.user_id is None else who.get(entry.user_id, people.Person(entry.username))
    merged = {**before, **after}
    values = _Values({key: _value(entry.entity, key, value, names) for key, value in merged.items()})
    values["entity_id"] = entry.entity_id
    values["household"] = names.get((entry.entity, entry.entity_id), "") or values.get("head_name", "")
    if entry.entity == "app_user" and str(entry.entity_id).isdigit():
        target = who.get(int(entry.entity_id))
        values["target"] = target.label if target else merged.get("username", entry.entity_id)
    changes = _changes(entry.entity, before, after, names)
    known = ACTIONS.get(entry.action)
    if known:
        what = known.predicate.format_map(values)
    else:
        what = f"执行了操作“{entry.action}”（{ENTITIES.get(entry.entity, entry.entity)}{_id_text(entry)}）"
    # The changes the predicate does not already say (a rejection's reason is in it), at most three.
    edits = [c for c in changes if c.before is not None and not (c.after and c.after in what)]
    if edits:
        shown = "；".join(f"{c.label}由“{c.before or '空'}”改为“{c.after or '空'}”" for c in edits[:3])
        what += "：" + shown + ("等" if len(edits) > 3 else "")
    when = _moment(entry.at)
    return Described(entry, when, person, action_name(entry.action), _subject(entry, values),
                     f"{when}，{person.label}{what}。", changes)


def _subject(entry: AuditEntry, values: dict) -> str:
    kind = ENTITIES.get(entry.entity, entry.entity)
    for key in ("number", "head_name", "name", "username", "filename"):
        if values.get(key):
            return f"{kind} {values[key]}"
    return f"{kind}{_id_text(entry)}"


def _id_text(entry: AuditEntry) -> str:
    return f" #{entry.entity_id}" if entry.entity_id else ""


def _changes(entity: str, before: dict, after: dict, names: dict) -> list[Change]:
    """Field by field: what changed (an entry with a before) or what was recorded (one without)."""
    out = []
    for key in sorted(set(after) | set(before), key=_field_order):
        if key not in FIELDS:
            continue
        label = _LABEL_BY_ENTITY.get((entity, key), FIELDS[key][0])
        new = _value(entity, key, after.get(key, before.get(key)), names)
        if before:
            if key not in after or before.get(key) == after.get(key):
                continue
            out.append(Change(label, _value(entity, key, before.get(key), names), new))
        elif new:
            out.append(Change(label, None, new))
    return out


def _field_order(key: str) -> tuple[int, str]:
    """FIELDS' order (who, what, how much, state), the rest by name."""
    return (_POSITION.get(key, len(_POSITION)), key)


def _value(entity: str, key: str, value, names: dict) -> str:
    if key in _NAMED:
        return names.get((key, value), "" if value is None else f"#{value}")
    if key == "status":
        return _STATUS_BY_ENTITY.get(entity, {}).get(value, _text(value))
    formatter = FIELDS.get(key, (None, _text))[1]
    if isinstance(value, (list, dict)) and formatter is not _deadlines:
        return json.dumps(value, ensure_ascii=False)
    return formatter(value)


def _names(session: Session, snapshots: list[dict]) -> dict[tuple[str, int], str]:
    wanted: dict[str, set[int]] = {key: set() for key in _NAMED}
    for values in snapshots:
        for key in _NAMED:
            if isinstance(values.get(key), int):
                wanted[key].add(values[key])
    found = {}
    for key, model in _NAMED.items():
        if wanted[key]:
            for ident, name in session.execute(select(model.id, model.name).where(model.id.in_(wanted[key]))
                                               .execution_options(unscoped=True)).all():
                found[(key, ident)] = name
    return found


def _households(session: Session, entries: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """The head's name of each household and registration entry's household, keyed (entity, entity_id)."""
    ids = {kind: {int(e.entity_id) for e in entries if e.entity == kind and str(e.entity_id).isdigit()}
           for kind in ("household", "registration")}
    found: dict[tuple[str, str], str] = {}
    if ids["household"]:
        for ident, name in session.execute(select(Household.id, Household.head_name).where(
                Household.id.in_(ids["household"])).execution_options(unscoped=True)).all():
            found[("household", str(ident))] = name
    if ids["registration"]:
        for ident, name in session.execute(
                select(Registration.id, Household.head_name).join(Household, Household.id == Registration.household_id)
                .where(Registration.id.in_(ids["registration"])).execution_options(unscoped=True)).all():
            found[("registration", str(ident))] = name
    return found


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _load(text: str) -> dict:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError:
        return {"value": text}
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def _pretty(text: str) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=1, sort_keys=True)
    except ValueError:
        return text


# ---------------------------------------------------------------------------------------------- the spreadsheet

EXPORT_LIMIT = 100_000  # rows of one export: a month of a district's log; narrow the filter for more
EXPORT_HEADER = ["编号", "时间", "操作人", "单位", "用户名", "操作", "对象", "说明", "变更明细", "修改前（原始记录）",
                 "修改后（原始记录）"]


def change_lines(described: Described) -> list[str]:
    return [f"{c.label}：{c.after}" if c.before is None else f"{c.label}：{c.before or '空'} → {c.after or '空'}"
            for c in described.changes]


def export_xlsx(session: Session, flt, *, limit: int = EXPORT_LIMIT, chunk: int = 1000) -> bytes:
    """The filtered log (`flt`: a subsidy.core.audit.LogFilter) newest first as a spreadsheet, written row by row
    (openpyxl write-only) from batches of entries; at most `limit` rows, and a last row saying so when cut."""
    import io

    from openpyxl import Workbook

    from subsidy.core import audit, sheets

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审计日志")
    sheets.append(sheet, EXPORT_HEADER)
    written, batch = 0, []

    def flush() -> None:
        for d in describe(session, batch):
            sheets.append(sheet, [d.entry.id, d.when, d.who.name, d.who.unit, d.entry.username, d.action, d.subject,
                                  d.sentence, "\n".join(change_lines(d)), d.entry.before, d.entry.after])
        batch.clear()

    cut = False
    for entry in audit.iter_entries(session, flt, limit=limit + 1, batch_size=chunk):
        if written == limit:
            cut = True
            break
        batch.append(entry)
        written += 1
        if len(batch) >= chunk:
            flush()
    flush()
    if cut:
        sheets.append(sheet, [None, f"仅导出了最新的 {limit} 条记录，请缩小筛选范围后再导出其余的记录"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
