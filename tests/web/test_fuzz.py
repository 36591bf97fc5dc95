"""API fuzz test: schemathesis generates requests for every operation of /schema/openapi.json, sent with a real
bearer token (a district user and a supplier), and no answer may be a 5xx. Then strict types: for every operation
with a JSON body, bodies that break its schema (a boolean or a text for an integer, a number for a text, a field
missing) must be refused, never accepted by coercion, and still never with a 5xx. Bounded so that it stays fast: a
few examples per operation, no stateful runs, SQLite only."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.clients import ApiClient
from tests.sqlite_only import db_url  # noqa: F401  (SQLite only: this tests the API's answers, not the database)

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import negative_data_rejection, not_a_server_error  # noqa: E402

EXAMPLES_PER_OPERATION = 12


def _token(app, username: str) -> str:
    return ApiClient(app).authenticate(username, f"{username}-demo")["token"]


def _fuzz(operation, token: str, statuses: Counter, mode: GenerationMode = GenerationMode.POSITIVE,
          checks=(not_a_server_error,)) -> str | None:
    """None when every generated request passed the checks (an answer below 500), else a description of the first
    that did not."""
    strategy = operation.as_strategy(mode, headers={"Authorization": f"Bearer {token}"})

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call()
        statuses[response.status_code] += 1
        case.validate_response(response, checks=list(checks))

    try:
        run()
    except Exception as failure:  # the check's failure, with the request that caused it
        return f"{operation.label}: {str(failure)[:800]}"
    return None


@pytest.mark.parametrize("username", ["drc", "coal-a"])
def test_no_api_operation_answers_a_server_error_to_generated_requests(app, demo, username):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI schema lists no operation"
    statuses: Counter = Counter()
    # A fresh token per operation: fuzzing the logout operation revokes the token it was sent with.
    failures = [failure for op in operations if (failure := _fuzz(op, _token(app, username), statuses))]
    assert not failures, "\n\n".join(failures)
    # The requests really were let in: a fuzz run answered only 401s would prove nothing.
    assert sum(count for status, count in statuses.items() if status < 400) > 0, statuses


def _has_json_body(operation) -> bool:
    return any(body.media_type == "application/json" for body in operation.body)


@pytest.mark.parametrize("username", ["drc", "coal-a"])
def test_no_api_body_that_breaks_its_schema_is_accepted_or_answers_a_server_error(app, demo, username):
    """Strict JSON types (web/api/__init__.py): schemathesis's negative bodies (wrong types, missing fields, values
    out of the schema's range) are refused with a 4xx, never coerced into a 2xx."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [op for result in schema.get_all_operations() if _has_json_body(op := result.ok())]
    assert len(operations) >= 10, [op.label for op in operations]
    statuses: Counter = Counter()
    failures = [failure for op in operations
                if (failure := _fuzz(op, _token(app, username), statuses, GenerationMode.NEGATIVE,
                                     (not_a_server_error, negative_data_rejection)))]
    assert not failures, "\n\n".join(failures)
    assert statuses[422] > 0, statuses  # the bodies reached validation, past the guards


def test_the_fuzzed_schema_carries_the_batchs_report_date_and_the_depot_operations(app, demo):
    """What the two runs above walk includes issue 17's additions: `report_date` in and out of POST /batches, and
    the depots' add, edit, deactivate and reactivate (so a 5xx or a coerced body there fails them)."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert {"POST /api/v1/depots", "PUT /api/v1/depots/{depot_id}", "POST /api/v1/depots/{depot_id}/deactivate",
            "POST /api/v1/depots/{depot_id}/reactivate", "POST /api/v1/batches"} <= labels, sorted(labels)
    raw = ApiClient(app).get("/schema/openapi.json").json()["components"]["schemas"]
    assert "report_date" in raw["BatchIn"]["properties"] and "report_date" in raw["BatchOut"]["properties"]
    assert "active" in raw["DepotOut"]["properties"]
