"""The closed vocabularies of DESIGN.md, with their Chinese labels for pages and spreadsheets."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Role(StrEnum):
    VILLAGE = "village"
    TOWN = "town"
    SUPPLIER = "supplier"
    DRC = "drc"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.VILLAGE: "村/社区",
    Role.TOWN: "街道/镇",
    Role.SUPPLIER: "配送企业",
    Role.DRC: "区发改局",
    Role.FINANCE: "区财政局",
    Role.AUDITOR: "审计",
    Role.ADMIN: "系统管理员",
}


class Zone(StrEnum):
    NORMAL = "normal"
    CLEAN_ONLY = "clean_only"
    BAN = "ban"


ZONE_LABELS = {Zone.NORMAL: "一般区域", Zone.CLEAN_ONLY: "仅限洁净型煤", Zone.BAN: "禁煤区"}


class Category(StrEnum):
    ORDINARY = "ordinary"
    LOW_INCOME = "low_income"
    FIVE_GUARANTEE = "five_guarantee"
    POVERTY_REGISTERED = "poverty_registered"


CATEGORY_LABELS = {
    Category.ORDINARY: "普通",
    Category.LOW_INCOME: "低保",
    Category.FIVE_GUARANTEE: "五保",
    Category.POVERTY_REGISTERED: "建档立卡",
}


class Product(StrEnum):
    BRIQUETTE = "briquette"
    SEMI_COKE = "semi_coke"
    ANTHRACITE = "anthracite"
    STOVE = "stove"

    @property
    def is_coal(self) -> bool:
        return self is not Product.STOVE


COAL_PRODUCTS = (Product.BRIQUETTE, Product.SEMI_COKE, Product.ANTHRACITE)
PRODUCT_LABELS = {
    Product.BRIQUETTE: "洁净型煤",
    Product.SEMI_COKE: "兰炭",
    Product.ANTHRACITE: "优质无烟煤",
    Product.STOVE: "节能环保炉具",
}


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    NOTICED = "noticed"
    APPROVED = "approved"
    REJECTED = "rejected"


REGISTRATION_STATUS_LABELS = {
    RegistrationStatus.REGISTERED: "已登记",
    RegistrationStatus.NOTICED: "公示中",
    RegistrationStatus.APPROVED: "已审核",
    RegistrationStatus.REJECTED: "未通过",
}


class SupplierStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


SUPPLIER_STATUS_LABELS = {SupplierStatus.ACTIVE: "正常", SupplierStatus.SUSPENDED: "暂停"}


class SlipStatus(StrEnum):
    ISSUED = "issued"
    VOIDED = "voided"


SLIP_STATUS_LABELS = {SlipStatus.ISSUED: "有效", SlipStatus.VOIDED: "作废"}


class SummaryStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    TOWN_APPROVED = "town_approved"
    DRC_APPROVED = "drc_approved"
    FINANCE_APPROVED = "finance_approved"
    RETURNED = "returned"


SUMMARY_STATUS_LABELS = {
    SummaryStatus.DRAFT: "草稿",
    SummaryStatus.SUBMITTED: "已提交",
    SummaryStatus.TOWN_APPROVED: "街道/镇已审核",
    SummaryStatus.DRC_APPROVED: "发改局已审核",
    SummaryStatus.FINANCE_APPROVED: "财政局已审核",
    SummaryStatus.RETURNED: "已退回",
}


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    PAID = "paid"
    # The bank refused the transfer (subsidy/settlement/payments.py); reissuing puts the statement back to settled.
    PAYMENT_FAILED = "payment_failed"


SETTLEMENT_STATUS_LABELS = {SettlementStatus.SETTLED: "已结算待支付", SettlementStatus.PAID: "已支付",
                            SettlementStatus.PAYMENT_FAILED: "支付失败"}


class PaymentStatus(StrEnum):
    """A payment instruction sent to the bank in a batch transfer file, then paid or failed by the bank's result."""

    SENT = "sent"
    PAID = "paid"
    FAILED = "failed"


PAYMENT_STATUS_LABELS = {PaymentStatus.SENT: "已发送银行", PaymentStatus.PAID: "支付成功", PaymentStatus.FAILED: "支付失败"}

class SlipCopy(NamedTuple):
    name: str
    keeper: Role | None  # the office role that keeps it (the household keeps its own)
    colour: str  # the paper's colour, as printed on the copy
    band: str  # the same colour's name in the print layout's style sheet (band-white, ...)


# The five copies of a slip (DESIGN.md): copy number → its name, keeper and paper colour.
COPIES = {
    1: SlipCopy("配送企业联", Role.SUPPLIER, "白", "white"),
    2: SlipCopy("用户联", None, "红", "red"),
    3: SlipCopy("街道镇联", Role.TOWN, "蓝", "blue"),
    4: SlipCopy("区发改局联", Role.DRC, "绿", "green"),
    5: SlipCopy("区财政局联", Role.FINANCE, "黄", "yellow"),
}
COPY_OF_OFFICE = {Role.TOWN: 3, Role.DRC: 4, Role.FINANCE: 5}


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL text of a CHECK constraint limiting a column to an enum's values."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in enum)})"


class CaseChannel(StrEnum):
    HOTLINE = "hotline"
    WALK_IN = "walk_in"
    ONLINE = "online"
    CALLBACK = "callback"
    INSPECTION = "inspection"
    SYSTEM = "system"


CASE_CHANNEL_LABELS = {
    CaseChannel.HOTLINE: "热线", CaseChannel.WALK_IN: "来访", CaseChannel.ONLINE: "网上",
    CaseChannel.CALLBACK: "回访", CaseChannel.INSPECTION: "抽检", CaseChannel.SYSTEM: "系统预警",
}


class CaseCategory(StrEnum):
    QUALITY = "quality"
    SHORT_WEIGHT = "short_weight"
    PRICE = "price"
    IMPERSONATION = "impersonation"
    BAN_ZONE = "ban_zone"
    SERVICE = "service"
    OTHER = "other"


CASE_CATEGORY_LABELS = {
    CaseCategory.QUALITY: "劣质煤", CaseCategory.SHORT_WEIGHT: "短斤少两", CaseCategory.PRICE: "价格违规",
    CaseCategory.IMPERSONATION: "冒领补贴", CaseCategory.BAN_ZONE: "禁煤区售煤", CaseCategory.SERVICE: "服务态度",
    CaseCategory.OTHER: "其他",
}


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


CASE_STATUS_LABELS = {CaseStatus.OPEN: "待受理", CaseStatus.IN_PROGRESS: "办理中", CaseStatus.CLOSED: "已办结"}


class CaseFinding(StrEnum):
    TRUE = "true"
    PARTLY = "partly"
    FALSE = "false"


CASE_FINDING_LABELS = {CaseFinding.TRUE: "属实", CaseFinding.PARTLY: "部分属实", CaseFinding.FALSE: "不属实"}


class CaseLinkKind(StrEnum):
    HOUSEHOLD = "household"
    SLIP = "slip"
    SUPPLIER = "supplier"
    BATCH = "batch"


class AnomalyStatus(StrEnum):
    OPEN = "open"            # raised, waiting for review
    DISMISSED = "dismissed"  # reviewed: not a problem (with the reason); the same evidence never raises it again
    CONFIRMED = "confirmed"  # reviewed: a problem; a case was opened
    CLEARED = "cleared"      # not reviewed, and the last run no longer found it (a later run may raise it again)


ANOMALY_STATUS_LABELS = {AnomalyStatus.OPEN: "待核查", AnomalyStatus.DISMISSED: "已排除",
                         AnomalyStatus.CONFIRMED: "已确认", AnomalyStatus.CLEARED: "已消除"}


class AnomalyMemberKind(StrEnum):
    HOUSEHOLD = "household"
    SLIP = "slip"
