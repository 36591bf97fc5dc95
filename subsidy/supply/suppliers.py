"""Suppliers (配送企业), kept by the development-and-reform bureau.

The bureau records each tender-winning company: name, unified social credit code (GB 32100, checked by its check
character), legal representative, contact, address, the bank account the subsidy is paid to (shown masked), the tender
(notice number, date, products won), the one- or two-letter prefix of its slip numbers, and its status. A suspended
supplier cannot issue slips (`ensure_can_sell`). A supplier's own user may change only its contact details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from subsidy.core import audit, paging
from subsidy.core.errors import Conflict, NotAllowed, NotFound, Refused
from subsidy.rules.text import clean_text, clean_text_into
from subsidy.rules.idnumbers import InvalidCreditCode, validate_credit_code, validate_phone
from subsidy.models import PRODUCT_LABELS, Product, Role, Supplier, SupplierStatus
from subsidy.core.scope import get_or_404

PER_PAGE = 50
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_PREFIX = re.compile(r"[A-Z]{1,2}")
_ACCOUNT = re.compile(r"[0-9]{8,32}")


@dataclass
class SupplierInput:
    code: str = ""
    name: str = ""
    credit_code: str = ""
    slip_prefix: str = ""
    legal_rep: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""
    bank_name: str = ""
    bank_account: str = ""
    tender_notice_no: str = ""
    tender_date: date | None = None
    products: list[str] = field(default_factory=list)


def _clean(s: str | None) -> str:
    return (s or "").strip()


def validate(data: SupplierInput) -> dict:
    """The column values of a supplier, or Refused naming every wrong field."""
    errors: dict[str, str] = {}
    values: dict = {}
    code = _clean(data.code).lower()
    if not _CODE.fullmatch(code):
        errors["code"] = "企业代码应为小写字母、数字或连字符（1至32位），例如 coal-a"
    values["code"] = code
    name = clean_text_into(errors, data.name, "name", 100, label="企业名称")
    if not name and "name" not in errors:
        errors["name"] = "请填写企业名称（不超过100字）"
    values["name"] = name
    try:
        values["credit_code"] = validate_credit_code(data.credit_code or "")
    except InvalidCreditCode as error:
        errors["credit_code"] = str(error)
    prefix = _clean(data.slip_prefix).upper()
    if not _PREFIX.fullmatch(prefix):
        errors["slip_prefix"] = "销售单编号前缀应为1至2个大写英文字母"
    values["slip_prefix"] = prefix
    values.update(_contact_values(data.contact_name, data.contact_phone, data.address, errors))
    values["legal_rep"] = clean_text_into(errors, data.legal_rep, "legal_rep", 32, label="法定代表人")
    values["bank_name"] = clean_text_into(errors, data.bank_name, "bank_name", 100, label="开户银行")
    account = "".join(_clean(data.bank_account).split())
    if account and not _ACCOUNT.fullmatch(account):
        errors["bank_account"] = "银行账号应为8至32位数字"
    values["bank_account"] = account
    values["tender_notice_no"] = clean_text_into(errors, data.tender_notice_no, "tender_notice_no", 64,
                                                 label="中标公告编号")
    values["tender_date"] = data.tender_date
    products = []
    for p in data.products:
        try:
            products.append(Product(p))
        except ValueError:
            errors["products"] = f"未知的产品：{p}"
    if not products and "products" not in errors:
        errors["products"] = "请选择中标产品"
    values["products"] = ",".join(str(p) for p in Product if p in products)
    if errors:
        raise Refused("企业信息有误：" + "；".join(errors.values()), errors=errors)
    return values


def _contact_values(contact_name, contact_phone, address, errors: dict) -> dict:
    values = {"contact_name": clean_text_into(errors, contact_name, "contact_name", 32, label="联系人"),
              "address": clean_text_into(errors, address, "address", 200, label="地址"), "contact_phone": ""}
    phone = _clean(contact_phone)
    if phone:
        try:
            values["contact_phone"] = validate_phone(phone)
        except ValueError as error:
            errors["contact_phone"] = str(error)
    return values


def _check_unique(session: Session, values: dict, own_id: int | None) -> None:
    for column, label in ((Supplier.code, "企业代码"), (Supplier.credit_code, "统一社会信用代码"),
                          (Supplier.slip_prefix, "销售单编号前缀")):
        other = session.execute(select(Supplier.id).where(column == values[column.key])
                                .execution_options(unscoped=True)).scalar_one_or_none()
        if other is not None and other != own_id:
            raise Conflict(f"{label}“{values[column.key]}”已被其他企业使用", field=column.key, existing_id=other)


def create(session: Session, actor, data: SupplierInput) -> Supplier:
    values = validate(data)
    _check_unique(session, values, None)
    supplier = Supplier(**values)
    session.add(supplier)
    session.flush()
    audit.record(session, actor, "suppliers.created", supplier)
    return supplier


def update(session: Session, actor, supplier_id: int, data: SupplierInput) -> Supplier:
    """The bureau edits a supplier. The slip prefix cannot change once the supplier has slips (numbers would clash)."""
    supplier = get_or_404(session, Supplier, supplier_id)
    values = validate(data)
    _check_unique(session, values, supplier.id)
    if values["slip_prefix"] != supplier.slip_prefix and _has_slips(session, supplier.id):
        raise Refused("该企业已开具销售单，不能再修改销售单编号前缀", field="slip_prefix")
    before = audit.snapshot(supplier)
    for key, value in values.items():
        setattr(supplier, key, value)
    session.flush()
    audit.record(session, actor, "suppliers.updated", supplier, before=before)
    return supplier


def _has_slips(session: Session, supplier_id: int) -> bool:
    from subsidy.models import Slip

    return session.execute(select(Slip.id).where(Slip.supplier_id == supplier_id).limit(1)
                           .execution_options(unscoped=True)).first() is not None


def update_contact(session: Session, actor, supplier_id: int, *, contact_name: str, contact_phone: str,
                   address: str) -> Supplier:
    """A supplier's own user changes its contact details (only those); the bureau may too."""
    if actor is not None and actor.role == Role.SUPPLIER and actor.supplier_id != supplier_id:
        raise NotFound()
    if actor is not None and actor.role not in (Role.SUPPLIER, Role.DRC):
        raise NotAllowed()
    supplier = get_or_404(session, Supplier, supplier_id)
    errors: dict[str, str] = {}
    values = _contact_values(contact_name, contact_phone, address, errors)
    if errors:
        raise Refused("联系方式有误：" + "；".join(errors.values()), errors=errors)
    before = audit.snapshot(supplier)
    for key, value in values.items():
        setattr(supplier, key, value)
    session.flush()
    audit.record(session, actor, "suppliers.contact_updated", supplier, before=before)
    return supplier


def set_status(session: Session, actor, supplier_id: int, status: str, reason: str = "") -> Supplier:
    try:
        status = SupplierStatus(status)
    except ValueError:
        raise Refused("状态无效", field="status") from None
    reason = clean_text(reason, "reason", 200, label="暂停原因")
    if status == SupplierStatus.SUSPENDED and not reason:
        raise Refused("暂停企业时请填写原因", field="reason")
    supplier = get_or_404(session, Supplier, supplier_id)
    if supplier.status == status:
        return supplier
    before = audit.snapshot(supplier)
    supplier.status = status
    session.flush()
    after = {**audit.snapshot(supplier), "reason": reason}
    audit.record(session, actor, "suppliers.suspended" if status == SupplierStatus.SUSPENDED
                 else "suppliers.reactivated", supplier, before=before, after=after)
    return supplier


def ensure_can_sell(session: Session, supplier_id: int) -> Supplier:
    """The supplier, if it may issue slips; a suspended supplier is refused."""
    supplier = session.execute(select(Supplier).where(Supplier.id == supplier_id)
                               .execution_options(unscoped=True)).scalar_one_or_none()
    if supplier is None:
        raise NotFound()
    if supplier.status != SupplierStatus.ACTIVE:
        raise Refused(f"{supplier.name}已被暂停配送资格，不能开具销售单")
    return supplier


def get(session: Session, supplier_id: int) -> Supplier:
    return get_or_404(session, Supplier, supplier_id)


SORTS = {"code": Supplier.code, "name": Supplier.name}


def listing(session: Session, *, status: str | None = None, sort: str | None = None, **page) -> paging.Page:
    """A page of the suppliers in scope (a supplier sees itself), by code (paging.fetch's keyword arguments)."""
    query = select(Supplier)
    if status:
        query = query.where(Supplier.status == status)
    return paging.fetch(session, query, paging.Order.of(sort, SORTS, "code", Supplier.id), **page)


def all_in_scope(session: Session) -> list[Supplier]:
    return list(session.execute(select(Supplier).order_by(Supplier.code)).scalars())


def products_of(supplier: Supplier) -> list[str]:
    return [p for p in (supplier.products or "").split(",") if p]


def products_label(supplier: Supplier) -> str:
    return "、".join(PRODUCT_LABELS.get(p, p) for p in products_of(supplier))
