"""The registration form as a spreadsheet (CONTRACT.md "Household import template"): import and export.

Import streams the first sheet (openpyxl read_only) after `check_archive` has bounded what the archive may unpack
to, reads and checks every row on its own (`parse`: every problem of a row, not only the first; only reads the
database, so it runs outside any write transaction, within a time limit), then works in chunks of `CHUNK` rows:
one query finds which ID numbers of the chunk are already registered (district-wide) and decides each row
(`_plan_chunk`, reading only: what a preview shows), then Core executemany inserts and updates do the writing
(`_apply`). A refused row never stops the good ones; a household is identified by its ID number, so importing the
same file twice changes nothing the second time. The command line imports in one transaction (a dry run rolls it
back); the web page's confirmation commits in batches and can be resumed (see "uploads" below).

Audit (invariant 4): every updated household and registration gets its own entry with before and after; new
households are logged one entry per chunk listing the new ids (50,000 separate entries would double the time of an
import and say nothing more)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from subsidy.core import audit, clock, sheets, vault
from subsidy.core.settings import get_settings
from subsidy.policy import seasons
from subsidy.core.errors import Conflict, NotFound, Refused, SubsidyError
from subsidy.registry.households import (check_quantities, clean_address, clean_category, clean_name,
                                        visible_village_name)
from subsidy.rules.idnumbers import (InvalidIdNumber, InvalidPhone, mask_id_number, mask_phone, validate_id_number,
                                     validate_phone)
from subsidy.rules.addresses import address_key
from subsidy.rules.text import without_unwanted
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


LIST_LIMIT = 1000  # entries of each list a stored preview or result keeps (the counts stay exact)
HOUSEHOLD_LABELS = {"head_name": HEADER[1], "phone": HEADER[3], "address": HEADER[4], "category": HEADER[5]}
# The template's example row (row 2) is skipped on import when its first cell still says so: a clerk may leave it.
EXAMPLE_MARK = "示例（导入时跳过此行）"
EXAMPLE = (EXAMPLE_MARK, "张三", "11010519491231002X", "13800000000", "幸福路1号", "普通", 1.5, 1)


@dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class Change:
    """A row that will be (or was) added or updated, as the preview lists it: the ID number masked."""
    row: int
    head_name: str
    id_number: str
    village: str
    what: str


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    refused: list[RowError] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    refused_rows: int = 0
    added: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    rows_to_write: int = 0  # rows that passed reading (what a confirmation works through, in batches)

    @property
    def refused_count(self) -> int:
        """Rows refused (a row with three problems is one row, listed three times in `refused`)."""
        return self.refused_rows

    def refuse(self, errors: list[RowError]) -> None:
        """One row's problems, all of them."""
        if errors:
            self.refused.extend(errors)
            self.refused_rows += 1

    def summary(self) -> str:
        return f"imported={self.imported} updated={self.updated} refused={self.refused_count}"

    def to_json(self) -> str:
        return json.dumps({
            "imported": self.imported, "updated": self.updated, "unchanged": self.unchanged,
            "refused_rows": self.refused_rows, "rows_to_write": self.rows_to_write,
            "refused": [astuple(e) for e in sorted(self.refused, key=lambda e: e.row)[:LIST_LIMIT]],
            "added": [astuple(c) for c in self.added[:LIST_LIMIT]],
            "changed": [astuple(c) for c in self.changed[:LIST_LIMIT]],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "ImportResult":
        data = json.loads(text or "{}")
        return cls(imported=data.get("imported", 0), updated=data.get("updated", 0),
                   unchanged=data.get("unchanged", 0), refused_rows=data.get("refused_rows", 0),
                   rows_to_write=data.get("rows_to_write", 0),
                   refused=[RowError(*e) for e in data.get("refused", [])],
                   added=[Change(*c) for c in data.get("added", [])],
                   changed=[Change(*c) for c in data.get("changed", [])])

    @property
    def listed_all(self) -> bool:
        """Whether the lists hold every row (a stored preview keeps the first LIST_LIMIT of each)."""
        return len(self.added) == self.imported and len(self.changed) == self.updated \
            and len({e.row for e in self.refused}) == self.refused_rows


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


UNREADABLE = "无法读取该文件，请上传 Excel（.xlsx）格式的购买登记表"


def check_archive(source) -> None:
    """Refuse, before any parsing, an .xlsx (a zip archive) that would unpack to more than the settings allow in
    all, or one of whose members is compressed suspiciously well (a "zip bomb": issue #13's 45 KB file held a 40 MB
    XML comment and took 44 s to parse). The sizes are those the archive declares; they bind, as Python's zipfile
    never inflates a member past its declared size (a longer one fails its CRC). `source`: bytes, a path or a
    seekable binary stream (left at its start)."""
    settings = get_settings()
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportRefused(f"{UNREADABLE}（{type(error).__name__}）", field="file") from None
    finally:
        if hasattr(stream, "seek"):
            stream.seek(0)
    limit_mb = settings.import_max_unpacked_bytes / 1024 / 1024
    if len(members) > 10_000 or sum(m.file_size for m in members) > settings.import_max_unpacked_bytes:
        raise ImportRefused(f"该文件解压后超过{limit_mb:g} MB，无法导入。请删除多余的工作表、图片或批注，"
                            "或将登记表拆分为几个较小的文件分别导入", field="file")
    for member in members:
        # Tiny members (a few KiB of repeated XML) compress well and harmlessly; a bomb needs size.
        if member.file_size > 64 * 1024 and member.file_size > settings.import_max_ratio * max(member.compress_size, 1):
            raise ImportRefused(f"该文件的压缩比异常（{member.filename} 解压后是压缩后的"
                                f"{member.file_size // max(member.compress_size, 1)}倍，上限为{settings.import_max_ratio}"
                                "倍），可能不是正常的登记表，已拒绝导入。请用 Excel 或 WPS 另存为 .xlsx 后重新上传",
                                field="file")


def _open(source) -> Iterator[tuple]:
    """Rows (tuples of cell values) of the first sheet; ImportRefused when it is not a readable .xlsx file, or an
    archive `check_archive` refuses."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    check_archive(source)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as error:  # a missing file, not a zip, not a workbook: the errors vary (InvalidFileException...)
        raise ImportRefused(f"{UNREADABLE}（{type(error).__name__}）", field="file") from None
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def _deadline() -> float:
    return time.monotonic() + get_settings().import_parse_seconds


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ImportRefused(f"读取该文件超过{get_settings().import_parse_seconds:g}秒仍未完成，已停止。"
                            "请将登记表拆分为几个较小的文件分别导入", field="file")


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def check_header(row: tuple | None) -> None:
    """The first row must be the template's header. A refusal says briefly what is missing or extra (a header of
    16,000 cells is not echoed back)."""
    got = [_text(v) for v in (row or ())]
    while got and not got[-1]:
        got.pop()
    if tuple(got) == HEADER:
        return
    expected = "第1行应依次为：" + "、".join(HEADER)
    if not got:
        raise ImportRefused("表头与模板不符：第1行为空。" + expected, field="header")
    present = set(got)
    missing = [h for h in HEADER if h not in present]
    unknown = [g for g in got if g and g not in HEADER]
    parts = []
    if missing:
        parts.append("缺少" + "、".join(f"“{h}”" for h in missing))
    if unknown:
        shown = "、".join(f"“{_short(u)}”" for u in unknown[:3])
        parts.append(f"有{len(unknown)}个模板以外的列（{shown}{'等' if len(unknown) > 3 else ''}），不予导入")
    if not parts:
        parts.append("列的顺序与模板不同" if len(got) == len(HEADER) else "有空白或重复的列")
    raise ImportRefused("表头与模板不符：" + "；".join(parts) + "。" + expected, field="header")


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


def _parse_row(number: int, cells: tuple, villages: dict[str, Village], today, season: Season
               ) -> _Row | list[RowError]:
    """The row, or every problem it has (not only the first)."""
    cells = tuple(cells[:len(HEADER)]) + (None,) * (len(HEADER) - len(cells))
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
        errors.append(RowError(number, HEADER[0], f"“{_short(village_key)}”不是您可以导入的村(社区)"))
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
    if village is not None and coal_kg is not None and stoves is not None and (coal_kg or stoves):
        for key, reason in check_quantities(season, village, coal_kg, stoves).items():
            errors.append(RowError(number, HEADER[6] if key == "coal_kg" else HEADER[7], reason))
    if errors:
        return errors
    return _Row(number, village, name, id_number, phone, address, category, coal_kg, stoves)


def _is_example(cells: tuple) -> bool:
    return bool(cells) and _text(cells[0]) == EXAMPLE_MARK


@dataclass
class Parsed:
    """A file read and checked row by row, before anything is written: the rows that may be imported, and the
    refusals found by reading alone."""
    season: Season
    rows: list[_Row]
    result: ImportResult


def parse(session: Session, actor, rows: Iterable[tuple], *, deadline: float | None = None,
          season: Season | None = None) -> Parsed:
    """Read every row (the header first). Only reads the database (the season, the villages in scope): run it
    outside any write transaction. ImportRefused past the deadline (`time.monotonic()`)."""
    rows = iter(rows)
    check_header(next(rows, None))
    if actor is not None and Role(actor.role) != Role.VILLAGE:
        raise Refused("只有村(社区)可以导入购买登记表")
    season = season or seasons.active_season(session)
    if season.closed_at is not None:  # said before the rows are read; the write checks it again under the lock
        raise seasons.SeasonClosed()
    villages = _villages(session, actor)
    today = clock.today()
    result = ImportResult()
    seen: dict[str, int] = {}  # ID number → first row with it, to refuse a second row in the same file
    good: list[_Row] = []
    for number, cells in enumerate(rows, start=2):
        _check_time(deadline)
        if cells is None or all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        if number == 2 and _is_example(cells):
            continue
        parsed = _parse_row(number, cells, villages, today, season)
        if isinstance(parsed, list):
            result.refuse(parsed)
            continue
        if parsed.id_number in seen:
            result.refuse([RowError(number, HEADER[2], f"与第{seen[parsed.id_number]}行的身份证号码重复")])
            continue
        seen[parsed.id_number] = number
        good.append(parsed)
    result.rows_to_write = len(good)
    return Parsed(season, good, result)


# --- importing ------------------------------------------------------------------------------------------------------

def _villages(session: Session, actor) -> dict[str, Village]:
    """Villages a row may name, by code and by name: the caller's scope (a village: itself); the system: all."""
    found: dict[str, Village] = {}
    for village in session.execute(select(Village)).scalars():
        found[village.code] = village
        found[village.name] = village
    return found


def _chunks(rows: list[_Row], start: int = 0) -> Iterator[tuple[int, list[_Row]]]:
    for offset in range(start, len(rows), CHUNK):
        yield offset, rows[offset:offset + CHUNK]


def import_rows(session: Session, actor, rows: Iterable[tuple], *, season: Season | None = None) -> ImportResult:
    """Import an iterable of row tuples, the header first, in the caller's transaction. Does not commit."""
    return write_parsed(session, actor, parse(session, actor, rows, season=season))


@dataclass
class _Plan:
    """What importing one chunk would do, decided by reading only."""
    refused: list[RowError] = field(default_factory=list)
    new_rows: list[_Row] = field(default_factory=list)
    household_updates: list[tuple[int, _Row, dict, dict]] = field(default_factory=list)  # id, row, before, after
    new_registrations: list[tuple[int, _Row]] = field(default_factory=list)  # existing household's id, row
    registration_updates: list[tuple[int, _Row, dict]] = field(default_factory=list)  # registration id, row, before
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0


def _change(row: _Row, what: str) -> Change:
    return Change(row.number, row.head_name, mask_id_number(row.id_number), row.village.name, what)


def _quantities(row: _Row) -> str:
    parts = []
    if row.coal_kg:
        parts.append(f"洁净煤{row.coal_kg / 1000:g}吨")
    if row.stoves:
        parts.append(f"炉具{row.stoves}台")
    return "、".join(parts)


def _plan_chunk(session: Session, season: Season, chunk: list[_Row]) -> _Plan:
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
    plan = _Plan()
    for row in chunk:
        old = existing.get(row.id_number)
        if old is None:
            plan.new_rows.append(row)
            continue
        if old.village_id != row.village.id:
            if old.village_id not in village_names:  # named only within the importer's scope
                village_names[old.village_id] = visible_village_name(session, old.village_id)
            name = village_names[old.village_id]
            plan.refused.append(RowError(row.number, HEADER[2], f"该身份证号码已在{name}登记" if name
                                         else "该身份证号码已在本区其他村（社区）登记"))
            continue
        reg = registrations.get(old.id)
        wants = row.coal_kg or row.stoves
        reg_change = None
        if reg is None and wants:
            reg_change = "new"
        elif reg is not None and (reg.coal_kg, reg.stoves) != (row.coal_kg, row.stoves):
            if reg.status != RegistrationStatus.REGISTERED:
                plan.refused.append(RowError(row.number, HEADER[6],
                                             "该户本采暖季的登记已公示或已审核，数量不能再通过导入修改"))
                continue
            if not wants:
                plan.refused.append(RowError(row.number, HEADER[6], "请填写洁净煤或炉具的购买数量"))
                continue
            reg_change = "update"
        changed = {f: getattr(row, f) for f in HOUSEHOLD_FIELDS if getattr(old, f) != getattr(row, f)}
        what = [HOUSEHOLD_LABELS[f] for f in changed]
        if changed:
            plan.household_updates.append((old.id, row, {f: getattr(old, f) for f in changed}, changed))
        if reg_change == "new":
            plan.new_registrations.append((old.id, row))
            what.append("本采暖季登记" + _quantities(row))
        elif reg_change == "update":
            plan.registration_updates.append((reg.id, row, {"coal_kg": reg.coal_kg, "stoves": reg.stoves}))
            what.append("购买数量改为" + _quantities(row))
        if what:
            plan.changed.append(_change(row, "、".join(what)))
        else:
            plan.unchanged += 1
    return plan


def _tally(result: ImportResult, plan: _Plan) -> None:
    for error in plan.refused:
        result.refuse([error])
    result.imported += len(plan.new_rows)
    result.updated += len(plan.changed)
    result.unchanged += plan.unchanged
    room = LIST_LIMIT * 10  # a command-line import of 100,000 rows need not list them all in memory
    if len(result.added) < room:
        result.added.extend(_change(r, "新增" + ("，" + _quantities(r) if _quantities(r) else ""))
                            for r in plan.new_rows)
    if len(result.changed) < room:
        result.changed.extend(plan.changed)


def _apply(session: Session, actor, season: Season, plan: _Plan) -> None:
    """Write what `_plan_chunk` decided (Core executemany), with its audit entries."""
    from sqlalchemy import bindparam

    seasons.lock_open(session, season.id)
    hh = Household.__table__
    rg = Registration.__table__
    moment = clock.now()
    actor_id = getattr(actor, "id", None)
    new_registrations = [_registration(household_id, row, season, actor_id, moment)
                         for household_id, row in plan.new_registrations]
    for household_id, row, before, after in plan.household_updates:
        audit.record(session, actor, "household.imported_update", "household", entity_id=household_id,
                     before=_masked(before), after=_masked(after))
    for registration_id, row, before in plan.registration_updates:
        audit.record(session, actor, "registration.imported_update", "registration", entity_id=registration_id,
                     before=before, after={"coal_kg": row.coal_kg, "stoves": row.stoves})
    if plan.household_updates:
        session.execute(update(hh).where(hh.c.id == bindparam("_id")).values(
            **{f: bindparam(f) for f in (*HOUSEHOLD_FIELDS, "phone_hmac", "phone_tail", "address_key", "updated_at")}),
            [{"_id": household_id, **{f: getattr(row, f) for f in HOUSEHOLD_FIELDS}, **vault.lookups(phone=row.phone),
              "address_key": address_key(row.address), "updated_at": moment}
             for household_id, row, _, _ in plan.household_updates])
    if plan.registration_updates:
        session.execute(update(rg).where(rg.c.id == bindparam("_id"), rg.c.status == RegistrationStatus.REGISTERED)
                        .values(coal_kg=bindparam("coal_kg"), stoves=bindparam("stoves")),
                        [{"_id": registration_id, "coal_kg": row.coal_kg, "stoves": row.stoves}
                         for registration_id, row, _ in plan.registration_updates])
    if plan.new_rows:
        inserted = session.execute(insert(hh).returning(hh.c.id, hh.c.id_number), [
            dict(village_id=row.village.id, head_name=row.head_name, id_number=row.id_number, phone=row.phone,
                 address=row.address, category=row.category, created_at=moment, updated_at=moment)
            for row in plan.new_rows]).all()
        id_of = {r.id_number: r.id for r in inserted}
        for row in plan.new_rows:
            if row.coal_kg or row.stoves:
                new_registrations.append(_registration(id_of[row.id_number], row, season, actor_id, moment))
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
    """Import a file (path, bytes or binary stream) in the caller's transaction; the caller commits, or rolls back
    for a dry run. The command line reads first and writes after (`read_file`, `write_parsed`)."""
    return import_rows(session, actor, _open(source))


def read_file(session: Session, actor, source) -> Parsed:
    """Read and check a whole file, writing nothing (the archive checks and the time limit apply)."""
    return parse(session, actor, _open(source), deadline=_deadline())


def write_parsed(session: Session, actor, parsed: Parsed) -> ImportResult:
    """Write what `read_file` found, in the caller's transaction."""
    result = parsed.result
    for _, chunk in _chunks(parsed.rows):
        plan = _plan_chunk(session, parsed.season, chunk)
        _apply(session, actor, parsed.season, plan)
        _tally(result, plan)
    result.refused.sort(key=lambda e: e.row)
    return result


# --- uploads: previewed outside any write, kept for their confirmation, purged -------------------------------------
#
# The web page reads and checks an upload in a read-only session (`preview_file`: no write lock while a file of
# any size is parsed, issue #13), then stores it with its preview in a short write transaction (`store_preview`).
# The clerk may leave and come back (`pending_uploads`, `stored_preview`); confirming reads the file again outside
# any write and commits in batches of CHUNK rows, each batch recording how far it got, so that an interrupted
# confirmation goes on where it stopped (an import is idempotent: rows already imported come out unchanged).

def preview_file(session: Session, actor, data: bytes) -> ImportResult:
    """What importing `data` would do, found by reading only (`session` may be read-only)."""
    deadline = _deadline()
    parsed = parse(session, actor, _open(data), deadline=deadline)
    result = parsed.result
    for _, chunk in _chunks(parsed.rows):
        _check_time(deadline)
        _tally(result, _plan_chunk(session, parsed.season, chunk))
    result.refused.sort(key=lambda e: e.row)
    result.dry_run = True
    return result


def store_preview(session: Session, actor, filename: str, data: bytes, preview: ImportResult) -> ImportUpload:
    """Keep a readable file and its preview for the confirmation (uploads older than a day are purged here too)."""
    purge_uploads(session)
    upload = ImportUpload(user_id=actor.id, village_id=getattr(actor, "village_id", None),
                          filename=without_unwanted(filename or "")[:200], sha256=hashlib.sha256(data).hexdigest(),
                          data=data, preview=preview.to_json(), rows_total=preview.rows_to_write)
    session.add(upload)
    session.flush()
    return upload


def _upload(session: Session, actor, upload_id: int) -> ImportUpload:
    upload = session.get(ImportUpload, upload_id)
    if upload is None or upload.user_id != actor.id:
        raise NotFound()
    return upload


def pending_uploads(session: Session, actor) -> list[ImportUpload]:
    """The caller's previews not yet confirmed nor cancelled (nor purged), newest first."""
    return list(session.execute(
        select(ImportUpload).where(ImportUpload.user_id == actor.id, ImportUpload.used_at.is_(None))
        .order_by(ImportUpload.id.desc()).limit(50)).scalars())


def stored_preview(session: Session, actor, upload_id: int) -> tuple[ImportUpload, ImportResult]:
    """A stored upload and its preview (or, once confirmed, its result), to return to."""
    upload = _upload(session, actor, upload_id)
    if upload.used_at is not None:
        return upload, ImportResult.from_json(upload.result)
    result = ImportResult.from_json(upload.preview)
    result.dry_run = True
    return upload, result


def cancel_upload(session: Session, actor, upload_id: int) -> None:
    """Drop a stored upload (its whole ID numbers with it). What a confirmation already committed stays."""
    upload = _upload(session, actor, upload_id)
    if upload.used_at is not None:
        raise Conflict("该文件已经导入，无需取消")
    session.execute(delete(ImportUpload).where(ImportUpload.id == upload.id, ImportUpload.used_at.is_(None))
                    .execution_options(synchronize_session=False))
    session.expunge(upload)


def purge_uploads(session: Session, *, older_than: timedelta | None = None) -> int:
    """Delete uploads older than the settings' keep time (a day), confirmed or not; the number deleted."""
    keep = older_than if older_than is not None else timedelta(hours=get_settings().upload_keep_hours)
    return session.execute(delete(ImportUpload).where(ImportUpload.created_at < clock.now() - keep)
                           .execution_options(synchronize_session=False)).rowcount or 0


def read_upload(session: Session, actor, upload_id: int) -> tuple[ImportUpload, Parsed]:
    """The stored upload, read and checked again (outside any write: `session` may be read-only)."""
    upload = _upload(session, actor, upload_id)
    if upload.used_at is not None:
        raise Conflict("该文件已经导入，请勿重复提交")
    return upload, parse(session, actor, _open(upload.data), deadline=_deadline())


def confirm_upload(session: Session, actor, upload: ImportUpload, parsed: Parsed) -> ImportResult:
    """Import what `read_upload` read, from where an earlier attempt stopped, in batches of CHUNK rows.

    Every batch but the last is committed here, each with the count of rows done, so that other writers wait for one
    batch at most and a confirmation that is interrupted goes on from there; the last (which empties the stored file
    and records the result) is committed by the caller's edge. Two confirmations at once: each batch moves the count
    only from the value it started from, so the second gets a Conflict."""
    result = ImportResult.from_json(upload.result) if upload.rows_done else parsed.result
    rows = parsed.rows
    start = upload.rows_done
    batches = list(_chunks(rows, start)) or [(start, [])]
    for offset, chunk in batches:
        done = offset + len(chunk)
        last = done >= len(rows)
        moved = session.execute(
            update(ImportUpload).where(ImportUpload.id == upload.id, ImportUpload.used_at.is_(None),
                                       ImportUpload.rows_done == offset)
            .values(rows_done=done).execution_options(synchronize_session=False)).rowcount
        if not moved:
            raise Conflict("该文件正在导入或已经导入，请勿重复提交")
        if chunk:
            plan = _plan_chunk(session, parsed.season, chunk)
            _apply(session, actor, parsed.season, plan)
            _tally(result, plan)
        if last:
            result.refused.sort(key=lambda e: e.row)
            session.execute(update(ImportUpload).where(ImportUpload.id == upload.id)
                            .values(used_at=clock.now(), data=b"", result=result.to_json())
                            .execution_options(synchronize_session=False))
            audit.record(session, actor, "household.import_confirmed", "import_upload", entity_id=upload.id,
                         after={"file": upload.filename, "sha256": upload.sha256, "imported": result.imported,
                                "updated": result.updated, "refused": result.refused_count})
        else:
            session.execute(update(ImportUpload).where(ImportUpload.id == upload.id)
                            .values(result=result.to_json()).execution_options(synchronize_session=False))
            session.commit()
    return result


def import_progress(upload: ImportUpload) -> str:
    """"已导入 x / y 行" for a confirmation under way or interrupted; "" before one started."""
    if not upload.rows_done or upload.used_at is not None:
        return ""
    return f"已导入 {upload.rows_done} / {upload.rows_total} 行"


# --- export ---------------------------------------------------------------------------------------------------------

def write_rows(actor, rows: Iterable[tuple[Household, Registration | None, Village]], *,
               extra_columns: tuple[str, ...] = (), extra=None) -> bytes:
    """The template's columns (plus any extra ones) for these rows: the village by its name (the import reads a name
    as well as a code), ID numbers and phones as text, masked for the roles that may not see them whole (such an
    export cannot be imported back, which is intended), tons and stoves as number cells."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("购买登记表")
    sheet.column_dimensions["C"].width = 22
    sheet.column_dimensions["E"].width = 30
    sheets.append(sheet, list(HEADER) + list(extra_columns))
    for household, registration, village in rows:
        sheets.append(sheet, [
            village.name, household.head_name, sheets.text(show_id(actor, Record.HOUSEHOLD, household.id_number)),
            sheets.text(show_phone(actor, Record.HOUSEHOLD, household.phone)), household.address,
            CATEGORY_LABELS.get(household.category, household.category),
            sheets.tons(registration.coal_kg) if registration else None,
            sheets.count(registration.stoves) if registration else None,
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


COLUMN_NOTES = (
    ("必填", "本村（社区）的名称或代码，可从下拉列表中选择"),
    ("必填", "2至20个汉字（少数民族姓名可用“·”分隔）或英文字母"),
    ("必填", "18位居民身份证号码，以文本格式填写（本列已设为文本；数字格式会丢失末几位）"),
    ("必填", "11位手机号码或带区号的固定电话，以文本格式填写"),
    ("必填", "不超过200个字"),
    ("选填", "从下拉列表中选择：" + "、".join(CATEGORY_LABELS.values()) + "；不填按“普通”"),
    ("选填", "以吨为单位，最多3位小数，不超过本采暖季每户上限；禁煤区不能填写"),
    ("选填", "整数，不超过本采暖季每户上限；洁净煤与炉具至少填写一项才会登记购买"),
)
TEMPLATE_ROWS = 2000  # rows of the first sheet given text formats and drop-downs


def template_bytes(session: Session) -> bytes:
    """The blank import template: the header, an example row (skipped on import), the ID number and phone columns
    formatted as text, drop-downs for the village (those in the caller's scope) and the category, and a second sheet
    that explains each column."""
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    villages = [v.name for v in session.execute(select(Village).order_by(Village.town_id, Village.id)).scalars()]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "购买登记表"
    for column, title in enumerate(HEADER, start=1):
        sheets.put(sheet, 1, column, title).font = Font(bold=True)
    for column, value in enumerate(EXAMPLE, start=1):
        sheets.put(sheet, 2, column, value).font = Font(italic=True, color="808080")
    for letter, width in zip("ABCDEFGH", (22, 12, 22, 16, 30, 10, 12, 10)):
        sheet.column_dimensions[letter].width = width
    last = TEMPLATE_ROWS + 1
    for row in range(2, last + 1):
        for column in (3, 4):  # ID number, phone: text, or Excel turns 18 digits into 3.7E+17
            sheet.cell(row, column).number_format = "@"
    sheet.freeze_panes = "A2"

    options = workbook.create_sheet("选项")
    for n, name in enumerate(villages, start=1):
        sheets.put(options, n, 1, name)
    for n, label in enumerate(CATEGORY_LABELS.values(), start=1):
        sheets.put(options, n, 2, label)
    options.sheet_state = "hidden"
    village_list = DataValidation(type="list", formula1=f"'选项'!$A$1:$A${max(len(villages), 1)}", allow_blank=True,
                                  showErrorMessage=True, errorTitle="村(社区)", error="请从下拉列表中选择村(社区)")
    village_list.add(f"A3:A{last}")
    category_list = DataValidation(type="list", formula1=f"'选项'!$B$1:$B${len(CATEGORY_LABELS)}", allow_blank=True,
                                   showErrorMessage=True, errorTitle="户类别", error="请从下拉列表中选择户类别")
    category_list.add(f"F3:F{last}")
    sheet.add_data_validation(village_list)
    sheet.add_data_validation(category_list)

    notes = workbook.create_sheet("填写说明")
    for column, title in enumerate(("栏目", "是否必填", "填写说明"), start=1):
        sheets.put(notes, 1, column, title).font = Font(bold=True)
    for n, (title, (required, note)) in enumerate(zip(HEADER, COLUMN_NOTES), start=2):
        sheets.put(notes, n, 1, title)
        sheets.put(notes, n, 2, required)
        sheets.put(notes, n, 3, note)
    sheets.put(notes, len(HEADER) + 3, 1, "说明")
    sheets.put(notes, len(HEADER) + 3, 3, f"第2行是示例，第一格为“{EXAMPLE_MARK}”时导入会跳过它，可删除或保留。"
               "同一身份证号码已登记的住户按表中内容更新；重复导入同一文件不会产生任何变化。")
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 80
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_registrations(session: Session, actor, *, status: str = "", village_id: int | None = None,
                         season_id: int | None = None) -> bytes:
    """The registrations list (of a season, None: the active one; in scope, filtered) with its state, as a
    spreadsheet."""
    from subsidy.registry.households import iter_registrations
    from subsidy.models import REGISTRATION_STATUS_LABELS

    rows = ((r.household, r.registration, r.village)
            for r in iter_registrations(session, status=status, village_id=village_id, season_id=season_id))
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
        sheets.append(sheet, [sheets.count(n), household.head_name,
                              sheets.text(show_id(None, Record.NOTICE, household.id_number)), household.address,
                              CATEGORY_LABELS.get(household.category, household.category),
                              sheets.tons(registration.coal_kg), sheets.count(registration.stoves)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


__all__ = ["HEADER", "ImportRefused", "ImportResult", "RowError", "import_file", "import_rows",
           "export_village", "export_registrations", "export_notice", "check_archive", "preview_file",
           "store_preview", "pending_uploads", "stored_preview", "cancel_upload", "purge_uploads", "read_upload",
           "confirm_upload", "read_file", "write_parsed", "template_bytes"]
