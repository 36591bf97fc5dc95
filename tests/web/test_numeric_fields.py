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


# --- strict JSON types: every field of every body, from the OpenAPI document ------------------------------------------

# A JSON value of another type for each kind of field: none of them may be coerced (`"quantity": true` once issued a
# 1 kg slip). A measured value (`oneOf` number or text: a test report's decimal, read exactly by the rules) takes
# text on purpose, so only a boolean is wrong for it.
WRONG_TYPES = {
    "integer": [True, False, "5", "0", 1.5, 2.0, [1], {"n": 1}],
    "measured": [True, False, None, [1], {"n": 1}],
    # An optional measured value (a test report's value the report may not give): null is "not reported".
    "measured_or_null": [True, False, [1], {"n": 1}],
    "string": [5, 0, 1.5, True, False, [], {"s": "x"}],
    "date": [20240101, 1.5, True, "2024/01/01", "2024-01-01T00:00:00"],
}
# Whoever may call each route (guards run before the body is read); the path's ids need not exist for that.
CALLERS = ["coal-a", "dongguan", "caiyuan", "drc", "finance"]


def _kind(schema: dict) -> str | None:
    options = schema.get("oneOf") or schema.get("anyOf") or [schema]
    nullable = any(option.get("type") == "null" for option in options)
    types = {option.get("type") for option in options} - {"null"}
    if types == {"integer"}:
        return "integer"
    if types == {"string"}:
        return "date" if any(option.get("format") == "date" for option in options) else "string"
    if "string" in types and types & {"number", "integer"}:
        return "measured_or_null" if nullable else "measured"
    return None


def _body_fields(schema: dict, components: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(path into the body, kind) of every scalar field of a body schema, into lists of objects (`lines.0.quantity`)."""
    if "$ref" in schema:
        return _body_fields(components[schema["$ref"].rsplit("/", 1)[1]], components, prefix)
    if "properties" not in schema:
        options = [o for o in schema.get("oneOf", []) if o.get("type") != "null"]
        return _body_fields(options[0], components, prefix) if len(options) == 1 else []
    fields = []
    for name, prop in schema["properties"].items():
        items = prop.get("items", {})
        if prop.get("type") == "array" and ("$ref" in items or "properties" in items):
            fields += _body_fields(items, components, f"{prefix}{name}.0.")
        elif kind := _kind(prop):
            fields.append((prefix + name, kind))
    return fields


def _with(path: str, value) -> dict:
    """A body holding only `value` at `path`: the other fields' absence is refused too, each under its own name."""
    *parents, last = path.split(".")
    body: dict = {}
    node = body
    for key, following in zip(parents, [*parents[1:], last]):
        child: dict | list = [] if following.isdigit() else {}
        if isinstance(node, list):
            node.append(child)
        else:
            node[key] = child
        node = child
    if isinstance(node, list):
        node.append({last: value}) if not last.isdigit() else node.append(value)
    else:
        node[last] = value
    return body


def test_every_body_field_of_the_api_refuses_a_value_of_another_json_type_by_name_in_chinese(app, api_as):
    schema = api_as("drc").get("/schema/openapi.json").json()
    components = schema["components"]["schemas"]
    callers = {name: api_as(name) for name in CALLERS}
    coerced, checked = [], 0
    for url, operations in schema["paths"].items():
        body_schema = operations.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if body_schema is None:
            continue
        url = url.replace("{number}", "TS21A-000001-0")
        url = "/".join("1" if part.startswith("{") else part for part in url.split("/"))
        fields = _body_fields(body_schema["schema"], components)
        assert fields, f"{url}: no field found in its body schema"
        for path, kind in fields:
            for value in WRONG_TYPES[kind]:
                for caller in callers.values():
                    response = caller.post(url, json=_with(path, value))
                    if response.status_code not in (401, 403):
                        break
                errors = response.json().get("errors", {}) if response.status_code == 422 else {}
                reason = next((errors[key] for key in errors if _names(key, path)), None)
                checked += 1
                if reason is None or not any("\u4e00" <= ch <= "\u9fff" for ch in reason):
                    coerced.append(f"{url} {path}={value!r}: {response.status_code} {response.text[:160]}")
    assert coerced == [], "\n".join(coerced)
    assert checked > 200, checked  # every route's fields were reached, not only the first few
