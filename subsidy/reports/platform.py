"""The platform data set (数据上报): what the bureau hands the city's or province's platform, as CSV (UTF-8 with a
BOM, so that Excel opens it) and xlsx, each file incremental: rows changed after the previous export's high-water
mark, in a stable order (by the row's id), with the next high-water mark beside them. Columns and their meaning:
docs/platform-export.md, whose tables `docs_section()` writes from `DATASETS` below (`write_docs()`;
tests/services/reports/test_platform.py fails when the page is not current). On PostgreSQL the server writes each
CSV (COPY, "PostgreSQL's COPY" below), byte for byte what the Python path writes elsewhere.

Which rows an export takes, so that run again and again with the high-water mark it yields every change exactly once
even while sales go on. A timestamp taken when a row is written does not do: a sale stamped 10:00:01 may commit
after an export at 10:00:02 has read "everything up to 10:00:02", and the next export, asking for "after 10:00:02",
would never see it. So each exported table has a change marker, `change_seq`, stamped by a trigger on every INSERT
and UPDATE (migration 0015_h_platform), and each export computes a horizon H such that every change stamped below H
has already committed (or rolled back) and is visible to the export's snapshot. An export takes the rows with
`since <= change_seq < H` and answers H as the next `since`. Each change's stamp lies in exactly one such interval,
and by the time an export reaches past it the change is visible: nothing is passed over, nothing is taken twice (a
row changed again gets a new stamp and comes again, in its new state, as a changed row should).

- PostgreSQL, as the audit sealer (subsidy/core/audit.py) does for its out-of-order commits: the stamp is the
  writing transaction's id (`pg_current_xact_id()`, 64 bits: it never wraps), and H is the oldest transaction the
  export's snapshot counts as running, or the snapshot's xmax (the next id to be given) when none is running. Every
  transaction below H had ended when the snapshot was taken, so all of its rows are in it; one that was running, or
  had not begun, has an id at or above H and is taken by the next export. The sealer uses the snapshot's xmin, which
  counts the transactions of every database of the cluster: on a shared server a benchmark's ten-minute load in
  another database held the export's H back for all that time (measured here). So the running transactions that
  pg_stat_activity shows, at that moment, in ANOTHER database are left out of H (a transaction writes one database
  only); one that has ended since the snapshot, or whose database the app's role may not see (grant it
  pg_read_all_stats to see them all), still counts, which can only hold H back, never pass a row over. The whole set
  is read in one REPEATABLE READ transaction whose first statement computes H, so the files of one export agree with
  each other (a slip and its lines). A long-running transaction in this database holds H back: its rows, and those
  of the transactions after it, wait for the next export; none is lost.
- SQLite: the stamp is the epoch in `export_clock`, and an export first moves the epoch on (E to E + 1) in a write
  transaction of its own. Writers hold SQLite's one write lock from their first write to their commit, so a writer
  either committed before the move (its rows carry E or less, and the export, reading after the move, sees them) or
  writes after it (its rows carry E + 1 or more: the next export). H is E + 1.

The `since` the caller sends is the previous answer's `X-High-Water-Mark`, an opaque token (`hw1-<number>`): the
number is a transaction id on PostgreSQL and an epoch on SQLite, so a token is only meaningful for the database that
issued it. No `since` (or `since=0`) is the full set; rows written before the markers existed carry 0 and come with
it.

Adding a table is one `register(Dataset(...))` entry below, with the table's `change_seq` column and its two
triggers in that table's migration (`create_change_triggers` of 0015_h_platform, which 0016_h_platform loads from
that file for deliveries and spot checks), then `write_docs()`.
Only the households file carries ID numbers, and whole: the platform deduplicates households across districts by them,
and only the bureau (drc) may make the export; the phone is left out altogether (the platform does not need it).
Every export is in the audit log: who, when, which file, which rows (`since`, the high-water mark, the count and the
first and last id) and the file's SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Integer, Text, cast, func, literal, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, db, sheets, vault
from subsidy.core.errors import NotFound, Refused
from subsidy.models import (
    Batch, Delivery, Depot, ExportClock, Household, Registration, Season, Settlement, Slip, SlipLine, SpotCheck, Supplier,
    Town, Village,
)
from subsidy.models.sealed import Sealed
from subsidy.policy.quality import INDICATORS

FORMAT_VERSION = 1  # of the data set as a whole: the manifest carries it, and a breaking change to a file bumps it
TOKEN_PREFIX = "hw1-"
BOM = "\ufeff"
CHUNK_CHARS = 256 * 1024  # CSV text handed to the response at a time
FETCH = 5000  # rows fetched from the server-side cursor at a time


# ----------------------------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Column:
    """One column of a file: its header, what it means, how it is written, and the expression that gives it.

    `kind`: "int" (whole number: ids, kg, sets, counts), "fen" (money in integer fen; yuan in the xlsx), "kg" (coal
    in integer kg), "text", "id_number" (text, whole), "date" (YYYY-MM-DD), "datetime" (ISO 8601, UTC), "bool" (1/0)."""

    name: str
    label: str
    kind: str
    doc: str
    expr: Any


@dataclass(frozen=True)
class Dataset:
    """One file of the set: `marker` is the change marker that decides which rows an export takes (a table's own
    `change_seq`, or its parent's when its rows change with the parent, as a slip's lines do), `key` the stable
    order, `source` the FROM clause the columns are read from."""

    name: str
    title: str
    doc: str
    source: Any
    marker: Any
    key: Any
    columns: tuple[Column, ...]
    version: int = 1


DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    if dataset.name in DATASETS:
        raise ValueError(f"dataset {dataset.name} registered twice")
    DATASETS[dataset.name] = dataset
    return dataset


def C(name: str, label: str, kind: str, expr, doc: str) -> Column:
    return Column(name, label, kind, doc, expr)


_supplier = Supplier.__table__.alias("supplier")
_town = Town.__table__.alias("town")
_village = Village.__table__.alias("village")
_depot = Depot.__table__.alias("depot")
_depot_town = Town.__table__.alias("depot_town")

register(Dataset(
    name="households", title="户籍登记（户）",
    doc="The registry's households. The ID number is whole: the platform deduplicates households across districts by "
        "it. No phone.",
    source=Household.__table__.join(_village, _village.c.id == Household.village_id)
    .join(_town, _town.c.id == _village.c.town_id),
    marker=Household.change_seq, key=Household.id,
    columns=(
        C("household_id", "户编号", "int", Household.id, "the household's id in this district's system"),
        C("town_code", "街道/镇代码", "text", _town.c.code, "the town (街道/镇) of its village"),
        C("village_code", "村(社区)代码", "text", _village.c.code, "its village or community"),
        C("village_name", "村(社区)", "text", _village.c.name, "the village's name"),
        C("head_name", "户主姓名", "text", Household.head_name, "the head of household"),
        C("id_number", "身份证号码", "id_number", Household.id_number,
          "the head's ID number (GB 11643, 18 characters), whole"),
        C("address", "住址", "text", Household.address, "the household's address"),
        C("category", "户类别", "text", Household.category,
          "ordinary, low_income (低保), five_guarantee (五保), poverty_registered (建档立卡)"),
        C("created_at", "登记时间", "datetime", Household.created_at, "when it was registered"),
        C("updated_at", "修改时间", "datetime", Household.updated_at, "when it was last edited"),
    )))

register(Dataset(
    name="registrations", title="购买登记",
    doc="One household's purchase request for one season, its state and what has been sold against it.",
    source=Registration.__table__.join(Season, Season.id == Registration.season_id)
    .join(_village, _village.c.id == Registration.village_id),
    marker=Registration.change_seq, key=Registration.id,
    columns=(
        C("registration_id", "登记编号", "int", Registration.id, "the registration's id"),
        C("household_id", "户编号", "int", Registration.household_id, "households.household_id"),
        C("season_id", "采暖季编号", "int", Registration.season_id, "the heating season's id"),
        C("season_name", "采暖季", "text", Season.name, "the season's name"),
        C("village_code", "村(社区)代码", "text", _village.c.code, "the household's village"),
        C("coal_kg", "登记洁净煤(千克)", "kg", Registration.coal_kg, "coal requested, kg"),
        C("stoves", "登记炉具(台)", "int", Registration.stoves, "stoves requested, sets"),
        C("status", "状态", "text", Registration.status, "registered, noticed, approved or rejected"),
        C("decided_at", "审核时间", "datetime", Registration.decided_at, "when the town approved or rejected it"),
        C("reject_reason", "不予通过原因", "text", Registration.reject_reason, "the town's reason, when rejected"),
        C("sold_coal_kg", "已购洁净煤(千克)", "kg", Registration.sold_coal_kg, "coal sold on issued slips, kg"),
        C("sold_stoves", "已购炉具(台)", "int", Registration.sold_stoves, "stoves sold on issued slips, sets"),
        C("created_at", "登记时间", "datetime", Registration.created_at, "when it was registered"),
    )))

_SLIP_SOURCE = (Slip.__table__.join(_supplier, _supplier.c.id == Slip.supplier_id)
                .join(_town, _town.c.id == Slip.town_id).join(_village, _village.c.id == Slip.village_id))

register(Dataset(
    name="slips", title="销售单",
    doc="Sales slips (one sale to one household). Their lines are in slip_lines.",
    source=_SLIP_SOURCE, marker=Slip.change_seq, key=Slip.id,
    columns=(
        C("slip_id", "销售单编号", "int", Slip.id, "the slip's id"),
        C("number", "销售单号", "text", Slip.number, "the printed slip number (with its check character)"),
        C("season_id", "采暖季编号", "int", Slip.season_id, "the heating season's id"),
        C("supplier_code", "配送企业代码", "text", _supplier.c.code, "the supplier that sold"),
        C("town_code", "街道/镇代码", "text", _town.c.code, "the household's town"),
        C("village_code", "村(社区)代码", "text", _village.c.code, "the household's village"),
        C("household_id", "户编号", "int", Slip.household_id, "households.household_id"),
        C("registration_id", "登记编号", "int", Slip.registration_id, "registrations.registration_id"),
        C("status", "状态", "text", Slip.status, "issued or voided"),
        C("issued_at", "开单时间", "datetime", Slip.issued_at, "when it was issued"),
        C("issued_on", "销售日期", "date", Slip.issued_on, "the sale's date in China time (decides its month)"),
        C("head_name", "户主姓名", "text", Slip.head_name, "the buyer as on the slip"),
        C("category", "户类别", "text", Slip.category, "the household's category when sold"),
        C("coal_kg", "洁净煤(千克)", "kg", Slip.coal_kg, "coal sold, kg"),
        C("stoves", "炉具(台)", "int", Slip.stoves, "stoves sold, sets"),
        C("amount_fen", "金额(分)", "fen", Slip.amount_fen, "the sale's amount, fen (yuan in the xlsx)"),
        C("subsidy_fen", "补贴(分)", "fen", Slip.subsidy_fen, "the subsidy, fen"),
        C("household_pays_fen", "农户自付(分)", "fen", Slip.amount_fen - Slip.subsidy_fen,
          "what the household paid: amount less subsidy, fen"),
        C("void_reason", "作废原因", "text", Slip.void_reason, "why it was voided"),
        C("voided_at", "作废时间", "datetime", Slip.voided_at, "when it was voided"),
        C("summary_id", "汇总表编号", "int", Slip.summary_id, "the monthly summary that counts it, if any"),
        C("set_aside_at", "剔除时间", "datetime", Slip.set_aside_at, "when a reviewer set it aside from its summary"),
    )))

register(Dataset(
    name="slip_lines", title="销售单明细",
    doc="The lines of the slips: a line comes again whenever its slip changes (its marker is the slip's).",
    source=SlipLine.__table__.join(Slip, Slip.id == SlipLine.slip_id),
    marker=Slip.change_seq, key=SlipLine.id,
    columns=(
        C("line_id", "明细编号", "int", SlipLine.id, "the line's id"),
        C("slip_id", "销售单编号", "int", SlipLine.slip_id, "slips.slip_id"),
        C("line_no", "行号", "int", SlipLine.line_no, "the line's position on the slip"),
        C("product", "产品", "text", SlipLine.product, "briquette, semi_coke, anthracite or stove"),
        C("quantity", "数量", "int", SlipLine.quantity, "kg for coal, sets for stoves"),
        C("batch_id", "批次编号", "int", SlipLine.batch_id, "batches.batch_id the coal came from"),
        C("serial", "炉具编号", "text", SlipLine.serial, "a stove's serial number"),
        C("unit_price_fen", "单价(分)", "fen", SlipLine.unit_price_fen, "per ton for coal, per set for stoves, fen"),
        C("amount_fen", "金额(分)", "fen", SlipLine.amount_fen, "the line's amount, fen"),
        C("subsidy_fen", "补贴(分)", "fen", SlipLine.subsidy_fen, "the line's subsidy, fen"),
    )))

register(Dataset(
    name="deliveries", title="配送到户",
    doc="The delivery of a slip to the household's door: the day and who received it (one per slip at most).",
    source=Delivery.__table__.join(Slip, Slip.id == Delivery.slip_id)
    .join(_supplier, _supplier.c.id == Delivery.supplier_id).join(_town, _town.c.id == Delivery.town_id),
    marker=Delivery.change_seq, key=Delivery.id,
    columns=(
        C("delivery_id", "配送编号", "int", Delivery.id, "the delivery's id"),
        C("slip_id", "销售单编号", "int", Delivery.slip_id, "slips.slip_id"),
        C("slip_number", "销售单号", "text", Slip.number, "the printed slip number"),
        C("supplier_code", "配送企业代码", "text", _supplier.c.code, "the supplier that delivered"),
        C("town_code", "街道/镇代码", "text", _town.c.code, "the household's town"),
        C("delivered_on", "配送日期", "date", Delivery.delivered_on, "the day it was handed over"),
        C("receiver", "签收人", "text", Delivery.receiver, "who received it (the head or another adult)"),
        C("receiver_is_head", "户主本人签收", "bool", Delivery.receiver_is_head, "1 when the head received it"),
        C("has_photo", "有签收照片", "bool", Delivery.photo_attachment_id.is_not(None),
          "1 when a scan or photo of the signed copy is kept"),
        C("recorded_at", "登记时间", "datetime", Delivery.recorded_at, "when it was recorded"),
    )))


def _unit(column: str) -> tuple[str, str]:
    """(the Chinese unit, the English one) of a lab value as stored (subsidy/policy/quality.py INDICATORS)."""
    for suffix, unit, words in (("_cpct", "0.01%", "hundredths of a percent"),
                                ("_mpct", "0.001%", "thousandths of a percent"), ("_ng_g", "ng/g", "ng/g"),
                                ("_ug_g", "μg/g", "μg/g"), ("_kj_kg", "kJ/kg", "kJ/kg"),
                                ("_n", "N/个", "N per briquette")):
        if column.endswith(suffix):
            return unit, words
    raise ValueError(f"no unit for the lab value {column}")


_LAB_WORDS = {
    "volatile_cpct": "volatile matter", "sulfur_cpct": "total sulfur", "ash_cpct": "ash",
    "calorific_kj_kg": "net calorific value", "moisture_cpct": "total moisture", "mercury_ng_g": "mercury",
    "arsenic_ug_g": "arsenic", "phosphorus_mpct": "phosphorus", "chlorine_mpct": "chlorine",
    "fluorine_ug_g": "fluorine", "strength_n": "compressive strength", "drop_cpct": "drop strength",
}


def report_columns(table) -> tuple[Column, ...]:
    """A test report as a batch (the supplier's) and a spot check (the authorities') carry it: its number, the lab,
    the twelve values (LabValues), each as its INDICATORS entry names it (empty when the report does not give it),
    and the verdict."""
    columns = [C("report_no", "检测报告编号", "text", table.report_no, "the test report's number"),
               C("lab", "检测机构", "text", table.lab, "the laboratory")]
    for indicator in INDICATORS:
        unit, words = _unit(indicator.column)
        optional = "" if indicator.required else "; empty when the report does not give it"
        columns.append(C(indicator.column, f"{indicator.label}({unit})", "int", getattr(table, indicator.column),
                         f"{_LAB_WORDS[indicator.column]}{' (' + indicator.symbol + ')' if indicator.symbol else ''}, "
                         f"{words}{optional}"))
    columns += [C("passed", "检测合格", "bool", table.passed, "1 when it met the season's standard"),
                C("failed_reasons", "不合格项", "text", table.failed_reasons, "the values that failed, with their limits")]
    return tuple(columns)


register(Dataset(
    name="batches", title="进货批次",
    doc="Coal batches the suppliers took in, with their third-party test results.",
    source=Batch.__table__.join(_supplier, _supplier.c.id == Batch.supplier_id)
    .outerjoin(_depot, _depot.c.id == Batch.depot_id).outerjoin(_depot_town, _depot_town.c.id == _depot.c.town_id),
    marker=Batch.change_seq, key=Batch.id,
    columns=(
        C("batch_id", "批次编号", "int", Batch.id, "the batch's id"),
        C("supplier_code", "配送企业代码", "text", _supplier.c.code, "the supplier"),
        C("season_id", "采暖季编号", "int", Batch.season_id, "the heating season's id"),
        C("product", "产品", "text", Batch.product, "briquette, semi_coke or anthracite"),
        C("quantity_kg", "进货量(千克)", "kg", Batch.quantity_kg, "quantity taken in, kg"),
        C("sold_kg", "已售(千克)", "kg", Batch.sold_kg, "sold from it on issued slips, kg"),
        C("producer", "生产企业", "text", Batch.producer, "who produced it"),
        C("origin", "来源", "text", Batch.origin, "where it came from"),
        C("arrival_date", "到货日期", "date", Batch.arrival_date, "when it arrived"),
        *report_columns(Batch),
        C("frozen_at", "冻结时间", "datetime", Batch.frozen_at,
          "when a failed spot check froze it (nothing more is sold from it)"),
        C("created_at", "登记时间", "datetime", Batch.created_at, "when it was recorded"),
        # Added after version 1 (a column added keeps the version): at the end, so a reader by position still reads.
        C("report_date", "检测报告日期", "date", Batch.report_date, "the date on the test report; empty when not given"),
        C("depot_id", "保供点编号", "int", Batch.depot_id, "the supplier's depot (保供点) it was taken in at; empty when "
          "none was named"),
        C("depot_name", "保供点", "text", _depot.c.name, "the depot's name (a depot renamed or moved sends its "
          "batches again)"),
        C("depot_town", "保供点所在街道/镇", "text", _depot_town.c.name, "the town the depot is in"),
    )))

register(Dataset(
    name="spot_checks", title="抽检",
    doc="The authorities' own tests of samples taken from the suppliers' batches, judged by the season's standard.",
    source=SpotCheck.__table__.join(_supplier, _supplier.c.id == SpotCheck.supplier_id),
    marker=SpotCheck.change_seq, key=SpotCheck.id,
    columns=(
        C("spot_check_id", "抽检编号", "int", SpotCheck.id, "the spot check's id"),
        C("batch_id", "批次编号", "int", SpotCheck.batch_id, "batches.batch_id the sample came from"),
        C("supplier_code", "配送企业代码", "text", _supplier.c.code, "the supplier"),
        C("season_id", "采暖季编号", "int", SpotCheck.season_id, "the heating season's id"),
        C("sampled_on", "抽样日期", "date", SpotCheck.sampled_on, "when the sample was taken"),
        C("place", "抽样地点", "text", SpotCheck.place, "the depot or yard it was taken at"),
        C("sampler", "抽样人", "text", SpotCheck.sampler, "the official who took it"),
        *report_columns(SpotCheck),
        C("standard_source", "判定标准", "text", SpotCheck.standard_source, "the standard it was judged by"),
        C("case_id", "案件编号", "int", SpotCheck.case_id, "the case a failure opened, if any"),
        C("created_at", "登记时间", "datetime", SpotCheck.created_at, "when it was recorded"),
    )))

register(Dataset(
    name="settlements", title="结算单",
    doc="Settlement statements (supplier × month) and their payment.",
    source=Settlement.__table__.join(_supplier, _supplier.c.id == Settlement.supplier_id),
    marker=Settlement.change_seq, key=Settlement.id,
    columns=(
        C("settlement_id", "结算单编号", "int", Settlement.id, "the statement's id"),
        C("number", "结算单号", "text", Settlement.number, "the statement's number (JS-supplier-yyyymm[-seq])"),
        C("supplier_code", "配送企业代码", "text", _supplier.c.code, "the supplier"),
        C("season_id", "采暖季编号", "int", Settlement.season_id, "the heating season's id"),
        C("month", "月份", "text", Settlement.month, "YYYY-MM"),
        C("seq", "序号", "int", Settlement.seq, "1 for the month's statement, 2, 3, ... for supplementary ones"),
        C("status", "状态", "text", Settlement.status, "settled, paid or payment_failed"),
        C("slip_count", "销售单数", "int", Settlement.slip_count, "slips settled"),
        C("coal_kg", "洁净煤(千克)", "kg", Settlement.coal_kg, "coal, kg"),
        C("stoves", "炉具(台)", "int", Settlement.stoves, "stoves, sets"),
        C("amount_fen", "金额(分)", "fen", Settlement.amount_fen, "sales amount, fen"),
        C("subsidy_fen", "补贴(分)", "fen", Settlement.subsidy_fen, "subsidy owed, fen"),
        C("payment_reference", "支付凭证号", "text", Settlement.payment_reference, "the bank's reference when paid"),
        C("paid_on", "支付日期", "date", Settlement.paid_on, "when it was paid"),
        C("created_at", "结算时间", "datetime", Settlement.created_at, "when it was settled"),
    )))


# ----------------------------------------------------------------------------------------------- the docs page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "platform-export.md"
GENERATED = ("<!-- Written from subsidy/reports/platform.py DATASETS by platform.docs_section(); edit the code and run "
             "`python -c \"from subsidy.reports import platform; platform.write_docs()\"`, not the lines below. -->")
KIND_DOCS = {
    "int": "whole number", "text": "text", "id_number": "text, 18 characters, whole",
    "datetime": "ISO 8601, UTC (`2026-12-02T08:30:00Z`)", "date": "YYYY-MM-DD", "kg": "coal, integer kg",
    "fen": "money, integer fen (yuan with 2 decimals in the xlsx)", "bool": "1 or 0 (是/否 in the xlsx)",
}


def docs_section() -> str:
    """The files and their columns, as docs/platform-export.md gives them below its GENERATED line."""
    parts = []
    for ds in DATASETS.values():
        lines = [f"## {ds.name}", "", f"{ds.title}. {ds.doc} Version {ds.version}.", "",
                 "| column | 中文 | kind | meaning |", "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.label} | {KIND_DOCS[c.kind]} | {c.doc} |" for c in ds.columns]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def write_docs(path: Path = DOCS) -> None:
    """Rewrite the generated part of the docs page (what stands above GENERATED is written by hand)."""
    page = path.read_text(encoding="utf-8")
    head = page.split(GENERATED)[0].rstrip("\n")
    path.write_text(f"{head}\n\n{GENERATED}\n\n{docs_section()}", encoding="utf-8")


# ----------------------------------------------------------------------------------------------- the mark


def parse_since(value: str | None) -> int:
    """The change marker an export starts from: 0 for none (the full set), else the number in a token this system
    answered as `X-High-Water-Mark`. Anything else is refused with the reason."""
    value = (value or "").strip()
    if value in ("", "0"):
        return 0
    number = value[len(TOKEN_PREFIX):] if value.startswith(TOKEN_PREFIX) else ""
    if not number.isdigit() or len(number) > 19:
        raise Refused("since 应为上一次导出返回的 X-High-Water-Mark（形如 hw1-123），或留空导出全部",
                      errors={"since": "since 应为上一次导出返回的 X-High-Water-Mark（形如 hw1-123），或留空导出全部"})
    return int(number)


def parse_filename(filename: str) -> tuple[Dataset, str]:
    """`slips.csv` → (the slips dataset, "csv"); a name or format not offered is NotFound."""
    name, _, kind = filename.rpartition(".")
    if kind not in ("csv", "xlsx"):
        raise NotFound("没有这个导出文件")
    return dataset(name), kind


def token(mark: int) -> str:
    return f"{TOKEN_PREFIX}{mark}"


# The horizon on PostgreSQL (module docstring). pg_stat_activity's backend_xid is a 32-bit xid: compared with the
# low 32 bits of the snapshot's 64-bit ids (running transactions are never 2^31 apart).
_HORIZON_PG = text("""
    SELECT LEAST(pg_snapshot_xmax(s.snap)::text::bigint,
                 COALESCE((SELECT min(x::text::bigint) FROM pg_snapshot_xip(s.snap) AS x
                           WHERE (x::text::bigint & 4294967295) NOT IN (
                               SELECT backend_xid::text::bigint FROM pg_stat_activity
                               WHERE backend_xid IS NOT NULL AND datid IS NOT NULL
                                 AND datname <> current_database())),
                          pg_snapshot_xmax(s.snap)::text::bigint)),
           pg_snapshot_xmax(s.snap)::text::bigint
    FROM (SELECT pg_current_snapshot() AS snap) AS s""")


@dataclass
class Snapshot:
    """An open read of the data set: every row whose change marker lies in [floor, horizon) is visible to it."""

    session: Session
    floor: int
    horizon: int

    @property
    def high_water_mark(self) -> str:
        return token(self.horizon)

    def close(self) -> None:
        self.session.rollback()
        self.session.close()


def open_snapshot(engine: Engine, since: str | None) -> Snapshot:
    """Start an export from `since` (see the module docstring for why the horizon is sound).

    The mark never goes back: a horizon below `since` takes nothing and answers `since` again, since every change
    below `since` was taken by the export that answered it (going back would take those rows a second time). It
    happens on PostgreSQL when a transaction of another database, left out by the previous export, still runs and
    is counted this time (it ended, for pg_stat_activity, between the snapshot and the reading of it: a race seen
    under a shared server's load); a transaction of this database below `since` cannot be running, or the previous
    horizon would have stood below it. A `since` beyond anything this
    database has given (a mark of another database) is refused rather than taken for a mark to wait for."""
    floor = parse_since(since)
    if engine.dialect.name == "postgresql":
        session = Session(bind=engine.execution_options(isolation_level="REPEATABLE READ",
                                                        postgresql_readonly=True), expire_on_commit=False)
        horizon, newest = session.execute(_HORIZON_PG).one()  # the transaction's first statement
    else:
        with db.transaction(engine) as writer:
            writer.execute(update(ExportClock).where(ExportClock.id == 1).values(epoch=ExportClock.epoch + 1))
            horizon = newest = writer.execute(select(ExportClock.epoch).where(ExportClock.id == 1)).scalar_one()
        session = Session(bind=engine, expire_on_commit=False)
        session.execute(select(ExportClock.epoch)).all()  # SQLite's read snapshot starts at the first read
    if floor > int(newest):
        session.close()
        reason = "since 不是本系统数据库给出的 X-High-Water-Mark（比本库已有的任何标记都大），请留空重新导出全部"
        raise Refused(reason, errors={"since": reason})
    return Snapshot(session, floor, max(floor, int(horizon)))


def dataset(name: str) -> Dataset:
    found = DATASETS.get(name)
    if found is None:
        raise NotFound("没有这个导出文件")
    return found


def rows(snapshot: Snapshot, ds: Dataset) -> Iterator[tuple]:
    """The dataset's rows changed in the snapshot's interval, by id, fetched from a server-side cursor."""
    query = export_query(ds, snapshot.floor, snapshot.horizon)
    yield from snapshot.session.execute(query.execution_options(yield_per=FETCH, unscoped=True)).tuples()


def export_query(ds: Dataset, floor: int, horizon: int):
    """The one statement a file is read with (scripts/bench_platform.py runs it as a hand-written COPY too)."""
    return (select(*[c.expr.label(c.name) for c in ds.columns]).select_from(ds.source)
            .where(ds.marker >= floor, ds.marker < horizon).order_by(ds.key))


# ----------------------------------------------------------------------------------------------- the files


def _csv_value(kind: str, value) -> str | int:
    if value is None:
        return ""
    if kind == "datetime":
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "date":
        return value.isoformat()
    if kind == "bool":
        return 1 if value else 0
    return value


_XLSX = {"fen": sheets.money, "kg": sheets.kg, "int": sheets.count, "id_number": sheets.text, "text": sheets.text}


def _xlsx_value(kind: str, value):
    if value is None:
        return None
    if kind in _XLSX:
        return _XLSX[kind](value)
    if kind == "datetime":
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=0)  # to the second, as in the CSV (Excel would round to the millisecond)
    if kind == "bool":
        return "是" if value else "否"
    return value


@dataclass
class Written:
    """What an export wrote of one file: for the manifest and the audit log."""

    name: str
    filename: str
    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    sha256: str = ""
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)

    def count(self, row: tuple) -> None:
        self.rows += 1
        if self.first_id is None:
            self.first_id = row[0]
        self.last_id = row[0]

    def as_manifest(self) -> dict:
        return {"file": self.filename, "rows": self.rows, "first_id": self.first_id, "last_id": self.last_id,
                "sha256": self.sha256}


def csv_chunks(snapshot: Snapshot, ds: Dataset, written: Written) -> Iterator[bytes]:
    """The file as UTF-8 bytes with a BOM, a header row of the column names, CRLF line ends (RFC 4180)."""
    # DIALECT FORK (bench: scripts/bench_platform.py): the server writes the CSV (COPY), byte for byte the same
    if db.pg_branch(snapshot.session.get_bind()):
        yield from copy_chunks(snapshot, ds, written)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([c.name for c in ds.columns])
    kinds = [c.kind for c in ds.columns]
    plain = all(kind in ("int", "fen", "kg", "text", "id_number") for kind in kinds)
    for row in rows(snapshot, ds):
        written.count(row)
        writer.writerow(row if plain else [_csv_value(k, v) for k, v in zip(kinds, row)])
        if buffer.tell() >= CHUNK_CHARS:
            chunk = buffer.getvalue().encode("utf-8")
            written._hash.update(chunk)
            yield chunk
            buffer.seek(0)
            buffer.truncate()
    chunk = buffer.getvalue().encode("utf-8")
    written._hash.update(chunk)
    written.sha256 = written._hash.hexdigest()
    yield chunk


# ----------------------------------------------------------------------------------------------- PostgreSQL's COPY
#
# On PostgreSQL the server writes the file: `COPY (SELECT ...) TO STDOUT`, read through psycopg's cursor.copy() in
# the snapshot's own transaction, each column rendered in SQL (`_copy_expr`) so that the bytes are the Python path's
# (csv.writer over `_csv_value`): tests/services/core/test_dialect_forks.py compares every file of both. What COPY
# does differently and how it is made the same:
# - PostgreSQL quotes an empty string ("") to tell it from NULL; csv.writer writes both as an empty cell: text is
#   NULLIF(x, '').
# - Dates, datetimes (UTC, to the second, as strftime truncates) and booleans (1/0) are rendered with to_char and a
#   cast; numbers are written alike by both.
# - COPY ends its rows with LF; the file's are CRLF. psycopg hands over one row at a time, so each row's last byte
#   is its end (a newline inside a quoted cell is not at the end) and is replaced.
# - A sealed column (the ID number, AES-GCM: subsidy/core/vault.py) cannot be opened by the server. In its place
#   the COPY writes a one-byte marker (\x01) and the sealed text goes last on the row (base64 and a key id: no comma
#   or quote, never quoted); Python takes it off the end, opens it and puts it where the marker is. A row where that
#   does not hold (a \x01 typed into a text, a quoted token) is parsed with the csv module instead (`_reopened`).
# Quoting is decided alike: csv.writer (QUOTE_MINIMAL) and PostgreSQL both quote a cell holding the delimiter, the
# quote, CR or LF, and nothing else (PostgreSQL's one more case, a lone `\.` in a one-column file, cannot occur).


def _sealed(column: Column) -> bool:
    return isinstance(getattr(column.expr, "type", None), Sealed)


def _aware(expr) -> bool:
    kind = getattr(expr, "type", None)
    return bool(getattr(getattr(kind, "impl", kind), "timezone", False))


def _copy_expr(column: Column):
    """The column as SQL that COPY (FORMAT csv) writes as the Python path writes it."""
    expr, kind = column.expr, column.kind
    if kind in ("int", "kg", "fen"):
        return expr
    if kind == "date":
        return func.to_char(expr, "YYYY-MM-DD")
    if kind == "datetime":
        utc = func.timezone("UTC", expr) if _aware(expr) else expr
        return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    if kind == "bool":
        return cast(expr, Integer)
    if kind in ("text", "id_number"):
        return func.nullif(expr, "")
    raise ValueError(f"no SQL for the kind {kind} of {column.name}")


def copy_statement(ds: Dataset, floor: int, horizon: int, dialect) -> tuple[str, list[tuple[int, str]]]:
    """The COPY of the file's rows, and the (position, field) of each sealed column: a marker where it stands, its
    sealed text at the end of the row, in that order."""
    columns, sealed = [], []
    for position, column in enumerate(ds.columns):
        if _sealed(column):
            columns.append(literal(MARK.decode(), Text).label(column.name))
            sealed.append((position, column.expr.type.field))
        else:
            columns.append(_copy_expr(column).label(column.name))
    columns += [cast(ds.columns[position].expr, Text).label(f"sealed_{position}") for position, _ in sealed]
    query = (select(*columns).select_from(ds.source).where(ds.marker >= floor, ds.marker < horizon)
             .order_by(ds.key))
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", sealed


MARK = b"\x01"


def _csv_cell(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _opened(row: bytes, sealed: list[tuple[int, str]], opener) -> bytes:
    """A COPY row with its sealed cells opened and put where their markers are (see above)."""
    body, *tokens = row.rsplit(b",", len(sealed))
    parts = body.split(MARK)
    if len(parts) != len(sealed) + 1 or any(b'"' in token for token in tokens):
        return _reopened(row, sealed, opener)
    out = [parts[0]]
    for (_, field), token, part in zip(sealed, tokens, parts[1:]):
        out.append(_csv_cell(opener.open(field, token.decode("ascii")) or "").encode("utf-8"))
        out.append(part)
    return b"".join(out)


def _reopened(row: bytes, sealed: list[tuple[int, str]], opener) -> bytes:
    """`_opened` for a row the bytes alone do not tell: parsed as CSV, and written again as csv.writer writes."""
    cells = next(csv.reader([row.decode("utf-8")]))
    tokens = cells[len(cells) - len(sealed):]
    cells = cells[:len(cells) - len(sealed)]
    for (position, field), token in zip(sealed, tokens):
        cells[position] = opener.open(field, token) or ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def copy_chunks(snapshot: Snapshot, ds: Dataset, written: Written) -> Iterator[bytes]:
    """`csv_chunks` on PostgreSQL: the same bytes, written by the server (see above)."""
    connection = snapshot.session.connection()
    statement, sealed = copy_statement(ds, snapshot.floor, snapshot.horizon, connection.dialect)
    opener = vault.vault()
    prefix = (BOM + ",".join(_csv_cell(c.name) for c in ds.columns) + "\r\n").encode("utf-8")  # the header
    lines: list[bytes] = []
    size = 0
    first = None
    with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for data in copy:
            row = bytes(data)
            if row[-1:] != b"\n":
                raise RuntimeError("COPY handed over part of a row")  # psycopg gives one whole row at a time
            row = _opened(row[:-1], sealed, opener) if sealed else row[:-1]
            if first is None:
                first = row
            lines.append(row)
            size += len(row)
            if size >= CHUNK_CHARS:
                chunk = prefix + b"\r\n".join(lines) + b"\r\n"
                _counted(written, chunk, first, lines)
                yield chunk
                prefix, lines, size = b"", [], 0
    chunk = prefix + b"\r\n".join(lines) + b"\r\n" if lines else prefix
    _counted(written, chunk, first, lines)
    written.sha256 = written._hash.hexdigest()
    yield chunk


def _counted(written: Written, chunk: bytes, first: bytes | None, lines: list[bytes]) -> None:
    """`Written.count` for the rows of a chunk about to go (their first cell is the id)."""
    written._hash.update(chunk)
    if lines:
        written.rows += len(lines)
        written.first_id = int(first.split(b",", 1)[0])
        written.last_id = int(lines[-1].split(b",", 1)[0])


def write_xlsx(snapshot: Snapshot, ds: Dataset, written: Written, target) -> None:
    """The file as a streamed (write-only) workbook: headers in Chinese and the column names under them, amounts
    as yuan with a number format, ID numbers and every other text as text cells."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(ds.name)
    sheets.append(sheet, [c.label for c in ds.columns])
    sheets.append(sheet, [c.name for c in ds.columns])
    kinds = [c.kind for c in ds.columns]
    for row in rows(snapshot, ds):
        written.count(row)
        sheets.append(sheet, [_xlsx_value(k, v) for k, v in zip(kinds, row)])
    book.save(target)


def file_chunks(path: Path, written: Written, size: int = 256 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            written._hash.update(chunk)
            yield chunk
    written.sha256 = written._hash.hexdigest()


# ----------------------------------------------------------------------------------------------- audit


def _record(engine: Engine, actor, snapshot: Snapshot, files: list[Written], *, complete: bool,
            what: str) -> None:
    with db.transaction(engine) as session:
        audit.record(session, actor, "platform.exported", "platform_export", entity_id=what,
                     after={"since": token(snapshot.floor), "high_water_mark": snapshot.high_water_mark,
                            "complete": complete, "files": [f.as_manifest() for f in files]})


def stream_csv(engine: Engine, actor, name: str, snapshot: Snapshot) -> Iterator[bytes]:
    """One file for a download; the export is in the audit log once the last byte went (or, if the download stops
    early, with `complete: false` and what had gone)."""
    ds = dataset(name)
    written = Written(ds.name, f"{ds.name}.csv")
    complete = False
    try:
        yield from csv_chunks(snapshot, ds, written)
        complete = True
    finally:
        snapshot.close()
        _record(engine, actor, snapshot, [written], complete=complete, what=written.filename)


def stream_xlsx(engine: Engine, actor, name: str, snapshot: Snapshot) -> Iterator[bytes]:
    ds = dataset(name)
    written = Written(ds.name, f"{ds.name}.xlsx")
    complete = False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / written.filename
        try:
            write_xlsx(snapshot, ds, written, path)
            snapshot.close()
            yield from file_chunks(path, written)
            complete = True
        finally:
            snapshot.close()
            _record(engine, actor, snapshot, [written], complete=complete, what=written.filename)


def manifest(snapshot: Snapshot, files: list[Written]) -> dict:
    return {"format_version": FORMAT_VERSION, "made_at": clock.now().astimezone(timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"), "since": token(snapshot.floor),
            "high_water_mark": snapshot.high_water_mark,
            "datasets": {name: DATASETS[name].version for name in DATASETS},
            "files": [f.as_manifest() for f in files]}


def write_set(engine: Engine, actor, since: str | None, folder: Path, *, xlsx: bool = True) -> dict:
    """The whole set into `folder`: every dataset as CSV (and xlsx), and `manifest.json` with each file's row count
    and SHA-256, all from one snapshot. For the nightly job (`subsidy export`) and the zip download. Returns the
    manifest; the export is in the audit log."""
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = open_snapshot(engine, since)
    files: list[Written] = []
    complete = False
    try:
        for ds in DATASETS.values():
            written = Written(ds.name, f"{ds.name}.csv")
            with open(folder / written.filename, "wb") as handle:
                for chunk in csv_chunks(snapshot, ds, written):
                    handle.write(chunk)
            files.append(written)
            if xlsx:
                book = Written(ds.name, f"{ds.name}.xlsx")
                write_xlsx(snapshot, ds, book, folder / book.filename)
                book.sha256 = _sha256_of(folder / book.filename)
                files.append(book)
        result = manifest(snapshot, files)
        (folder / "manifest.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        complete = True
    finally:
        snapshot.close()
        _record(engine, actor, snapshot, files, complete=complete, what="set")
    return result


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def stream_zip(engine: Engine, actor, since: str | None) -> tuple[str, Callable[[], Iterator[bytes]]]:
    """The whole set as one zip (the files and manifest.json), made in a temporary folder then streamed. Returns
    the high-water mark (known before the first byte, for the header) and the stream."""
    folder = tempfile.TemporaryDirectory()
    base = Path(folder.name)
    result = write_set(engine, actor, since, base / "set", xlsx=True)

    def chunks() -> Iterator[bytes]:
        try:
            archive = base / "platform.zip"
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as packed:
                for path in sorted((base / "set").iterdir()):
                    packed.write(path, path.name)
            with open(archive, "rb") as handle:
                while chunk := handle.read(256 * 1024):
                    yield chunk
        finally:
            folder.cleanup()

    return result["high_water_mark"], chunks

