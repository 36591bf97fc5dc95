"""The delivery API and pages as CONTRACT.md ("Delivery and verification") writes them: the supplier's list (masked,
paged, filtered, its own towns only), the spreadsheet, recording a delivery (200, 409, 422, 404), the slip's page,
print and API showing it, the route sheet, the photo's download and who may open what."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from subsidy.core import clock, db
from subsidy.models import Town, Village
from tests.factories import sales as f
from tests.factories.settlement import make_slip

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _slip(engine, supplier="coal-a", village="dongguan", days_ago=1) -> str:
    with db.transaction(engine) as s:
        _, r = f.household(s, village, coal_kg=3000)
        return make_slip(s, supplier=f.supplier(s, supplier), registration=r,
                         issued_on=clock.today() - timedelta(days=days_ago), coal_kg=500).number


def _id(engine, model, code) -> int:
    with db.new_session(engine) as s:
        return s.execute(select(model.id).where(model.code == code)).scalar_one()


def test_the_supplier_lists_its_towns_registrations_masked_paged_and_filtered(api_as, engine):
    api = api_as("coal-a")
    answer = api.get("/api/v1/deliveries?pending=1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["page"] == 1 and body["total"] >= len(body["items"]) > 0
    item = body["items"][0]
    assert set(item) >= {"registration_id", "household", "village", "town", "coal_left_kg", "stoves_left"}
    assert "*" in item["household"]["id_number"] and "*" in item["household"]["phone"]
    assert {i["town"]["name"] for i in body["items"]} <= {"财源街道", "岱庙街道", "泰前街道"}
    dongguan = _id(engine, Village, "dongguan")
    only = api.get(f"/api/v1/deliveries?village_id={dongguan}").json()
    assert only["items"] and {i["village"]["id"] for i in only["items"]} == {dongguan}
    assert api.get(f"/api/v1/deliveries?town_id={_id(engine, Town, 'shanggao')}").status_code == 404
    assert api.get(f"/api/v1/deliveries?village_id={_id(engine, Village, 'shanggao-cun')}").status_code == 404
    assert api.get("/api/v1/deliveries?page=0").json()["page"] == 1
    assert api.get("/api/v1/deliveries?page=999").json()["items"] == []
    deep = api.get("/api/v1/deliveries?page=99999")  # beyond paging.MAX_PAGE: by cursor only
    assert deep.status_code == 422 and "page" in deep.json()["errors"]
    sheet = api.get(f"/api/v1/deliveries.xlsx?village_id={dongguan}")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("街道/镇", "村(社区)", "户主姓名", "身份证号码") and len(rows) == len(only["items"]) + 1
    assert all("*" in r[3] for r in rows[1:])
    # The cursors walk the whole list, page after page, neither repeating nor skipping a household.
    with db.transaction(engine) as s:
        for _ in range(25):
            f.household(s, "dongguan", coal_kg=1000)
    walked, body = [], api.get("/api/v1/deliveries?per_page=20").json()
    assert body["prev"] is None and body["per_page"] == 20 and body["next"]
    while True:
        walked += [i["registration_id"] for i in body["items"]]
        if not body["next"]:
            break
        body = api.get(f"/api/v1/deliveries?per_page=20&after={body['next']}").json()
    assert body["page"] >= 2
    assert len(walked) == len(set(walked)) == api.get("/api/v1/deliveries").json()["total"]
    assert api.get("/api/v1/deliveries?after=garbage").status_code == 422


def test_the_list_is_the_suppliers_and_the_towns_only(api_as):
    for who in ("drc", "dongguan", "finance"):
        assert api_as(who).get("/api/v1/deliveries").status_code == 403
    town = api_as("caiyuan").get("/api/v1/deliveries").json()
    assert town["items"] and "*" not in town["items"][0]["household"]["id_number"]


def test_recording_a_delivery_answers_the_slip_with_it_and_refuses_what_the_contract_refuses(api_as, engine):
    number = _slip(engine, days_ago=2)
    api = api_as("coal-a")
    today = clock.today()
    early = api.post(f"/api/v1/slips/{number}/delivery",
                     json={"delivered_on": (today - timedelta(days=3)).isoformat(), "receiver": "王小红"})
    assert early.status_code == 422 and "delivered_on" in early.json()["errors"]
    future = api.post(f"/api/v1/slips/{number}/delivery",
                      json={"delivered_on": (today + timedelta(days=1)).isoformat(), "receiver": "王小红"})
    assert future.status_code == 422 and "delivered_on" in future.json()["errors"]
    nobody = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": today.isoformat(), "receiver": ""})
    assert nobody.status_code == 422 and "receiver" in nobody.json()["errors"]
    assert api_as("coal-b").post(f"/api/v1/slips/{number}/delivery",
                                 json={"delivered_on": today.isoformat(), "receiver": "王小红"}).status_code == 404
    assert api_as("caiyuan").post(f"/api/v1/slips/{number}/delivery",
                                  json={"delivered_on": today.isoformat(), "receiver": "王小红"}).status_code == 403
    done = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": today.isoformat(), "receiver": "王小红"})
    assert done.status_code == 200, done.text
    delivery = done.json()["delivery"]
    assert (delivery["delivered_on"], delivery["receiver"], delivery["days_since_issue"]) == (today.isoformat(),
                                                                                              "王小红", 2)
    assert delivery["recorded_by"] and delivery["recorded_at"]
    again = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": today.isoformat(), "receiver": "李四"})
    assert again.status_code == 409
    assert api.get(f"/api/v1/slips/{number}").json()["delivery"]["receiver"] == "王小红"
    assert api_as("caiyuan").get(f"/api/v1/slips/{number}").json()["delivery"]["receiver"] == "王小红"


def test_the_api_takes_the_signed_copys_scan_as_multipart_and_refuses_a_bad_one_by_its_field(api_as, engine, monkeypatch):
    from subsidy.core.settings import get_settings

    from subsidy.models import Attachment

    number = _slip(engine, days_ago=1)
    api = api_as("coal-a")
    today = clock.today().isoformat()
    form = {"delivered_on": today, "receiver": "王小红"}
    with db.new_session(engine) as s:
        files_before = s.execute(select(func.count()).select_from(Attachment)).scalar()
    # Refused by content, whatever its name or declared type says.
    fake = api.post(f"/api/v1/slips/{number}/delivery", data=form,
                    files={"photo": ("签收联.png", b"GIF89a not a png at all", "image/png")})
    assert fake.status_code == 422 and "photo" in fake.json()["errors"], fake.text
    import dataclasses

    from subsidy.supply import attachments
    from web.api import delivery as delivery_api

    small = dataclasses.replace(get_settings(), attachment_max_bytes=1024)
    for module in (attachments, delivery_api):
        monkeypatch.setattr(module, "get_settings", lambda: small)
    big = api.post(f"/api/v1/slips/{number}/delivery", data=form,
                   files={"photo": ("签收联.png", PNG + b"\0" * 2000, "image/png")})
    assert big.status_code == 422 and "不能超过" in big.json()["errors"]["photo"], big.text
    monkeypatch.undo()
    not_a_file = api.post(f"/api/v1/slips/{number}/delivery", data={**form, "photo": "签收联.png"})
    assert not_a_file.status_code == 422 and "photo" in not_a_file.json()["errors"]
    bad_date = api.post(f"/api/v1/slips/{number}/delivery", data={**form, "delivered_on": "2021/11/05"},
                        files={"photo": ("签收联.png", PNG, "image/png")})
    assert bad_date.status_code == 422 and "delivered_on" in bad_date.json()["errors"]
    # Nothing was written by the refusals: the slip is still undelivered, and no file was kept.
    assert api.get(f"/api/v1/slips/{number}").json()["delivery"] is None
    done = api.post(f"/api/v1/slips/{number}/delivery", data=form,
                    files={"photo": ("签收联.png", PNG, "image/png")})
    assert done.status_code == 200, done.text
    assert done.json()["delivery"]["receiver"] == "王小红"
    with db.new_session(engine) as s:
        from subsidy.models import Attachment, Delivery, Slip

        kept = s.execute(select(Attachment).join(Delivery, Delivery.photo_attachment_id == Attachment.id)
                         .join(Slip, Slip.id == Delivery.slip_id).where(Slip.number == number)).scalar_one()
        assert (kept.content_type, kept.data, kept.filename) == ("image/png", PNG, "签收联.png")
        # The refused uploads kept nothing: the accepted scan is the one file more than before.
        assert s.execute(select(func.count()).select_from(Attachment)).scalar() == files_before + 1
    again = api.post(f"/api/v1/slips/{number}/delivery", data=form, files={"photo": ("x.png", PNG, "image/png")})
    assert again.status_code == 409


def test_the_api_still_takes_json_and_refuses_a_wrong_type_by_name(api_as, engine):
    number = _slip(engine)
    api = api_as("coal-a")
    typed = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": 20211105, "receiver": "王小红"})
    assert typed.status_code == 422 and "delivered_on" in typed.json()["errors"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in typed.json()["errors"]["delivered_on"])
    name = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": clock.today().isoformat(),
                                                              "receiver": 5})
    assert name.status_code == 422 and "receiver" in name.json()["errors"]
    broken = api.post(f"/api/v1/slips/{number}/delivery", content=b"{not json",
                      headers={"content-type": "application/json"})
    assert broken.status_code == 422
    done = api.post(f"/api/v1/slips/{number}/delivery", json={"delivered_on": clock.today().isoformat(),
                                                              "receiver": "王小红"})
    assert done.status_code == 200 and done.json()["delivery"]["receiver"] == "王小红"
    schema = api.get("/schema/openapi.json").json()
    body = schema["paths"]["/api/v1/slips/{number}/delivery"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert body["multipart/form-data"]["schema"]["properties"]["photo"]["format"] == "binary"


def test_a_voided_slip_is_409(api_as, engine):
    number = _slip(engine)
    api = api_as("coal-a")
    assert api.post(f"/api/v1/slips/{number}/void", json={"reason": "开错"}).status_code == 200
    answer = api.post(f"/api/v1/slips/{number}/delivery",
                      json={"delivered_on": clock.today().isoformat(), "receiver": "王小红"})
    assert answer.status_code == 409


def test_the_supplier_records_a_delivery_with_a_photo_on_the_slips_page(client_as, engine):
    number = _slip(engine)
    page = client_as("coal-a")
    shown = page.get(f"/slips/{number}")
    assert shown.status_code == 200 and "登记送达" in shown.text and "未送达" in shown.text
    refused = page.submit(f"/slips/{number}/delivery", {"delivered_on": clock.today().isoformat(),
                                                        "receiver": "王小红"},
                          files={"photo": ("x.png", b"not an image", "image/png")})
    assert refused.status_code == 422 and "PDF、PNG 或 JPEG" in refused.text
    done = page.submit(f"/slips/{number}/delivery", {"delivered_on": clock.today().isoformat(), "receiver": "王小红"},
                       files={"photo": ("签收联.png", PNG, "image/png")}, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    after = page.get(f"/slips/{number}")
    assert "已送达" in after.text and "王小红" in after.text and "登记送达</button>" not in after.text
    photo = page.get(f"/slips/{number}/delivery/photo")
    assert photo.status_code == 200 and photo.content == PNG and photo.headers["content-type"] == "image/png"
    assert "王小红签收" in page.get(f"/slips/{number}/print").text
    twice = page.submit(f"/slips/{number}/delivery", {"delivered_on": clock.today().isoformat(), "receiver": "李四"})
    assert twice.status_code == 409 and "已登记过" in twice.text
    # The town sees it on its slip page and opens the photo; another supplier does not find either.
    town = client_as("caiyuan")
    assert "王小红" in town.get(f"/slips/{number}").text
    assert town.get(f"/slips/{number}/delivery/photo").status_code == 200
    assert client_as("coal-b").get(f"/slips/{number}/delivery/photo").status_code == 404


def test_the_list_page_and_a_villages_route_sheet(client_as, engine):
    number = _slip(engine)
    dongguan = _id(engine, Village, "dongguan")
    page = client_as("coal-a")
    listed = page.get(f"/deliveries?village_id={dongguan}")
    assert listed.status_code == 200 and number in listed.text and "未送达，已开单 1 天" in listed.text
    assert "打印本村配送路单" in listed.text
    sheet = page.get(f"/deliveries/route?village_id={dongguan}")
    assert sheet.status_code == 200 and "东关村" in sheet.text and "户主（家庭成员）签字" in sheet.text
    assert number in sheet.text
    assert page.get(f"/deliveries/route?village_id={_id(engine, Village, 'shanggao-cun')}").status_code == 404
    assert page.get("/deliveries.xlsx").status_code == 200
    assert client_as("caiyuan").get("/deliveries").status_code == 200
    assert client_as("drc").get("/deliveries").status_code == 403


def test_the_list_page_pages_by_cursor_with_the_common_pager(client_as, engine):
    import re

    with db.transaction(engine) as s:
        for _ in range(25):
            f.household(s, "dongguan", coal_kg=1000)
    page = client_as("coal-a")
    first = page.get("/deliveries?pending=0&per_page=20")
    assert first.status_code == 200 and 'aria-label="翻页"' in first.text and "第 1" in first.text
    after = re.search(r'href="(/deliveries\?[^"]*after=[^"]+)" rel="next"', first.text)
    assert after, first.text[-2000:]
    link = after.group(1).replace("&amp;", "&")
    assert "pending=0" in link and "per_page=20" in link
    second = page.get(link)
    assert second.status_code == 200 and "第 2" in second.text and 'rel="prev"' in second.text
    names = lambda html: set(re.findall(r'<tr><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td><td class="nowrap">([^<]*)<',
                                        html))
    assert names(first.text) and not names(first.text) & names(second.text)
    past = page.get("/deliveries?page=1001")  # above paging.MAX_PAGE: the first page, with the reason
    assert past.status_code == 200 and "没有显示第 1001 页" in past.text


def _timeliness_rows(html: str) -> list[list[str]]:
    import re

    section = html[html.index("data-timeliness"):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S) if 'colspan' not in row]


def _last_season_slip_delivered_after(engine, days: int) -> tuple[int, str]:
    """A past season's one slip (coal-a in 财源街道, tests/web/reports/test_past_seasons.py), delivered `days` after
    its issue: (the season's id, its month)."""
    from subsidy.models import Delivery, Season, Slip
    from tests.web.reports.test_past_seasons import _last_season_with_a_sale

    last_id, _ = _last_season_with_a_sale(engine)
    with db.transaction(engine) as s:
        slip = s.execute(select(Slip).where(Slip.season_id == last_id)).scalar_one()
        s.add(Delivery(slip_id=slip.id, supplier_id=slip.supplier_id, town_id=slip.town_id,
                       delivered_on=slip.issued_on + timedelta(days=days), receiver=slip.head_name))
        return last_id, s.get(Season, last_id).starts_on.strftime("%Y-%m")


def test_the_progress_reports_timeliness_is_the_chosen_seasons(engine, client_as):
    last_id, _ = _last_season_slip_delivered_after(engine, 5)
    drc = client_as("drc")
    now = _timeliness_rows(drc.get("/reports/progress").text)  # the active season's (its slip not delivered)
    drc.submit("/reports/season", {"season_id": str(last_id), "next": "/reports/progress"})
    past = _timeliness_rows(drc.get("/reports/progress").text)
    # The past season's one slip, delivered on the fifth day: 1 slip, 0 within 3 days, 1 within 7, none later.
    assert [row[1:7] for row in past] == [["财源街道", "1", "0", "1", "0", "0"]]
    assert past != now


def test_the_monthly_report_shows_the_months_timeliness_on_the_page_and_in_the_spreadsheet(engine, client_as):
    last_id, month = _last_season_slip_delivered_after(engine, 2)
    drc = client_as("drc")
    drc.submit("/reports/season", {"season_id": str(last_id), "next": "/reports/monthly"})
    page = drc.get(f"/reports/monthly?month={month}")
    assert page.status_code == 200 and "本月开具的销售单" in page.text
    assert [row[1:8] for row in _timeliness_rows(page.text)] == [["财源街道", "1", "1", "0", "0", "0", "100.0%"]]
    sheet = drc.get(f"/reports/monthly.xlsx?month={month}")
    assert sheet.status_code == 200
    rows = [r for r in load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[:2] == ("配送企业", "街道/镇"))
    assert rows[header][:8] == ("配送企业", "街道/镇", "有效销售单(张)", "3天内送达(张)", "4至7天送达(张)",
                                "7天以上送达(张)", "未送达(张)", "3天内送达率")
    assert rows[header + 1][1:7] == ("财源街道", 1, 1, 0, 0, 0) and rows[header + 1][7] == 1
    # Another month of the same season has no slips: the table says so.
    other = drc.get(f"/reports/monthly?month={month[:4]}-{'06' if month[5:] != '06' else '07'}")
    assert _timeliness_rows(other.text) == [] and "暂无销售单" in other.text


# --- issued at the door --------------------------------------------------------------------------------------------

def test_the_api_issues_a_slip_at_the_door_with_its_delivery_or_neither(api_as, engine):
    from subsidy.models import Delivery, Slip
    from tests.web.sales.test_slips import approved

    rid, id_number = approved(engine)
    api = api_as("coal-a")
    sale = {"registration_id": rid, "id_number": id_number, "lines": [{"product": "briquette", "quantity": 1000}]}
    nobody = api.post("/api/v1/slips", json={**sale, "delivery": {"receiver": "  "}})
    assert nobody.status_code == 422 and "delivery.receiver" in nobody.json()["errors"], nobody.text
    typed = api.post("/api/v1/slips", json={**sale, "delivery": {"receiver": 7}})
    assert typed.status_code == 422 and "delivery.receiver" in typed.json()["errors"]
    with db.new_session(engine) as s:
        assert s.execute(select(func.count()).select_from(Slip).where(Slip.registration_id == rid)).scalar() == 0
    done = api.post("/api/v1/slips", json={**sale, "delivery": {"receiver": "王小红"}},
                    headers={"Idempotency-Key": "door-1"})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["delivery"]["receiver"] == "王小红" and body["delivery"]["delivered_on"] == body["issued_on"]
    assert body["delivery"]["days_since_issue"] == 0 and body["amount_fen"] > 0
    # A retry with the same key answers the same slip; nothing is issued or delivered twice.
    again = api.post("/api/v1/slips", json={**sale, "delivery": {"receiver": "王小红"}},
                     headers={"Idempotency-Key": "door-1"})
    assert again.status_code == 201 and again.json()["number"] == body["number"]
    with db.new_session(engine) as s:
        slip_ids = s.execute(select(Slip.id).where(Slip.registration_id == rid)).scalars().all()
        assert len(slip_ids) == 1
        assert s.execute(select(func.count()).select_from(Delivery).where(Delivery.slip_id.in_(slip_ids))
                         ).scalar() == 1
    assert api.get(f"/api/v1/slips/{body['number']}").json()["delivery"]["receiver"] == "王小红"
    # Without `delivery` the answer is the plain sale, not yet delivered.
    rid2, id2 = approved(engine, "xiguan")
    plain = api.post("/api/v1/slips", json={**sale, "registration_id": rid2, "id_number": id2})
    assert plain.status_code == 201 and plain.json()["delivery"] is None


def test_the_counter_issues_at_the_door_when_asked(client_as, engine):
    import re

    from tests.web.sales.test_slips import approved, preview_token

    rid, id_number = approved(engine)
    page = client_as("coal-a")
    form = {"id_number": id_number, "registration_id": str(rid), "product_0": "briquette", "quantity_0": "1"}
    preview = page.submit("/slips/new", {**form, "step": "preview"})
    assert preview.status_code == 200 and "data-at-door" in preview.text and "上门开单" in preview.text
    head = re.search(r'name="receiver" value="([^"]*)"', preview.text).group(1)
    assert head  # the head's name by default
    token = preview_token(preview.text)
    # No name: refused on the preview (the sale stands), nothing issued.
    nameless = page.submit("/slips/new", {**form, "step": "confirm", "preview_token": token, "at_door": "1",
                                          "receiver": ""})
    assert nameless.status_code == 422 and "签收人姓名" in nameless.text and "确认开具" in nameless.text
    done = page.submit("/slips/new", {**form, "step": "confirm", "preview_token": token, "at_door": "1",
                                      "receiver": head}, follow_redirects=False)
    assert done.status_code == 303 and "delivered=1" in done.headers["location"]
    shown = page.get(done.headers["location"])
    assert "已当场送达" not in shown.text and "登记当场送达" in shown.text
    assert "已送达" in shown.text and "开单后 0 天" in shown.text and "登记送达</button>" not in shown.text


# --- the slip lists show the delivery ----------------------------------------------------------------------------

def _delivered_waiting_and_voided(engine, api_as) -> tuple[str, str, str]:
    delivered, waiting, voided = _slip(engine, days_ago=3), _slip(engine, days_ago=9), _slip(engine, days_ago=2)
    api = api_as("coal-a")
    assert api.post(f"/api/v1/slips/{delivered}/delivery", json={
        "delivered_on": (clock.today() - timedelta(days=1)).isoformat(), "receiver": "王小红"}).status_code == 200
    assert api.post(f"/api/v1/slips/{voided}/void", json={"reason": "开错"}).status_code == 200
    return delivered, waiting, voided


def _delivery_cell(html: str, number: str) -> str:
    import re

    found = re.search(rf'data-delivery-of="{number}">(.*?)</td>', html, re.S)
    assert found, number
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_slips_page_shows_each_slips_delivery_and_the_days_since_issue(engine, api_as, client_as):
    delivered, waiting, voided = _delivered_waiting_and_voided(engine, api_as)
    for who in ("coal-a", "caiyuan", "drc"):
        listed = client_as(who).get("/slips?per_page=100")
        assert listed.status_code == 200 and "<th>配送到户</th>" in listed.text
        on = (clock.today() - timedelta(days=1)).isoformat()
        assert _delivery_cell(listed.text, delivered) == f"已送达 {on}（开单后 2 天）"
        assert _delivery_cell(listed.text, waiting) == "未送达（已开单 9 天）"
        assert _delivery_cell(listed.text, voided) == "—"


def test_the_slips_spreadsheet_has_the_delivery_as_a_date_a_text_and_a_number(engine, api_as, client_as):
    delivered, waiting, voided = _delivered_waiting_and_voided(engine, api_as)
    for who in ("coal-a", "drc"):
        answer = client_as(who).get("/slips.xlsx")
        assert answer.status_code == 200
        sheet = load_workbook(io.BytesIO(answer.content)).active
        header = [c.value for c in sheet[1]]
        assert header[-4:] == ["配送到户", "送达日期", "签收人", "开单后天数"]
        rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
        state, on, receiver, days = rows[delivered][-4:]
        assert (state.value, on.value.date(), receiver.value, days.value) == (
            "已送达", clock.today() - timedelta(days=1), "王小红", 2)
        assert on.is_date and receiver.data_type == "s" and days.data_type == "n"
        state, on, receiver, days = rows[waiting][-4:]
        assert (state.value, on.value, receiver.value, days.value) == ("未送达", None, None, 9)
        state, on, receiver, days = rows[voided][-4:]
        assert (state.value, on.value, receiver.value, days.value) == ("—", None, None, None)


def test_the_town_sees_the_approved_but_not_delivered_of_its_villages_every_suppliers(engine, api_as, client_as):
    made = {}
    with db.transaction(engine) as s:
        for name, supplier, village in (("delivered", "coal-a", "dongguan"), ("by_a", "coal-a", "dongguan"),
                                        ("by_b", "coal-b", "xiguan"), ("other_town", "coal-a", "yingxi")):
            household, r = f.household(s, village, coal_kg=500, stoves=0)
            slip = make_slip(s, supplier=f.supplier(s, supplier), registration=r,
                             issued_on=clock.today() - timedelta(days=2), coal_kg=500)
            made[name] = (household.head_name, household.id_number, slip.number)
    assert api_as("coal-a").post(f"/api/v1/slips/{made['delivered'][2]}/delivery", json={
        "delivered_on": clock.today().isoformat(), "receiver": "王小红"}).status_code == 200
    town = client_as("caiyuan")
    listed = town.get("/deliveries?per_page=100")  # opens on what is not yet delivered
    assert listed.status_code == 200 and "本街道/镇各村、社区" in listed.text
    for name in ("by_a", "by_b"):
        head, id_number, number = made[name]
        assert number in listed.text and id_number in listed.text  # the town sees ID numbers whole
    assert "未送达，已开单 2 天" in listed.text
    assert made["delivered"][2] not in listed.text and made["other_town"][2] not in listed.text
    everything = town.get("/deliveries?pending=0&per_page=100")
    assert made["delivered"][2] in everything.text and made["other_town"][2] not in everything.text
    # Another town's village is not found; the API says the same list.
    assert town.get(f"/deliveries?village_id={_id(engine, Village, 'yingxi')}").status_code == 404
    api = api_as("caiyuan").get("/api/v1/deliveries?pending=1&per_page=100").json()
    numbers = {s["number"] for item in api["items"] for s in item["slips"]}
    assert {made["by_a"][2], made["by_b"][2]} <= numbers and made["delivered"][2] not in numbers
