"""Every number a JSON body carries is refused by name when it is negative, huge or not a number: 422 with `errors`
naming the field, never a 201 (a negative test report value once passed a batch) and never a 500."""

from __future__ import annotations

import pytest

from subsidy.core import clock
from subsidy.rules.months import month_of
from tests.factories.registry import new_id_number
from tests.web.supply.test_suppliers import GOOD as GOOD_BATCH

NEGATIVE, HUGE, NOT_A_NUMBER = -1, 10**30, "abc"


def _village_id(api, code: str) -> int:
    return next(v["id"] for v in api.get("/api/v1/villages").json() if v["code"] == code)


def _household(api) -> dict:
    return {"village_id": _village_id(api, "dongguan"), "head_name": "赵振华", "id_number": new_id_number(),
            "phone": "13905380001", "address": "东关村2组1号", "category": "ordinary"}


def _unregistered_household(api) -> int:
    made = api.post("/api/v1/households", json=_household(api))
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _approved_registration(api) -> tuple[int, str]:
    """An approved registration of the active season that coal-a may sell to (dongguan is in its towns), and the ID
    number on its household's card (the town reads a household whole)."""
    for household in api.get("/api/v1/households").json()["items"]:
        detail = api.get(f"/api/v1/households/{household['id']}").json()
        for registration in detail["registrations"]:
            if registration["status"] == "approved":
                return registration["id"], detail["id_number"]
    raise AssertionError("the demo has no approved registration in caiyuan")


def _slip(buyer: tuple[int, str]) -> dict:
    registration_id, id_number = buyer
    return {"registration_id": registration_id, "id_number": id_number,
            "lines": [{"product": "briquette", "quantity": 500}]}


# (who, how to build the URL and a valid body, the fields to spoil: a path into the body and the name `errors` uses)
ENDPOINTS = {
    "batches": ("coal-a", lambda api, town: ("/api/v1/batches", dict(GOOD_BATCH)),
                ["quantity_kg", "volatile_pct", "sulfur_pct", "ash_pct", "calorific_mj_kg"]),
    "households": ("dongguan", lambda api, town: ("/api/v1/households", _household(api)), ["village_id"]),
    "household search": ("dongguan", lambda api, town: ("/api/v1/households/search", {"q": "张", "page": 1,
                                                                                       "village_id": None}),
                         ["village_id", "page"]),
    "registrations": ("dongguan", lambda api, town: (
        f"/api/v1/households/{_unregistered_household(api)}/registrations", {"coal_kg": 1000, "stoves": 0}),
        ["coal_kg", "stoves"]),
    "slips": ("coal-a", lambda api, town: ("/api/v1/slips", _slip(_approved_registration(town))),
              ["registration_id", "lines.0.quantity", "lines.0.batch_id", "lines.0.unit_price_fen"]),
    "settlements": ("finance", lambda api, town: ("/api/v1/settlements",
                                                  {"supplier_id": 1, "month": month_of(clock.today())}),
                    ["supplier_id"]),
}


def _spoil(body: dict, path: str, value) -> dict:
    """A copy of `body` with the value at `path` ("lines.0.quantity") replaced."""
    import copy

    spoiled = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = spoiled
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return spoiled


def _names(key: str, path: str) -> bool:
    """`errors` names the field as pydantic does ("lines.0.quantity") or as the rules do ("lines[0].quantity")."""
    return key == path or key == path.replace(".0.", "[0].")


@pytest.mark.parametrize("value", [NEGATIVE, HUGE, NOT_A_NUMBER], ids=["negative", "huge", "not a number"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_bad_number_in_any_json_field_is_refused_by_name(api_as, endpoint, value):
    username, build, fields = ENDPOINTS[endpoint]
    api = api_as(username)
    url, body = build(api, api_as("caiyuan"))
    for path in fields:
        response = api.post(url, json=_spoil(body, path, value))
        assert response.status_code == 422, f"{path}={value!r}: {response.status_code} {response.text[:300]}"
        errors = response.json().get("errors", {})
        assert any(_names(key, path) for key in errors), f"{path}={value!r}: errors name {sorted(errors)}"
