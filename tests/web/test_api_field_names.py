"""Every field reason the API gives is under the name the caller sent (CONTRACT.md's names), never under the
service's own name for the field (a batch's bad `source` was answered as `errors["origin"]`)."""

from __future__ import annotations

import pytest

from tests.web.test_numeric_fields import ENDPOINTS, _names, _spoil

# A value each kind of field's rules refuse (past the JSON types): a control character in a text, nothing in a
# required text, a date in the future.
BAD_TEXT = "坏\x01值"
BAD_VALUES = {
    "batches": {"product": "stove", "quantity_kg": 0, "source": BAD_TEXT, "producer": BAD_TEXT,
                "arrival_date": "2999-01-01", "vehicle": BAD_TEXT, "report_no": "", "lab": BAD_TEXT,
                "volatile_pct": "9.8%x", "sulfur_pct": "1.234", "ash_pct": "abc", "calorific_mj_kg": "-1"},
    "households": {"head_name": BAD_TEXT, "id_number": "370902194901010000", "phone": "123", "address": BAD_TEXT,
                   "category": "rich"},
    "registrations": {"coal_kg": 10**9},
    "slips": {"id_number": "123", "lines.0.product": "gold", "lines.0.quantity": 0, "lines.0.serial": "S-1",
              "lines.0.unit_price_fen": 1},
    "settlements": {"month": "2021-13"},
}


@pytest.mark.parametrize("endpoint", list(BAD_VALUES))
def test_each_fields_refusal_is_named_as_the_api_names_the_field(api_as, endpoint):
    username, build, _ = ENDPOINTS[endpoint]
    api = api_as(username)
    url, body = build(api, api_as("caiyuan"))
    misnamed = {}
    for path, value in BAD_VALUES[endpoint].items():
        response = api.post(url, json=_spoil(body, path, value))
        errors = response.json().get("errors", {}) if response.status_code == 422 else {}
        if not any(_names(key, path) for key in errors):
            misnamed[path] = (response.status_code, sorted(errors) or response.text[:200])
    assert misnamed == {}
