"""No error path writes a whole ID number or phone to the log: every kind of error is driven with a canary ID number
and phone in it while every logger records at DEBUG (SQLAlchemy's statements and rows included), and the log is
searched for them."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from subsidy.registry import households
from subsidy.rules.idnumbers import make_id_number

ID = make_id_number("370902", date(1971, 8, 23), "538")
PHONE = "13975318642"
LOGGERS = ("", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "litestar", "uvicorn", "uvicorn.access",
           "uvicorn.error", "subsidy", "subsidy.web")


@pytest.fixture
def log(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def whole_canaries(caplog) -> list[str]:
    written = caplog.text + "".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''} {r.args!r}" for r in caplog.records)
    return [canary for canary in (ID, ID[:17], PHONE) if canary in written]


def village_id(client) -> int:
    return next(v["id"] for v in client.get("/api/v1/villages").json() if v["code"] == "dongguan")


def household(village: int, **overrides) -> dict:
    return {"village_id": village, "head_name": "赵振华", "id_number": ID, "phone": PHONE, "address": "东关村2组1号",
            "category": "ordinary", **overrides}


def test_an_unexpected_exception_inside_a_handler_is_logged_masked(api_as, client_as, monkeypatch, log):
    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot list the household of {ID} (phone {PHONE})")

    monkeypatch.setattr(households, "list_households", broken)
    assert api_as("dongguan").get("/api/v1/households").status_code == 500
    assert client_as("dongguan").get("/households").status_code == 500
    logged = [r for r in log.records if r.exc_text and "RuntimeError" in r.exc_text]
    assert len(logged) == 2 and all(ID[:6] + "********" + ID[-4:] in r.exc_text for r in logged)
    assert whole_canaries(log) == []


def test_a_database_error_quoting_its_parameters_is_logged_masked(api_as, monkeypatch, log, backend):
    def failing(session, *args, **kwargs):
        if backend == "postgresql":  # the server's own message quotes the value
            session.execute(text("SELECT CAST(:v AS integer)"), {"v": f"{ID}/{PHONE}"})
        raise DataError("SELECT :id_number, :phone", {"id_number": ID, "phone": PHONE}, ValueError(f"{ID} {PHONE}"))

    monkeypatch.setattr(households, "list_households", failing)
    client = api_as("dongguan")
    assert client.get("/api/v1/households").status_code in (422, 500)
    monkeypatch.undo()
    monkeypatch.setattr(households, "list_households", lambda *a, **k: (_ for _ in ()).throw(
        DataError("SELECT :id_number", {"id_number": ID, "phone": PHONE}, ValueError("no sqlstate"))))
    assert client.get("/api/v1/households").status_code == 500
    assert any(r.exc_text and "DataError" in r.exc_text for r in log.records)
    assert whole_canaries(log) == []


def test_a_unique_violation_on_insert_is_logged_masked(api_as, monkeypatch, log):
    client = api_as("dongguan")
    village = village_id(client)
    assert client.post("/api/v1/households", json=household(village)).status_code == 201
    monkeypatch.setattr(households, "_refuse_duplicate", lambda *a, **k: None)  # straight into the unique index
    assert client.post("/api/v1/households", json=household(village)).status_code == 409
    assert whole_canaries(log) == []


def test_invalid_input_and_a_nul_in_an_address_are_422_and_logged_masked(api_as, client_as, log):
    client = api_as("dongguan")
    village = village_id(client)
    assert client.post("/api/v1/households", json=household("x")).status_code == 422
    refused = client.post("/api/v1/households", json=household(village, address="东关村\x002组"))
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"address"}
    page = client_as("dongguan").submit("/households/new", household(village, address="东关村\x012组"))
    assert page.status_code == 422
    assert whole_canaries(log) == []


def test_a_refused_login_with_an_id_number_for_a_name_is_logged_masked(app, demo, log):
    from tests.clients import ApiClient, PageClient

    assert ApiClient(app).post("/api/v1/auth/token", json={"username": ID, "password": PHONE}).status_code == 401
    assert ApiClient(app).post("/api/v1/auth/token", json={"username": f"{ID}\x00", "password": PHONE}
                               ).status_code == 401
    page = PageClient(app).submit("/login", {"username": ID, "password": PHONE})
    assert page.status_code in (200, 401, 422) and "登录" in page.text
    assert whole_canaries(log) == []


def test_an_access_log_line_with_an_id_number_in_its_path_is_masked(app, log):
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET",
                                             f"/households?q={ID}&phone={PHONE}", "1.1", 200)
    assert log.records and whole_canaries(log) == []


def test_the_command_line_masks_its_log_as_the_app_does(db_url):
    from subsidy import cli

    before = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        assert cli.main(["db", "check"]) == 0
        record = logging.getLogger("subsidy").makeRecord("subsidy", logging.ERROR, __file__, 1,
                                                          "import failed for %s", (ID,), None)
        assert ID not in record.getMessage() and ID[:6] in record.getMessage()
    finally:
        logging.setLogRecordFactory(before)
