"""The registry in the JSON API (CONTRACT.md): codes, roles, scope and masking."""

from __future__ import annotations

from tests.factories.registry import new_id_number, read_xlsx


def village_id(client, code):
    return next(v["id"] for v in client.get("/api/v1/villages").json() if v["code"] == code)


def new_household(client, village, **overrides):
    body = {"village_id": village, "head_name": "赵振华", "id_number": new_id_number(), "phone": "13905380001",
            "address": "东关村2组1号", "category": "ordinary", **overrides}
    return client.post("/api/v1/households", json=body)


def test_a_duplicate_id_number_from_another_village_is_409_with_the_existing_id(api_as):
    dongguan, yingxi = api_as("dongguan"), api_as("yingxi")
    first = new_household(dongguan, village_id(dongguan, "dongguan"))
    assert first.status_code == 201, first.text
    again = new_household(yingxi, village_id(yingxi, "yingxi"), id_number=first.json()["id_number"].lower(),
                          address="营西村1组1号")
    assert again.status_code == 409
    assert again.json()["existing_id"] == first.json()["id"]
    assert "东关" not in again.text and "财源" not in again.text  # where the holder lives is not yingxi's business


def test_invalid_input_is_422_with_a_reason_per_field(api_as):
    client = api_as("dongguan")
    response = new_household(client, village_id(client, "dongguan"), id_number="370902197502311234", phone="1")
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"id_number", "phone"}


def test_a_village_user_gets_404_for_another_villages_household(api_as):
    yingxi = api_as("yingxi")
    theirs = yingxi.get("/api/v1/households").json()["items"][0]["id"]
    dongguan = api_as("dongguan")
    assert dongguan.get(f"/api/v1/households/{theirs}").status_code == 404
    assert dongguan.post(f"/api/v1/households/{theirs}/registrations", json={"coal_kg": 1, "stoves": 0}
                         ).status_code == 404
    assert new_household(dongguan, village_id(yingxi, "yingxi")).status_code == 404


def test_roles_village_writes_town_decides_others_read(api_as):
    drc = api_as("drc")
    assert new_household(drc, village_id(drc, "dongguan")).status_code == 403
    assert drc.get("/api/v1/households").status_code == 200
    assert api_as("coal-a").get("/api/v1/households").status_code == 403
    assert api_as("dongguan").post("/api/v1/registrations/1/approve").status_code == 403


def test_district_roles_see_id_numbers_and_phones_masked_the_village_and_town_whole(api_as):
    items = api_as("auditor").get("/api/v1/households").json()["items"]
    assert all("*" in h["id_number"] and "*" in h["phone"] for h in items)
    town_items = api_as("caiyuan").get("/api/v1/households").json()["items"]
    assert all(len(h["id_number"]) == 18 and "*" not in h["id_number"] for h in town_items)


def test_search_is_a_post_and_finds_by_id_number(api_as):
    client = api_as("dongguan")
    made = new_household(client, village_id(client, "dongguan")).json()
    found = client.post("/api/v1/households/search", json={"q": made["id_number"]})
    assert found.status_code == 200
    assert [h["id"] for h in found.json()["items"]] == [made["id"]]


def test_register_publish_approve_through_the_api(api_as):
    village = api_as("dongguan")
    vid = village_id(village, "dongguan")
    made = new_household(village, vid).json()
    reg = village.post(f"/api/v1/households/{made['id']}/registrations", json={"coal_kg": 2500, "stoves": 1})
    assert reg.status_code == 201 and reg.json()["status"] == "registered"
    too_much = village.post(f"/api/v1/households/{made['id']}/registrations", json={"coal_kg": 2500, "stoves": 1})
    assert too_much.status_code == 409
    notice = village.post(f"/api/v1/villages/{vid}/notice")
    assert notice.status_code == 201 and notice.json()["registrations"] == 3
    town = api_as("caiyuan")
    approved = town.post(f"/api/v1/registrations/{reg.json()['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert town.post(f"/api/v1/registrations/{reg.json()['id']}/reject", json={"reason": "x"}).status_code == 409
    assert api_as("daimiao").post(f"/api/v1/registrations/{reg.json()['id']}/approve").status_code == 404


def test_a_ban_village_household_is_refused_coal_with_422(api_as):
    client = api_as("huanshan")
    hid = client.get("/api/v1/households").json()["items"][0]["id"]
    response = client.post(f"/api/v1/households/{hid}/registrations", json={"coal_kg": 1000, "stoves": 0})
    assert response.status_code == 422
    assert "禁煤区" in response.json()["errors"]["coal_kg"]


def test_the_village_export_is_the_import_template_with_id_numbers_as_text(api_as):
    client = api_as("dongguan")
    response = client.get(f"/api/v1/villages/{village_id(client, 'dongguan')}/registrations.xlsx")
    assert response.status_code == 200
    rows = read_xlsx(response.content)
    assert rows[0][:3] == ["村(社区)", "户主姓名", "身份证号码"] and len(rows) == 7
    assert all(isinstance(r[2], str) and len(r[2]) == 18 for r in rows[1:])
    other = api_as("yingxi")
    assert other.get(f"/api/v1/villages/{village_id(client, 'dongguan')}/registrations.xlsx").status_code == 404
