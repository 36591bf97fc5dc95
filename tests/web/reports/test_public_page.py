"""The public page (信息公开) and its JSON: no login, no personal data at all, failed batches listed, past seasons by
choice only, and cached (in process and by `Cache-Control`) on these two paths alone."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from subsidy.core import db
from subsidy.models import Batch, Household, Season
from tests.clients import ApiClient, PageClient
from tests.factories.accounts import season as make_season
from tests.factories.supply import add_batch

PATHS = ("/public", "/api/v1/public")


@pytest.fixture
def anonymous(app, demo):
    """A caller with no login (the `app` fixture empties the shared app's public cache for each test)."""
    return PageClient(app)


def _masked_forms(value: str) -> set[str]:
    """A value whole and as the masking rules show it (rules/idnumbers.py: the first and last digits around
    asterisks), and the last four digits after an asterisk, the form a receipt would use."""
    from subsidy.rules.idnumbers import mask_id_number, mask_phone

    forms = {value, "*" + value[-4:]}
    forms.add(mask_phone(value) if len(value) == 11 else mask_id_number(value))
    return forms


def test_the_public_page_and_json_show_no_household_data_of_the_demo_in_any_form(engine, anonymous):
    with engine.connect() as c:
        rows = c.execute(sa.select(Household.head_name, Household.id_number, Household.phone,
                                   Household.address)).all()
    assert len(rows) >= 30
    bodies = {path: anonymous.get(path) for path in PATHS}
    for path, answer in bodies.items():
        assert answer.status_code == 200, path
        assert "set-cookie" not in answer.headers, path  # nothing that a shared cache would hand to someone else
    text = "\n".join(a.text for a in bodies.values())
    assert "泰安市甲洁净煤配送有限公司" in text  # the bodies are the real page, not an error
    for name, id_number, phone, address in rows:
        assert name not in text and address not in text
        for value in (id_number, phone):
            if value:
                for form in _masked_forms(value):
                    assert form not in text, (value, form)
    assert "*" not in text  # no masked value of any kind: the pages print no asterisk at all


def test_a_failed_batch_stays_listed_with_its_values_and_verdict(engine, anonymous):
    with db.transaction(engine) as s:
        add_batch(s, "coal-b", report_no="JC-FAIL-7", sulfur_pct="2.50", lab="山东省煤炭质量检测中心")
    body = anonymous.get("/api/v1/public").json()
    (failed,) = [b for b in body["batches"] if b["report_no"] == "JC-FAIL-7"]
    assert failed["passed"] is False and failed["failed_reasons"]
    assert failed["values"]["sulfur_pct"] == 2.5 and failed["lab"] == "山东省煤炭质量检测中心"
    assert failed["supplier"] == "泰安市乙清洁能源有限公司" and failed["product"] == "briquette"
    assert any(b["passed"] for b in body["batches"])  # the demo's passed batches beside it
    page = anonymous.get("/public").text
    row = page[page.index("JC-FAIL-7"):]
    row = row[:row.index("</tr>")]
    assert "不合格" in row and "2.50" in row


def test_the_json_has_the_contracts_shape(anonymous):
    body = anonymous.get("/api/v1/public").json()
    assert {"season", "rates", "caps", "suppliers", "batches", "zones"} <= set(body)
    assert body["season"]["active"] is True
    assert body["caps"] == {"coal_kg": 3000, "stoves": 1}
    assert {"product": "briquette", "category": "low_income", "from_kg": 0, "rate_fen": 30000} in body["rates"]
    coal_a = next(s for s in body["suppliers"] if s["name"] == "泰安市甲洁净煤配送有限公司")
    assert len(coal_a["credit_code"]) == 18 and coal_a["products"] == ["briquette"]
    assert {"town": "财源街道", "product": "briquette", "price_fen": 110000} in coal_a["prices"]
    batch = body["batches"][0]
    assert set(batch) >= {"product", "report_no", "lab", "tested_on", "values", "passed"}
    assert set(batch["values"]) == {"volatile_pct", "sulfur_pct", "ash_pct", "calorific_mj_kg"}
    assert body["zones"]["ban"] and body["zones"]["clean_only"]
    assert set(body["zones"]["ban"][0]) == {"town", "village"}


def test_the_hotline_and_the_cases_received_and_closed_each_month_are_published_as_counts_only(engine, anonymous):
    from subsidy.core import clock
    from subsidy.oversight import cases

    with db.transaction(engine) as s:
        for description in ("煤块发热量不足，烧不旺", "送货少了一百斤"):
            cases.open_case(s, None, channel="system", category="quality", description=description)
    month = clock.local(clock.now()).strftime("%Y-%m")
    body = anonymous.get("/api/v1/public").json()
    assert body["hotline"] == "0538-12345"
    assert body["cases"] == [{"month": month, "received": 2, "closed": 0}]
    page = anonymous.get("/public").text
    assert "0538-12345" in page and "烧不旺" not in page and "一百斤" not in page


def test_only_the_active_season_is_shown_unless_a_past_one_is_chosen(engine, anonymous):
    with db.transaction(engine) as s:
        past = make_season(s, name="2020—2021采暖季", code="20", starts_on="2020-11-01", ends_on="2021-03-31",
                           rate_briquette_ordinary="250")
        coal_a = s.execute(sa.text("SELECT id FROM supplier WHERE code = 'coal-a'")).scalar_one()
        s.add(Batch(supplier_id=coal_a, season_id=past.id, product="briquette", quantity_kg=1000, report_no="JC-2020-9",
                    lab="旧检验所", volatile_cpct=900, sulfur_cpct=30, ash_cpct=1500, calorific_kj_kg=25000,
                    passed=True, arrival_date=date(2020, 11, 5)))
        past_id = past.id
    active = anonymous.get("/api/v1/public").json()
    assert active["season"]["active"] is True and "JC-2020-9" not in str(active["batches"])
    assert all(r["rate_fen"] != 25000 for r in active["rates"])
    chosen = anonymous.get(f"/api/v1/public?season_id={past_id}").json()
    assert chosen["season"] == {"id": past_id, "code": "20", "name": "2020—2021采暖季", "starts_on": "2020-11-01",
                                "ends_on": "2021-03-31", "active": False}
    assert [b["report_no"] for b in chosen["batches"]] == ["JC-2020-9"]
    assert {"product": "briquette", "category": "ordinary", "from_kg": 0, "rate_fen": 25000} in chosen["rates"]
    assert chosen["suppliers"] == []  # no contracts in that season: the active season's are not shown
    page = anonymous.get(f"/public?season_id={past_id}").text
    assert "2020—2021采暖季" in page and "JC-2020-9" in page and "往季" in page
    for wrong in ("999999", "abc", "-1"):
        answer = anonymous.get(f"/api/v1/public?season_id={wrong}")
        assert answer.status_code == 404 and answer.headers["cache-control"] == "no-store", wrong


def test_these_two_paths_alone_may_be_cached_and_everything_else_stays_no_store(client_as, anonymous):
    for path in PATHS:
        answer = anonymous.get(path)
        assert answer.headers["cache-control"] == "public, max-age=60", path
        assert "script-src 'self'" in answer.headers["content-security-policy"]
    signed_in = client_as("drc")
    assert signed_in.get("/public").headers["cache-control"] == "public, max-age=60"
    for path in ("/", "/public/", "/publicx", "/reports/progress", "/login", "/api/v1/public/x", "/healthz"):
        assert signed_in.get(path, follow_redirects=False).headers["cache-control"] == "no-store", path
    assert ApiClient(anonymous.app).get("/api/v1/towns").headers["cache-control"] == "no-store"


def test_a_signed_in_visitor_gets_the_same_page_as_everyone_with_no_name_on_it(client_as, anonymous):
    public = anonymous.get("/public").text
    drc = client_as("drc").get("/public").text
    assert drc == public and "退出" not in drc and "区发改局" not in drc


def test_the_answer_is_served_from_the_cache_until_its_ttl_and_then_read_again(engine, app, anonymous):
    cache = app.state.public_cache
    loads = cache.loads
    first = anonymous.get("/api/v1/public").json()
    with db.transaction(engine) as s:
        add_batch(s, "coal-a", report_no="JC-LATER-1")
    again = anonymous.get("/api/v1/public").json()
    assert again == first and cache.loads == loads + 1  # stale within the TTL: accepted, and said in the docstring
    real_now = cache.now
    try:
        cache.now = lambda: real_now() + 61
        later = anonymous.get("/api/v1/public").json()
    finally:
        cache.now = real_now
    assert "JC-LATER-1" in str(later["batches"]) and cache.loads == loads + 2


def test_the_public_read_takes_a_fixed_number_of_statements(engine, demo):
    from subsidy.reports import public

    with db.transaction(engine) as s:
        for n in range(5):
            add_batch(s, "coal-a", report_no=f"JC-N-{n}")
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with db.new_session(engine) as s:
            d = public.disclosure(s)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(d.batches) >= 7 and len(d.suppliers) == 3
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 7  # cases, spot checks too


def test_without_an_active_season_the_page_is_not_found_and_a_crowd_still_reads_once(engine, app, anonymous):
    with db.transaction(engine) as s:
        s.execute(sa.update(Season).values(is_active=False))
    loads = app.state.public_cache.loads
    for _ in range(3):
        answer = anonymous.get("/public")
        assert answer.status_code == 404 and answer.headers["cache-control"] == "no-store"
    assert app.state.public_cache.loads == loads + 1


def test_the_whole_demo_of_make_run_leaves_no_personal_data_on_the_public_page_or_in_its_json(app, engine):
    """The full demo (`make run`: every village's households, the default count, not the tests' few), checked household
    by household; nor a person of the staff (a clerk's name, a supplier's contact and phone)."""
    from subsidy import demo as demo_data
    from subsidy.models import Supplier, User

    with db.transaction(engine) as s:
        assert demo_data.load(s)  # a database without the tests' demo: the full one loads here
    with db.new_session(engine) as s:
        households = s.execute(sa.select(Household)).scalars().all()
        rows = [(h.head_name, h.id_number, h.phone, h.address) for h in households]
        staff = [n for (n,) in s.execute(sa.select(User.display_name)).all() if n]
        contacts = s.execute(sa.select(Supplier.contact_name, Supplier.contact_phone)).all()
    assert len(rows) >= demo_data.HOUSEHOLDS_PER_VILLAGE * 10 and all(r[1] for r in rows)
    app.state.public_cache.entries.clear()
    anonymous = PageClient(app)
    answers = [anonymous.get(path) for path in PATHS]
    assert [a.status_code for a in answers] == [200, 200]
    text = "\n".join(a.text for a in answers)
    assert "泰安市甲洁净煤配送有限公司" in text and "0538-12345" in text
    for name, id_number, phone, address in rows:
        assert name not in text and address not in text, name
        for value in (id_number, phone):
            if value:
                for form in _masked_forms(value):
                    assert form not in text, (value, form)
    for name in staff + [c for c, _ in contacts if c]:
        assert name not in text, name
    for _, phone in contacts:
        if phone:
            assert phone not in text, phone
    assert "*" not in text
