"""The cases API as CONTRACT.md ("Oversight") writes it: who may open, read and close, and the answers' shapes."""

from __future__ import annotations

import pytest


def _town_id(api, code):
    return next(t["id"] for t in api.get("/api/v1/towns").json() if t["code"] == code)


def test_a_town_opens_lists_reads_and_closes_its_case_and_closing_again_is_409(api_as):
    town = api_as("caiyuan")
    answer = town.post("/api/v1/cases", json={"channel": "hotline", "category": "short_weight",
                                              "description": "少了两百斤"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "open" and body["number"].startswith("TS-")
    assert body["town_id"] == _town_id(town, "caiyuan") and body["deadline"]
    listed = town.get("/api/v1/cases?status=open").json()
    assert [c["id"] for c in listed["items"]] == [body["id"]] and listed["total"] == 1
    assert listed["items"][0]["history"][0]["action"] == "open"
    assert town.get("/api/v1/cases?status=closed").json()["items"] == []
    closed = town.post(f"/api/v1/cases/{body['id']}/close", json={"outcome": "企业已补足", "finding": "true"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = town.post(f"/api/v1/cases/{body['id']}/close", json={"outcome": "再办结", "finding": "false"})
    assert again.status_code == 409
    shown = town.get(f"/api/v1/cases/{body['id']}").json()
    assert [e["action"] for e in shown["history"]] == ["open", "close"] and shown["finding"] == "true"
    reopened = town.post(f"/api/v1/cases/{body['id']}/reopen", json={"comment": "住户仍有异议"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "in_progress"


def test_another_town_gets_404_and_finance_and_the_auditor_read_only(api_as):
    drc = api_as("drc")
    daimiao = _town_id(drc, "daimiao")
    made = drc.post("/api/v1/cases", json={"channel": "walk_in", "category": "price", "description": "加价",
                                           "town_id": daimiao}).json()
    assert made["town_id"] == daimiao
    other = api_as("caiyuan")
    assert other.get(f"/api/v1/cases/{made['id']}").status_code == 404
    assert other.post(f"/api/v1/cases/{made['id']}/close", json={"outcome": "x", "finding": "true"}).status_code == 404
    for reader in ("finance", "auditor"):
        client = api_as(reader)
        assert client.get(f"/api/v1/cases/{made['id']}").json()["number"] == made["number"]
        assert client.post("/api/v1/cases", json={"channel": "hotline", "category": "other",
                                                  "description": "x"}).status_code == 403
        assert client.post(f"/api/v1/cases/{made['id']}/close",
                           json={"outcome": "x", "finding": "true"}).status_code == 403
    assert api_as("coal-a").get("/api/v1/cases").status_code == 403
    assert api_as("daimiao").post(f"/api/v1/cases/{made['id']}/accept").json()["status"] == "in_progress"


@pytest.mark.parametrize("body, field", [
    ({"channel": "fax", "category": "other", "description": "x"}, "channel"),
    ({"channel": "hotline", "category": "weather", "description": "x"}, "category"),
    ({"channel": "hotline", "category": "other", "description": ""}, "description"),
    ({"channel": "hotline", "category": "other", "description": "x", "slip_number": "TS21A-000001-X"}, "slip_number"),
    ({"channel": "hotline", "category": "other", "description": "x", "household_id": 999999}, "household_id"),
])
def test_bad_input_is_422_naming_the_field(api_as, body, field):
    answer = api_as("drc").post("/api/v1/cases", json=body)
    assert answer.status_code == 422 and field in answer.json()["errors"], answer.text


def test_closing_needs_a_known_finding(api_as):
    drc = api_as("drc")
    made = drc.post("/api/v1/cases", json={"channel": "hotline", "category": "other", "description": "x"}).json()
    answer = drc.post(f"/api/v1/cases/{made['id']}/close", json={"outcome": "x", "finding": "maybe"})
    assert answer.status_code == 422 and "finding" in answer.json()["errors"]
