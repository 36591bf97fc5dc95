"""The registration form as a spreadsheet (CONTRACT.md "Household import template"): import and export.

Import streams the first sheet (openpyxl read_only), validates every row on its own and works in chunks of
`CHUNK` rows: one query finds which ID numbers of the chunk are already registered (district-wide), then Core
executemany inserts and updates do the writing. A refused row never stops the good ones; a household is identified
by its ID number, so importing the same file twice changes nothing the second time. The whole import is one
transaction (a dry run rolls it back), so a crash half-way leaves nothing half-imported.

Audit (invariant 4): every updated household and registration gets its own entry with before and after; new
households are logged one entry per chunk listing the new ids (50,000 separate entries would double the time of an
import and say nothing more).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, sheets, vault
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, NotFound, Refused, SubsidyError
from subsidy.registry.households import (check_quantities, clean_address, clean_category, clean_name,
                                        visible_village_name)
from subsidy.rules.idnumbers import InvalidIdNumber, InvalidPhone, mask_phone, validate_id_number, validate_phone
from subsidy.models import (
    CATEGORY_LABELS, Household, ImportUpload, Registration, RegistrationStatus, Role, Season, Village,
)
from subsidy.rules.measures import parse_tons_to_kg
from subsidy.core.scope import Record, get_or_404, show_id, show_phone

HEADER = ("村(社区)", "户主姓名", "身份证号码", "联系电话", "住址", "户类别", "洁净煤(吨)", "炉具(台)")
CHUNK = 1000
HOUSEHOLD_FIELDS = ("head_name", "phone", "address", "category")


class ImportRefused(Refused):
    """The file as a whole cannot be read, or its header is not the template's."""


@dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    refused: list[RowError] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False

    @property
    def refused_count(self) -> int:
        return len(self.refused)

    def summary(self) -> str:
        return f"imported={self.imported} updated={self.updated} refused={self.refused_count}"


@dataclass
class _Row:
    number: int
    village: Village
    head_name: str
    id_number: str
    phone: str
    address: str
    category: str
    coal_kg: int
    stoves: int


# --- reading --------------------------------------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _open(source) -> Iterator[tuple]:
    """Rows (tuples of cell values) of the first sheet; ImportRefused when it is not a readable .xlsx file."""
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as error:  # a missing file, not a zip, not a workbook: the errors vary (InvalidFileException...)
        raise ImportRefused(f"无法读取该文件，请上传 Excel（.xlsx）格式的购买登记表（{type(error).__name__}）") from None
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def check_header(row: tuple | None) -> None:
    got = tuple(_text(v) for v in (row or ()))
    while got and not got[-1]:
        got = got[:-1]
    if got != HEADER:
        raise ImportRefused("表头与模板不符。第1行应依次为：" + "、".join(HEADER)
                            + ("；实际为：" + "、".join(got) if got else "；实际为空"), field="header")


def _quantity_kg(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("洁净煤吨数格式不正确")
    if isinstance(value, (int, float)):
        # Excel keeps numbers as doubles: 1.25 typed is 1.25 read; repr gives the shortest exact text of it.
        value = repr(value) if isinstance(value, float) else str(value)
    return parse_tons_to_kg(str(value))


def _stoves(value) -> int:
    if value is None or value == "":
        return 0
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("炉具台数应为整数") from None
    if number != number.to_integral_value():
        raise ValueError("炉具台数应为整数")
    if number < 0:
        raise ValueError("炉具台数不能为负数")
    return int(number)


def _parse_row(number: int, cells: tuple, villages: dict[str, Village], today) -> _Row | list[RowError]:
    cells = tuple(cells) + (None,) * (len(HEADER) - len(cells))
    errors: list[RowError] = []

    def check(label, fn, value):
        try:
            return fn(value)
        except (ValueError, SubsidyError, InvalidIdNumber, InvalidPhone) as error:
            errors.append(RowError(number, label, str(error)))
            return None

    village_key = _text(cells[0])
    village = villages.get(village_key) or villages.get(village_key.lower())
    if not village_key:
        errors.append(RowError(number, HEADER[0], "请填写村(社区)的代码或名称"))
    elif village is None:
        errors.append(RowError(number, HEADER[0], f"“{village_key}”不是您可以导入的村(社区)"))
    name = check(HEADER[1], clean_name, _text(cells[1]))
    raw_id = cells[2]
    if isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
        errors.append(RowError(number, HEADER[2], "身份证号码应以文本格式填写（数字格式会丢失末几位）"))
        id_number = None
    else:
        id_number = check(HEADER[2], lambda v: validate_id_number(v, today), _text(raw_id))
    phone = check(HEADER[3], validate_phone, _text(cells[3]))
    address = check(HEADER[4], clean_address, _text(cells[4]))
    category = check(HEADER[5], clean_category, _text(cells[5]) or CATEGORY_LABELS["ordinary"])
    coal_kg = check(HEADER[6], _quantity_kg, cells[6])
    stoves = check(HEADER[7], _stoves, cells[7])
    if errors:
        return errors
    return _Row(number, village, name, id_number, phone, address, category, coal_kg, stoves)


# --- importing ------------------------------------------------------------------------------------------------------

def _villages(session: Session, actor) -> dict[str, Village]:
    """Villages a row may name, by code and by name: the caller's scope (a village: itself); the system: all."""
    found: dict[str, Village] = {}
    for village in session.execute(select(Village)).scalars():
        found[village.code] = village
        found[village.name] = village
    return found


def import_rows(session: Session, actor, rows: Iterable[tuple], *, season: Season | None = None) -> ImportResult:
    """Import an iterable of row tuples, the header first. Does not commit."""
    rows = iter(rows)
    check_header(next(rows, None))
    if actor is not None and Role(actor.role) != Role.VILLAGE:
        raise Refused("只有村(社区)可以导入购买登记表")
    season = season or seasons.active_season(session)
    villages = _villages(session, actor)
    today = clock.today()
    result = ImportResult()
    seen: dict[str, int] = {}  # ID number → first row with it, to refuse a second row in the same file
    chunk: list[_Row] = []
    for number, cells in enumerate(rows, start=2):
        if cells is None or all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        parsed = _parse_row(number, cells, villages, today)
        if isinstance(parsed, list):
            result.refused.extend(parsed[:1])
            continue
        errors = check_quantities(season, parsed.village, parsed.coal_kg, parsed.stoves)
        if errors and not (parsed.coal_kg == 0 and parsed.stoves == 0):
            key = next(iter(errors))
            result.refused.append(RowError(number, HEADER[6] if key == "coal_kg" else HEADER[7], errors[key]))
            continue
        if parsed.id_number in seen:
            result.refused.append(RowError(number, HEADER[2], f"与第{seen[parsed.id_number]}行的身份证号码重复"))
            continue
        seen[parsed.id_number] = number
        chunk.append(parsed)
        if len(chunk) >= CHUNK:
            _write_chunk(session, actor, season, chunk, result)
            chunk = []
    if chunk:
        _write_chunk(session, actor, season, chunk, result)
    result.refused.sort(key=lambda e: e.row)
    return result


def _write_chunk(session: Session, actor, season: Season, chunk: list[_Row], result: ImportResult) -> None:
    hh = Household.__table__
    rg = Registration.__table__
    ids = [r.id_number for r in chunk]
    # District-wide on purpose (unscoped): an ID number is registered once in the district.
    existing = {row.id_number: row for row in session.execute(
        select(hh.c.id, hh.c.id_number, hh.c.village_id, hh.c.head_name, hh.c.phone, hh.c.address, hh.c.category)
        .where(hh.c.id_number_hmac.in_([vault.blind("id_number", i) for i in ids]))
        .execution_options(unscoped=True)).all()}
    registrations = {}
    if existing:
        registrations = {row.household_id: row for row in session.execute(
            select(rg.c.id, rg.c.household_id, rg.c.coal_kg, rg.c.stoves, rg.c.status)
            .where(rg.c.season_id == season.id, rg.c.household_id.in_([e.id for e in existing.values()]))
            .execution_options(unscoped=True)).all()}
    village_names = {}
    moment = clock.now()
    actor_id = getattr(actor, "id", None)
    new_households: list[dict] = []
    new_rows: list[_Row] = []
    household_updates: list[dict] = []
    new_registrations: list[dict] = []
    registration_updates: list[dict] = []
    for row in chunk:
        old = existing.get(row.id_number)
        if old is None:
            new_households.append(dict(village_id=row.village.id, head_name=row.head_name, id_number=row.id_number,
                                       phone=row.phone, address=row.address, category=row.category,
                                       created_at=moment, updated_at=moment))
            new_rows.append(row)
            continue
        if old.village_id != row.village.id:
            if old.village_id not in village_names:  # named only within the importer's scope
                village_names[old.village_id] = visible_village_name(session, old.village_id)
            name = village_names[old.village_id]
            result.refused.append(RowError(row.number, HEADER[2], f"该身份证号码已在{name}登记" if name
                                           else "该身份证号码已在本区其他村（社区）登记"))
            continue
        reg = registrations.get(old.id)
        wants = row.coal_kg or row.stoves
        reg_change = None
        if reg is None and wants:
            reg_change = "new"
        elif reg is not None and (reg.coal_kg, reg.stoves) != (row.coal_kg, row.stoves):
            if reg.status != RegistrationStatus.REGISTERED:
                result.refused.append(RowError(row.number, HEADER[6],
                                               "该户本采暖季的登记已公示或已审核，数量不能再通过导入修改"))
                continue
            if not wants:
                result.refused.append(RowError(row.number, HEADER[6], "请填写洁净煤或炉具的购买数量"))
                continue
            reg_change = "update"
        changed = {f: getattr(row, f) for f in HOUSEHOLD_FIELDS if getattr(old, f) != getattr(row, f)}
        if changed:
            household_updates.append({"_id": old.id, **{f: getattr(row, f) for f in HOUSEHOLD_FIELDS},
                                      **vault.lookups(phone=row.phone), "updated_at": moment})
            before = {f: getattr(old, f) for f in changed}
            audit.record(session, actor, "household.imported_update", "household", entity_id=old.id,
                         before=_masked(before), after=_masked(changed))
        if reg_change == "new":
            new_registrations.append(_registration(old.id, row, season, actor_id, moment))
        elif reg_change == "update":
            registration_updates.append({"_id": reg.id, "coal_kg": row.coal_kg, "stoves": row.stoves})
            audit.record(session, actor, "registration.imported_update", "registration", entity_id=reg.id,
                         before={"coal_kg": reg.coal_kg, "stoves": reg.stoves},
                         after={"coal_kg": row.coal_kg, "stoves": row.stoves})
        if changed or reg_change:
            result.updated += 1
        else:
            result.unchanged += 1
    from sqlalchemy import bindparam

    if household_updates:
        session.execute(update(hh).where(hh.c.id == bindparam("_id")).values(
            **{f: bindparam(f) for f in (*HOUSEHOLD_FIELDS, "phone_hmac", "phone_tail", "updated_at")}),
            household_updates)
    if registration_updates:
        session.execute(update(rg).where(rg.c.id == bindparam("_id"), rg.c.status == RegistrationStatus.REGISTERED)
                        .values(coal_kg=bindparam("coal_kg"), stoves=bindparam("stoves")), registration_updates)
    if new_households:
        inserted = session.execute(insert(hh).returning(hh.c.id, hh.c.id_number), new_households).all()
        id_of = {r.id_number: r.id for r in inserted}
        for row in new_rows:
            if row.coal_kg or row.stoves:
                new_registrations.append(_registration(id_of[row.id_number], row, season, actor_id, moment))
        result.imported += len(new_rows)
        audit.record(session, actor, "household.imported", "household", entity_id="",
                     after={"count": len(inserted), "ids": sorted(id_of.values())})
    if new_registrations:
        session.execute(insert(rg), new_registrations)
        audit.record(session, actor, "registration.imported", "registration", entity_id="",
                     after={"count": len(new_registrations), "households": [r["household_id"] for r in
                                                                           new_registrations]})


def _masked(values: dict) -> dict:
    out = dict(values)
    if out.get("phone"):
        out["phone"] = mask_phone(out["phone"])
    return out


def _registration(household_id: int, row: _Row, season: Season, actor_id, moment) -> dict:
    return dict(household_id=household_id, season_id=season.id, village_id=row.village.id, coal_kg=row.coal_kg,
                stoves=row.stoves, status=RegistrationStatus.REGISTERED, created_by=actor_id, created_at=moment,
                reject_reason="", sold_coal_kg=0, sold_stoves=0)


def import_file(session: Session, actor, source) -> ImportResult:
    """Import a file (path or binary stream) in the caller's transaction; the caller commits, or rolls back for a dry
    run (subsidy/cli.py)."""
    return import_rows(session, actor, _open(source))


# --- uploads kept between preview and confirmation -----------------------------------------------------------------

def store_upload(session: Session, actor, filename: str, data: bytes) -> ImportUpload:
    """Keep the file for its preview and confirmation; uploads left unconfirmed for 2 days are dropped."""
    session.execute(delete(ImportUpload).where(ImportUpload.created_at < clock.now() - timedelta(days=2))
                    .execution_options(synchronize_session=False))
    upload = ImportUpload(user_id=actor.id, village_id=getattr(actor, "village_id", None),
                          filename=(filename or "")[:200], sha256=hashlib.sha256(data).hexdigest(), data=data)
    session.add(upload)
    session.flush()
    return upload


def _upload(session: Session, actor, upload_id: int) -> ImportUpload:
    upload = session.get(ImportUpload, upload_id)
    if upload is None or upload.user_id != actor.id:
        raise NotFound()
    return upload


def preview_upload(session: Session, actor, upload_id: int) -> ImportResult:
    """What confirming would do, changing nothing (the work is done and rolled back)."""
    upload = _upload(session, actor, upload_id)
    # A savepoint, not the transaction: what the request did before (storing this upload) stays.
    savepoint = session.begin_nested()
    try:
        result = import_rows(session, actor, _open(io.BytesIO(upload.data)))
    finally:
        savepoint.rollback()
    result.dry_run = True
    return result


def confirm_upload(session: Session, actor, upload_id: int) -> ImportResult:
    """Import the stored upload; one transaction; an upload is imported once."""
    upload = _upload(session, actor, upload_id)
    data = upload.data
    if upload.used_at is not None:
        raise Conflict("该文件已经导入，请勿重复提交")
    done = session.execute(update(ImportUpload).where(ImportUpload.id == upload.id, ImportUpload.used_at.is_(None))
                           .values(used_at=clock.now(), data=b"")
                           .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise Conflict("该文件已经导入，请勿重复提交")
    result = import_rows(session, actor, _open(io.BytesIO(data)))
    audit.record(session, actor, "household.import_confirmed", "import_upload", entity_id=upload.id,
                 after={"file": upload.filename, "sha256": upload.sha256, "imported": result.imported,
                        "updated": result.updated, "refused": result.refused_count})
    return result


# --- export ---------------------------------------------------------------------------------------------------------

def _tons_value(kg: int):
    return kg // 1000 if kg % 1000 == 0 else Decimal(kg) / 1000


def write_rows(actor, rows: Iterable[tuple[Household, Registration | None, Village]], *,
               extra_columns: tuple[str, ...] = (), extra=None) -> bytes:
    """The template's columns (plus any extra ones) for these rows; ID numbers as text, masked for the roles that
    may not see them whole (such an export cannot be imported back, which is intended)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("购买登记表")
    sheet.column_dimensions["C"].width = 22
    sheet.column_dimensions["E"].width = 30
    sheets.append(sheet, list(HEADER) + list(extra_columns))
    for household, registration, village in rows:
        sheets.append(sheet, [
            village.code, household.head_name, show_id(actor, Record.HOUSEHOLD, household.id_number),
            show_phone(actor, Record.HOUSEHOLD, household.phone), household.address,
            CATEGORY_LABELS.get(household.category, household.category),
            _tons_value(registration.coal_kg) if registration else None,
            registration.stoves if registration else None,
            *(extra(household, registration, village) if extra else ()),
        ])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def village_rows(session: Session, village_id: int, season_id: int | None) -> Iterator[tuple]:
    """Every household of the village (in scope) with its registration of the season, a chunk at a time."""
    village = get_or_404(session, Village, village_id)
    last = 0
    while True:
        stmt = (select(Household, Registration).outerjoin(
            Registration, (Registration.household_id == Household.id) & (Registration.season_id == season_id))
            .where(Household.village_id == village.id, Household.id > last).order_by(Household.id).limit(CHUNK))
        batch = session.execute(stmt).all()
        if not batch:
            return
        for household, registration in batch:
            yield household, registration, village
        last = batch[-1][0].id
        session.expunge_all()
        session.add(village)


def export_village(session: Session, actor, village_id: int) -> tuple[str, bytes]:
    village = get_or_404(session, Village, village_id)
    season = seasons.active_season_or_none(session)
    data = write_rows(actor, village_rows(session, village.id, season.id if season else None))
    return f"registrations-{village.code}.xlsx", data


def template_bytes() -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("购买登记表")
    sheets.append(sheet, HEADER)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_registrations(session: Session, actor, *, status: str = "", village_id: int | None = None) -> bytes:
    """The registrations list (active season, in scope, filtered) with its state, as a spreadsheet."""
    from subsidy.registry.households import iter_registrations
    from subsidy.models import REGISTRATION_STATUS_LABELS

    rows = ((r.household, r.registration, r.village)
            for r in iter_registrations(session, status=status, village_id=village_id))
    return write_rows(actor, rows, extra_columns=("状态", "驳回原因"),
                      extra=lambda h, r, v: (REGISTRATION_STATUS_LABELS.get(r.status, r.status), r.reject_reason))


def export_notice(session: Session, notice_id: int) -> bytes:
    """The public notice as a spreadsheet: ID numbers and phones always masked (it is posted in public)."""
    from subsidy.registry.households import notice, notice_rows

    found = notice(session, notice_id)
    village = session.get(Village, found.village_id)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("公示")
    sheets.append(sheet, [f"{village.name}洁净煤及节能环保炉具购买登记公示"])
    sheets.append(sheet, [f"公示期：{found.published_on:%Y-%m-%d} 起至 {found.ends_on:%Y-%m-%d}；"
                          f"如有异议请向{found.objection_contact}反映"])
    sheets.append(sheet, ["序号", "户主姓名", "身份证号码", "住址", "户类别", "洁净煤(吨)", "炉具(台)"])
    for n, (registration, household) in enumerate(notice_rows(session, notice_id), start=1):
        sheets.append(sheet, [n, household.head_name, show_id(None, Record.NOTICE, household.id_number),
                      household.address, CATEGORY_LABELS.get(household.category, household.category),
                      _tons_value(registration.coal_kg), registration.stoves])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


__all__ = ["HEADER", "ImportRefused", "ImportResult", "RowError", "import_file", "import_rows",
           "export_village", "export_registrations", "export_notice", "store_upload", "preview_upload",
           "confirm_upload", "template_bytes"]
