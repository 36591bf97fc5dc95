"""A control character in any free-text field of the API is a 422 naming the field (CONTRACT.md: `errors`), never
a 500 (a NUL made PostgreSQL refuse the statement) and never stored."""

from __future__ import annotations

from subsidy.core import clock, db
from tests.factories import sales as f
from tests.factories.settlement import make_slip


def test_every_free_text_field_of_the_api_answers_422_naming_it(engine, api_as):
    with db.transaction(engine) as s:
        _, noticed = f.household(s, "dongguan", status="noticed")
        approved = f.household(s, "dongguan")[1]
        slip = make_slip(s, supplier=f.supplier(s, "coal-a"), registration=approved, issued_on=clock.today(),
                         coal_kg=500).number
        village_id = approved.village_id
    coal_a, caiyuan, dongguan = api_as("coal-a"), api_as("caiyuan"), api_as("dongguan")
    batch = {"product": "briquette", "quantity_kg": 10_000, "source": "山西", "report_no": "JC-1", "lab": "检验所",
             "volatile_pct": "9.8", "sulfur_pct": "0.35", "ash_pct": "18", "calorific_mj_kg": "24.5"}
    household = {"village_id": village_id, "head_name": "赵振华", "id_number": "11010519491231002X",
                 "phone": "13905380001", "address": "东关村2组1号", "category": "ordinary"}
    calls = [
        (dongguan, "/api/v1/households", {**household, "address": "东关村\x002组"}, "address"),
        (dongguan, "/api/v1/households", {**household, "head_name": "赵\x01振华"}, "head_name"),
        (dongguan, f"/api/v1/villages/{village_id}/notice", {"objection_contact": "村委会\x00"}, "objection_contact"),
        (caiyuan, f"/api/v1/registrations/{noticed.id}/reject", {"reason": "不符\x00合"}, "reason"),
        (coal_a, f"/api/v1/slips/{slip}/void", {"reason": "开错\x01了"}, "reason"),
        (coal_a, "/api/v1/batches", {**batch, "report_no": "JC\x00-1"}, "report_no"),
        (coal_a, "/api/v1/batches", {**batch, "lab": "检验\ufffe所"}, "lab"),
        (coal_a, "/api/v1/batches", {**batch, "source": "山\x01西"}, "source"),
        (coal_a, "/api/v1/batches", {**batch, "producer": "煤\x00业"}, "producer"),
        (caiyuan, "/api/v1/summaries/1/return", {"reason": "退\x00回"}, "reason"),
        (api_as("finance"), "/api/v1/settlements/1/pay", {"reference": "ICBC\x00", "paid_on": clock.today().isoformat()},
         "reference"),
    ]
    answers = {}
    for client, url, body, field in calls:
        response = client.post(url, json=body)
        errors = response.json().get("errors", {}) if response.headers.get("content-type", "").startswith(
            "application/json") else {}
        if response.status_code != 422 or field not in errors or "U+" not in errors[field]:
            answers[(url, field)] = (response.status_code, response.text[:200])
    assert answers == {}
