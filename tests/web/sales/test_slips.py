"""The slips API and pages: issue, read in scope, barcodes that decode back, print, void, scan, lookup."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from sqlalchemy import select

from subsidy.core import db, idempotency
from subsidy.models import Household, IdempotentRequest, Registration, Slip, Summary, Town, Village
from tests.unit.test_barcodes import rasterise


@pytest.fixture
def decode():
    try:
        from pyzbar import pyzbar
    except ImportError:
        pytest.skip("zbar is not installed (apt-get install libzbar0): barcode decoding not checked")
    return lambda image: [s.data.decode("ascii") for s in pyzbar.decode(image)]


def approved(engine, village="dongguan", *, stoves=None):
    """An approved registration with nothing sold yet in that village: (registration id, id number)."""
    with db.transaction(engine) as s:
        v = s.execute(select(Village).where(Village.code == village)).scalar_one()
        q = (select(Registration, Household).join(Household, Household.id == Registration.household_id)
             .where(Registration.village_id == v.id, Registration.status == "approved",
                    Registration.sold_coal_kg == 0, Registration.sold_stoves == 0, Registration.coal_kg >= 1000))
        if stoves is not None:
            q = q.where(Registration.stoves >= stoves)
        r, h = s.execute(q.order_by(Registration.id)).first()
        return r.id, h.id_number


def issue(api, buyer: tuple[int, str], quantity=1000, **headers):
    """POST /slips for `buyer` (registration id, the ID number on the household's card)."""
    registration_id, id_number = buyer
    return api.post("/api/v1/slips", json={"registration_id": registration_id, "id_number": id_number,
                                           "lines": [{"product": "briquette", "quantity": quantity}]},
                    headers=headers)


def test_a_supplier_issues_a_slip_through_the_api(api_as, engine):
    rid, id_number = approved(engine)
    response = issue(api_as("coal-a"), (rid, id_number))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"].startswith("TS21A-000001-")
    assert body["lines"][0]["unit_price_fen"] == 1100_00 and body["lines"][0]["amount_fen"] == 1100_00
    assert (body["amount_fen"], body["subsidy_fen"], body["household_pays_fen"]) == (1100_00, 300_00, 800_00)
    assert body["household"]["id_number"] != id_number and "*" in body["household"]["id_number"]


def test_a_refused_slip_answers_422_with_the_reason(api_as, engine):
    rid, id_number = approved(engine)
    response = issue(api_as("coal-a"), (rid, id_number), quantity=5000)
    assert response.status_code == 422
    assert "超出" in response.json()["errors"]["quantity"]


def test_no_registration_is_told_to_a_caller_without_the_buyers_id_number(api_as, engine):
    """Enumerating registration ids without the ID number on the card, with a malformed one, or with another's,
    answers every id alike: nothing about any registration (its state, quantities, village) in any answer."""
    from tests.factories.registry import new_id_number

    rid, id_number = approved(engine)
    with db.transaction(engine) as s:
        last = s.execute(select(Registration.id).order_by(Registration.id.desc())).scalars().first()
        statuses = set(s.execute(select(Registration.status)).scalars())
    assert {"approved", "registered", "noticed"} <= statuses  # the demo gives the enumeration every kind to find
    api = api_as("coal-a")
    lines = [{"product": "briquette", "quantity": 999_000}]  # beyond any registration: the refusal would say why
    spoilers = {"no id_number": {}, "malformed": {"id_number": "370902194901010000"},
                "someone else's": {"id_number": id_number}, "nobody's": {"id_number": new_id_number()}}
    for name, spoiler in spoilers.items():
        answers = set()
        for registration_id in range(1, last + 3):
            if spoiler.get("id_number") == id_number and registration_id == rid:
                continue  # the one registration this card does prove
            response = api.post("/api/v1/slips", json={"registration_id": registration_id, "lines": lines, **spoiler})
            answers.add((response.status_code, response.text))
        assert len(answers) == 1, f"{name}: the answers tell registrations apart: {sorted(answers)[:3]}"
        status, text = answers.pop()
        body = json.loads(text)
        if name in ("no id_number", "malformed"):
            assert status == 422 and set(body["errors"]) == {"id_number"}, (name, text)
        else:
            assert status == 404 and "errors" not in body, (name, text)  # CONTRACT.md: not the household's is 404
    # With the card's number the same request is refused for what it is, and a fitting one sells.
    refused = api.post("/api/v1/slips", json={"registration_id": rid, "id_number": id_number, "lines": lines})
    assert refused.status_code == 422 and "超出" in refused.json()["errors"]["quantity"]
    lowercase_x = id_number.lower()  # read as typed: the card's check character may be an x
    assert issue(api, (rid, lowercase_x), 500).status_code == 201
    with db.transaction(engine) as s:
        assert s.execute(select(Slip.registration_id)).scalars().all() == [rid]


def test_the_answer_to_an_issue_is_the_slip_as_read_back(api_as, engine):
    """The sale answers from what it wrote, without reading it back: it must say exactly what GET says."""
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    issued = issue(api, (rid, id_number), 1500)
    assert issued.status_code == 201
    assert api.get(f"/api/v1/slips/{issued.json()['number']}").json() == issued.json()


def test_a_retry_with_the_same_idempotency_key_gets_the_same_slip(api_as, engine):
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    first = issue(api, (rid, id_number), 500, **{"Idempotency-Key": "k-1"})
    again = issue(api, (rid, id_number), 500, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert issue(api, (rid, id_number), 600, **{"Idempotency-Key": "k-1"}).status_code == 422
    other_card = api.post("/api/v1/slips", headers={"Idempotency-Key": "k-1"}, json={
        "registration_id": rid, "id_number": approved(engine, "yingxi")[1],
        "lines": [{"product": "briquette", "quantity": 500}]})
    assert other_card.status_code == 422 and "Idempotency-Key" in other_card.json()["errors"]
    with db.transaction(engine) as s:
        assert len(s.execute(select(Slip.id)).all()) == 1
        stored = s.execute(select(IdempotentRequest.request_hash)).scalar_one()
    # The key's fingerprint of the body (which holds the whole ID number) cannot be recomputed from the body alone.
    body = {"registration_id": rid, "id_number": id_number, "lines": [{"product": "briquette", "quantity": 500,
                                                                        "batch_id": None, "serial": None,
                                                                        "unit_price_fen": None}]}
    plain = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert stored != plain and stored == idempotency.body_hash(body)


def test_a_slip_is_read_by_its_supplier_its_town_and_the_district_only(api_as, engine):
    rid, id_number = approved(engine)  # dongguan is in caiyuan
    number = issue(api_as("coal-a"), (rid, id_number)).json()["number"]
    for username in ("coal-a", "caiyuan", "drc", "finance", "auditor"):
        response = api_as(username).get(f"/api/v1/slips/{number}")
        assert response.status_code == 200, username
        assert set(response.json()["scans"]) == {"3", "4", "5"}
    for username in ("coal-b", "daimiao"):
        assert api_as(username).get(f"/api/v1/slips/{number}").status_code == 404, username
    assert api_as("dongguan").get(f"/api/v1/slips/{number}").status_code == 403


def test_barcodes_of_each_copy_decode_back(api_as, engine, decode):
    from PIL import Image
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    number = issue(api, (rid, id_number)).json()["number"]
    for copy in (1, 3, 5):
        png = api.get(f"/api/v1/slips/{number}/barcode.png?copy={copy}")
        assert png.headers["content-type"] == "image/png"
        assert decode(Image.open(io.BytesIO(png.content))) == [f"{number}-{copy}"]
        svg = api.get(f"/api/v1/slips/{number}/barcode.svg?copy={copy}")
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert decode(rasterise(svg.text, 3)) == [f"{number}-{copy}"]
    assert api.get(f"/api/v1/slips/{number}/barcode.png?copy=6").status_code == 422


def test_voiding_through_the_api_and_409_once_town_approved(api_as, engine):
    api = api_as("coal-a")
    rid, id_number = approved(engine)
    a = issue(api, (rid, id_number), 500).json()["number"]
    b = issue(api, (rid, id_number), 500).json()["number"]
    assert api.post(f"/api/v1/slips/{a}/void", json={"reason": ""}).status_code == 422
    voided = api.post(f"/api/v1/slips/{a}/void", json={"reason": "数量开错"})
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert api.post(f"/api/v1/slips/{a}/void", json={"reason": "again"}).status_code == 409
    with db.transaction(engine) as s:
        slip = s.execute(select(Slip).where(Slip.number == b)).scalar_one()
        summary = Summary(supplier_id=slip.supplier_id, town_id=slip.town_id, season_id=slip.season_id,
                          month=slip.issued_on.strftime("%Y-%m"), status="town_approved")
        s.add(summary)
        s.flush()
        slip.summary_id = summary.id
    assert api.post(f"/api/v1/slips/{b}/void", json={"reason": "太晚"}).status_code == 409
    assert api_as("coal-b").post(f"/api/v1/slips/{b}/void", json={"reason": "x"}).status_code == 404


def test_scans_by_the_right_and_the_wrong_office(api_as, engine):
    rid, id_number = approved(engine)
    number = issue(api_as("coal-a"), (rid, id_number)).json()["number"]
    town = api_as("caiyuan")
    assert town.post("/api/v1/scans", json={"code": f"{number}-3"}).status_code == 201
    assert town.post("/api/v1/scans", json={"code": f"{number}-3"}).status_code == 409
    assert town.post("/api/v1/scans", json={"code": f"{number}-4"}).status_code == 403
    assert api_as("finance").post("/api/v1/scans", json={"code": f"{number}-5"}).status_code == 201
    assert api_as("daimiao").post("/api/v1/scans", json={"code": f"{number}-3"}).status_code == 404
    assert api_as("coal-a").post("/api/v1/scans", json={"code": f"{number}-1"}).status_code == 403
    scans = api_as("drc").get(f"/api/v1/slips/{number}").json()["scans"]
    assert scans["3"]["scanned"] and scans["5"]["scanned"] and not scans["4"]["scanned"]


def test_a_mistyped_number_is_refused_on_scan(api_as, engine):
    rid, id_number = approved(engine)
    number = issue(api_as("coal-a"), (rid, id_number)).json()["number"]
    prefix, seq, check = number.split("-")
    wrong = f"{prefix}-{seq[:-1]}{(int(seq[-1]) + 1) % 10}-{check}"
    response = api_as("caiyuan").post("/api/v1/scans", json={"code": f"{wrong}-3"})
    assert response.status_code == 422 and "校验失败" in response.json()["errors"]["code"]


def test_lookup_by_id_number_for_a_supplier_only(api_as, engine):
    rid, id_number = approved(engine)
    response = api_as("coal-a").post("/api/v1/registrations/lookup", json={"id_number": id_number})
    assert response.status_code == 200
    body = response.json()
    assert body["registration_id"] == rid and id_number not in response.text
    assert "*" in body["household"]["id_number"]
    assert body["coal_left_kg"] > 0 and body["village"]["zone"] == "normal"
    with db.transaction(engine) as s:
        ban_id = s.execute(select(Household.id_number).join(Village, Village.id == Household.village_id)
                           .where(Village.code == "huanshan")).scalars().first()
    assert api_as("coal-a").post("/api/v1/registrations/lookup", json={"id_number": ban_id}).status_code == 404
    assert api_as("caiyuan").post("/api/v1/registrations/lookup", json={"id_number": id_number}).status_code == 403
    assert api_as("coal-a").post("/api/v1/registrations/lookup", json={"id_number": "123"}).status_code == 422


# --- pages ---------------------------------------------------------------------------------------------------------

def test_the_counter_workflow_looks_up_previews_and_issues(client_as, engine):
    rid, id_number = approved(engine, stoves=1)
    page = client_as("stove-a")
    found = page.submit("/slips/new", {"id_number": id_number, "step": "lookup"})
    from subsidy.rules.idnumbers import mask_id_number
    # The typed number stays in the form (a POST body, never a URL); the registration shows it masked.
    assert found.status_code == 200 and "尚可购买" in found.text and mask_id_number(id_number) in found.text
    form = {"id_number": id_number, "registration_id": str(rid), "product_0": "stove", "quantity_0": "1",
            "serial_0": "WEB-1"}
    preview = page.submit("/slips/new", {**form, "step": "preview"})
    assert preview.status_code == 200 and "1,200.00" in preview.text and "800.00" in preview.text
    token = preview_token(preview.text)
    done = page.submit("/slips/new", {**form, "step": "confirm", "preview_token": token}, follow_redirects=False)
    assert done.status_code == 303
    number = done.headers["location"].split("/")[2].split("?")[0]
    detail = page.get(f"/slips/{number}")
    assert detail.status_code == 200 and "WEB-1" in detail.text
    again = page.submit("/slips/new", {**form, "step": "confirm", "serial_0": "WEB-2", "preview_token": token})
    assert again.status_code == 422 and 'data-reason="bought_all"' in again.text  # its one stove is sold


def preview_token(html: str) -> str:
    return re.search(r'name="preview_token" value="([0-9a-f]+)"', html).group(1)


def test_a_confirmation_after_another_id_number_was_typed_issues_nothing_and_looks_the_new_buyer_up(
        client_as, engine):
    rid, id_number = approved(engine)
    with db.transaction(engine) as s:  # a second buyer in the same village
        other_rid, other_id = s.execute(
            select(Registration.id, Household.id_number).join(Household, Household.id == Registration.household_id)
            .where(Registration.status == "approved", Registration.id != rid, Registration.coal_kg >= 1000,
                   Registration.village_id == select(Registration.village_id).where(Registration.id == rid)
                   .scalar_subquery())).first()
    page = client_as("coal-a")
    form = {"id_number": id_number, "registration_id": str(rid), "product_0": "briquette", "quantity_0": "1",
            "line_count": "1"}
    token = preview_token(page.submit("/slips/new", {**form, "step": "preview"}).text)
    # The next buyer's number typed over the first, then 确认开具 (the page without script).
    answer = page.submit("/slips/new", {**form, "id_number": other_id, "step": "confirm", "preview_token": token})
    assert answer.status_code == 200 and "已查询新的购买人" in answer.text and 'name="quantity_0" value=""' in answer.text
    assert f'name="registration_id" value="{other_rid}"' in answer.text and "preview_token" not in answer.text
    # The same with the registration id rewritten too: the service refuses the first buyer's preview for it.
    forged = page.submit("/slips/new", {**form, "id_number": other_id, "registration_id": str(other_rid),
                                        "step": "confirm", "preview_token": token})
    assert forged.status_code == 422 and "与预览不一致" in forged.text
    with db.transaction(engine) as s:
        assert s.execute(select(Slip.id)).first() is None


def test_the_lookup_answers_404_with_the_reason_only_for_households_in_the_suppliers_towns(api_as, engine):
    from datetime import date, timedelta

    from subsidy.core import clock
    from subsidy.models import Notice
    from subsidy.rules.idnumbers import make_id_number

    ends = clock.today() + timedelta(days=3)
    with db.transaction(engine) as s:
        households = s.execute(select(Registration, Household).join(Household, Household.id == Registration.household_id)
                               .join(Village, Village.id == Household.village_id).join(Town, Town.id == Village.town_id)
                               .where(Town.code.in_(("caiyuan", "daimiao", "taiqian")),
                                      Registration.status == "approved").order_by(Registration.id)).all()
        (noticed, h1), (waiting, h2), (rejected, h3), (bought, h4) = households[:4]
        notice = Notice(village_id=noticed.village_id, season_id=noticed.season_id, published_on=clock.today(),
                        ends_on=ends)
        s.add(notice)
        s.flush()
        noticed.status, noticed.notice_id = "noticed", notice.id
        waiting.status = "registered"
        rejected.status, rejected.reject_reason = "rejected", "不符合条件"
        bought.sold_coal_kg = bought.coal_kg
        unregistered = s.execute(select(Household.id_number).join(Village, Village.id == Household.village_id)
                                 .where(Village.code == "huanshan")).scalars().first()  # ban zone: never registered
        elsewhere = s.execute(select(Household.id_number).join(Village, Village.id == Household.village_id)
                              .where(Village.code == "shanggao-cun")).scalars().first()
        ids = {"in_notice": h1.id_number, "not_approved": h2.id_number, "rejected": h3.id_number,
               "bought_all": h4.id_number, "not_registered": unregistered}
    api = api_as("coal-a")
    for reason, id_number in ids.items():
        response = api.post("/api/v1/registrations/lookup", json={"id_number": id_number})
        assert response.status_code == 404 and response.json()["reason"] == reason, (reason, response.text)
    assert api.post("/api/v1/registrations/lookup", json={"id_number": ids["in_notice"]}).json()["notice_ends_on"] \
        == ends.isoformat()
    nobody = make_id_number("370911", date(1931, 1, 1), "997")
    for id_number in (elsewhere, nobody):
        body = api.post("/api/v1/registrations/lookup", json={"id_number": id_number}).json()
        assert body["reason"] == "not_found" and "notice_ends_on" not in body


def test_the_print_page_has_five_copies_with_barcodes_and_marks_a_voided_slip(client_as, api_as, engine):
    rid, id_number = approved(engine)
    api = api_as("coal-a")
    number = issue(api, (rid, id_number)).json()["number"]
    page = client_as("coal-a")
    printed = page.get(f"/slips/{number}/print")
    assert printed.status_code == 200
    for name in ("配送企业联", "用户联", "街道镇联", "区发改局联", "区财政局联"):
        assert name in printed.text
    assert printed.text.count("<svg") == 5 and "241mm 140mm" in printed.text and "作废</div>" not in printed.text
    # The ID number as the printing role sees it everywhere (subsidy/core/scope.py): masked for the supplier and the
    # auditor, whole for the town that reprints its copy.
    assert id_number not in printed.text and f"{id_number[:6]}********{id_number[-4:]}" in printed.text
    assert "size: A4" in page.get(f"/slips/{number}/print?paper=a4").text
    assert id_number not in client_as("auditor").get(f"/slips/{number}/print").text
    assert id_number in client_as("caiyuan").get(f"/slips/{number}/print").text
    assert api.get(f"/api/v1/slips/{number}/print").status_code == 200
    api.post(f"/api/v1/slips/{number}/void", json={"reason": "重开"})
    assert "作废</div>" in page.get(f"/slips/{number}/print").text


def test_the_scan_desk_says_loudly_what_is_wrong(client_as, api_as, engine):
    rid, id_number = approved(engine)
    number = issue(api_as("coal-a"), (rid, id_number)).json()["number"]
    desk = client_as("caiyuan")
    assert 'data-kind="ok"' in desk.submit("/scans", {"code": f"{number}-3\r"}).text
    assert 'data-kind="already"' in desk.submit("/scans", {"code": f"{number}-3"}).text
    assert 'data-kind="wrong_office"' in desk.submit("/scans", {"code": f"{number}-2"}).text
    other = issue(api_as("coal-a"), (rid, id_number), 500).json()["number"]
    assert other in desk.get("/scans/missing").text and number not in desk.get("/scans/missing").text
    api_as("coal-a").post(f"/api/v1/slips/{other}/void", json={"reason": "x"})
    assert 'data-kind="voided"' in desk.submit("/scans", {"code": f"{other}-3"}).text


def test_lists_filter_and_export(client_as, api_as, engine):
    from openpyxl import load_workbook
    rid, id_number = approved(engine)
    number = issue(api_as("coal-a"), (rid, id_number)).json()["number"]
    page = client_as("coal-a")
    listing = page.get("/slips?status=issued")
    assert number in listing.text and id_number not in listing.text
    assert number not in page.get("/slips?status=voided").text
    assert number not in client_as("coal-b").get("/slips").text
    assert number in client_as("caiyuan").get("/slips").text
    export = page.get("/slips.xlsx")
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[1][0] == number and "*" in rows[1][5]
    void = page.submit(f"/slips/{number}/void", {"reason": ""})
    assert void.status_code == 422
