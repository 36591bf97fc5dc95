"""Suppliers area over HTTP: pages per role, scope (404 outside it), the API of CONTRACT.md, uploads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subsidy.core import db
from subsidy.rules.idnumbers import make_credit_code
from subsidy.models import Attachment, Batch, Contract, Supplier
from tests.factories.supply import PDF, PNG

GOOD = dict(product="briquette", quantity_kg=20000, source="山西晋城", report_no="JC-2021-900",
            lab="泰安市产品质量检验所", volatile_pct=9.8, sulfur_pct="0.35", ash_pct=18, calorific_mj_kg=24.5)


def _ids(engine):
    with db.new_session(engine) as s:
        sup = {x.code: x.id for x in s.execute(select(Supplier)).scalars()}
        batch = {b.supplier_id: b.id for b in s.execute(select(Batch)).scalars()}
        contract = {c.supplier_id: c.id for c in s.execute(select(Contract)).scalars()}
    return sup, batch, contract


@pytest.mark.parametrize("user, path", [
    ("drc", "/suppliers"), ("drc", "/suppliers/new"), ("drc", "/suppliers/standards"), ("drc", "/contracts"),
    ("drc", "/contracts/coverage"), ("drc", "/contracts/new"), ("drc", "/batches"), ("drc", "/ledger"),
    ("auditor", "/ledger"), ("auditor", "/batches"), ("finance", "/suppliers"), ("caiyuan", "/contracts"),
    ("coal-a", "/suppliers"), ("coal-a", "/batches"), ("coal-a", "/batches/new"), ("coal-a", "/ledger"),
    ("coal-a", "/contracts"), ("coal-a", "/contracts/coverage"), ("coal-a", "/suppliers/standards"),
])
def test_every_page_of_the_area_opens_for_its_roles(client_as, user, path):
    response = client_as(user).get(path)
    assert response.status_code == 200, response.text[:800]


def test_the_standards_page_shows_the_national_defaults_and_the_linxia_example(client_as):
    page = client_as("drc").get("/suppliers/standards").text
    assert "GB 34169-2017" in page and "GB 34170-2017" in page
    assert "临夏" in page and "30.00%" in page and "1.00%" in page


def test_the_drc_edits_a_standard_for_the_season_and_the_api_uses_it(client_as, api_as, engine):
    drc = client_as("drc")
    page = drc.get("/suppliers/standards").text
    season_id = page.split('name="season_id" value="')[1].split('"')[0]
    response = drc.submit("/suppliers/standards", {"season_id": season_id, "product": "briquette",
                                                   "volatile_pct": "12", "sulfur_pct": "0.30", "ash_pct": "25",
                                                   "calorific_mj_kg": "21", "source": "本季从严"},
                          follow_redirects=False)
    assert response.status_code == 303
    body = api_as("coal-a").post("/api/v1/batches", json=GOOD).json()
    assert body["passed"] is False and body["failed_reasons"] == ["全硫 St,d 0.35% 超过上限 0.30%"]


def test_a_supplier_sees_only_itself_in_the_api(api_as):
    mine = api_as("coal-a").get("/api/v1/suppliers").json()
    assert [s["code"] for s in mine] == ["coal-a"]
    assert set(mine[0]) == {"id", "code", "name", "credit_code", "status"}
    assert len(api_as("drc").get("/api/v1/suppliers").json()) == 3


def test_a_supplier_records_a_passing_batch_through_the_api(api_as):
    api = api_as("coal-a")
    response = api.post("/api/v1/batches", json=GOOD)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["passed"] is True and body["failed_reasons"] == [] and body["sulfur_pct"] == 0.35
    assert body["id"] in [b["id"] for b in api.get("/api/v1/batches").json()]


def test_a_batch_failing_on_sulfur_is_recorded_as_failed_and_says_why(api_as):
    response = api_as("coal-a").post("/api/v1/batches", json={**GOOD, "sulfur_pct": 0.62})
    assert response.status_code == 201
    assert response.json()["passed"] is False
    assert response.json()["failed_reasons"] == ["全硫 St,d 0.62% 超过上限 0.50%"]


def test_invalid_batch_input_is_a_422_naming_the_fields(api_as):
    response = api_as("coal-a").post("/api/v1/batches", json={**GOOD, "quantity_kg": 0, "ash_pct": "18.123"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"quantity_kg", "ash_pct"}


def test_only_a_supplier_may_post_batches(api_as):
    assert api_as("drc").post("/api/v1/batches", json=GOOD).status_code == 403


def test_a_supplier_cannot_see_another_suppliers_batch_contract_or_ledger(client_as, api_as, engine):
    sup, batch, contract = _ids(engine)
    other = sup["coal-b"]
    page = client_as("coal-a")
    assert page.get(f"/batches/{batch[other]}").status_code == 404
    assert page.get(f"/contracts/{contract[other]}").status_code == 404
    assert page.get(f"/ledger/{other}/briquette").status_code == 404
    assert page.get(f"/ledger/{other}/briquette/xlsx").status_code == 404
    assert page.get(f"/suppliers/{other}").status_code == 404
    assert page.get(f"/batches/{batch[sup['coal-a']]}").status_code == 200
    assert page.get(f"/ledger/{sup['coal-a']}/briquette").status_code == 200
    assert api_as("coal-a").get(f"/api/v1/batches/{batch[other]}").status_code == 404
    listing = page.get("/batches").text
    assert "泰安市乙清洁能源有限公司" not in listing


def test_the_drc_sees_every_suppliers_ledger_and_exports_it(client_as, engine):
    sup, _, _ = _ids(engine)
    drc = client_as("drc")
    assert "泰安市乙清洁能源有限公司" in drc.get("/ledger").text
    response = drc.get(f"/ledger/{sup['coal-b']}/briquette/xlsx")
    assert response.status_code == 200 and response.content[:2] == b"PK"


def test_a_supplier_records_a_batch_on_the_page_with_its_report(client_as, engine):
    form = {k: str(v) for k, v in GOOD.items() if k != "source"} | {"origin": "山西晋城"}
    response = client_as("coal-a").submit("/batches/new", form, files={"report": ("报告.pdf", PDF, "application/pdf")},
                                          follow_redirects=True)
    assert response.status_code == 200 and "检测合格" in response.text
    with db.new_session(engine) as s:
        batch = s.execute(select(Batch).order_by(Batch.id.desc())).scalars().first()
        assert batch.report_attachment_id is not None and batch.passed


def test_a_report_that_is_not_pdf_or_image_is_refused_and_nothing_is_recorded(client_as, engine):
    form = {k: str(v) for k, v in GOOD.items() if k != "source"}
    response = client_as("coal-a").submit("/batches/new", form,
                                          files={"report": ("报告.pdf", b"<html>fake</html>", "application/pdf")})
    assert response.status_code == 422 and "PDF、PNG 或 JPEG" in response.text
    assert 'value="JC-2021-900"' in response.text  # what was typed is kept
    with db.new_session(engine) as s:
        assert s.execute(select(Batch).where(Batch.report_no == "JC-2021-900")).first() is None


def test_the_drc_creates_a_supplier_and_a_contract_and_uploads_the_scan(client_as, engine):
    drc = client_as("drc")
    response = drc.submit("/suppliers/new", {
        "code": "coal-x", "name": "泰安市新煤有限公司", "credit_code": make_credit_code("91370902MA3C7777X"[:17]),
        "slip_prefix": "x", "bank_account": "6222021234567890123", "products": "briquette"}, follow_redirects=True)
    assert response.status_code == 200 and "泰安市新煤有限公司" in response.text
    assert "***************0123" in response.text  # the bank account is shown masked
    sup, _, _ = _ids(engine)
    new_page = drc.get("/contracts/new").text
    season_id = new_page.split('name="season_id"')[1].split('selected')[0].rsplit('value="', 1)[1].split('"')[0]
    with db.new_session(engine) as s:
        from subsidy.models import Town
        town_id = s.execute(select(Town.id).where(Town.code == "shanggao")).scalar_one()
    absurd = drc.submit("/contracts/new", {"supplier_id": sup["coal-x"], "town_id": town_id, "season_id": season_id,
                                           "product": "briquette", "price": "20000000"})
    assert absurd.status_code == 422 and "洁净型煤的配送价格应在 100.00 至 5,000.00 元/吨之间" in absurd.text
    response = drc.submit("/contracts/new", {"supplier_id": sup["coal-x"], "town_id": town_id,
                                             "season_id": season_id, "product": "briquette", "price": "1050"},
                          follow_redirects=False)
    assert response.status_code == 303, response.text[:1000]
    url = response.headers["location"]
    refused = drc.submit(f"{url}/attachments", {"kind": "contract"},
                         files={"file": ("合同.pdf", b"MZ executable", "application/pdf")})
    assert refused.status_code == 422
    done = drc.submit(f"{url}/attachments", {"kind": "guarantee"}, files={"file": ("承诺.png", PNG, "image/png")},
                      follow_redirects=True)
    assert done.status_code == 200 and "承诺.png" in done.text
    with db.new_session(engine) as s:
        attachment = s.execute(select(Attachment)).scalar_one()
    assert drc.get(f"/attachments/{attachment.id}").content == PNG
    assert client_as("coal-a").get(f"/attachments/{attachment.id}").status_code == 404


def test_an_invalid_credit_code_on_the_form_is_refused_with_the_reason(client_as):
    response = client_as("drc").submit("/suppliers/new", {"code": "coal-y", "name": "某公司",
                                                          "credit_code": "91370902MA3C00000X", "slip_prefix": "Y",
                                                          "products": "briquette"})
    assert response.status_code == 422 and "统一社会信用代码" in response.text


def test_a_supplier_edits_its_contact_but_not_the_rest(client_as, engine):
    sup, _, _ = _ids(engine)
    me = client_as("coal-a")
    response = me.submit(f"/suppliers/{sup['coal-a']}/contact", {"contact_name": "新联系人",
                                                                  "contact_phone": "13912345678", "address": "新址"},
                         follow_redirects=True)
    assert response.status_code == 200 and "新联系人" in response.text
    assert me.get(f"/suppliers/{sup['coal-a']}/edit").status_code == 403
    assert me.submit(f"/suppliers/{sup['coal-b']}/contact", {"contact_name": "x"}).status_code == 404


def test_the_drc_suspends_a_supplier_with_a_reason(client_as, engine):
    sup, _, _ = _ids(engine)
    drc = client_as("drc")
    assert drc.submit(f"/suppliers/{sup['coal-b']}/status", {"status": "suspended"}).status_code == 422
    response = drc.submit(f"/suppliers/{sup['coal-b']}/status", {"status": "suspended", "reason": "抽检不合格"},
                          follow_redirects=True)
    assert response.status_code == 200 and "暂停" in response.text
    with db.new_session(engine) as s:
        assert s.get(Supplier, sup["coal-b"]).status == "suspended"
