"""What reaches a log: ID numbers and mobile phones masked in every part of every record."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from subsidy.core import logs
from subsidy.rules.idnumbers import make_id_number

ID = make_id_number("370902", date(1968, 5, 17), "417")
PHONE = "13961745283"


@pytest.fixture
def masked_records():
    """Records made while masking is installed, whatever logger makes them (the factory is put back after)."""
    before = logging.getLogRecordFactory()
    logs.install()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "sqlalchemy.engine", "subsidy.web")]
    for logger in loggers:
        logger.addHandler(keep)
        logger.setLevel(logging.DEBUG)
    yield records
    for logger in loggers:
        logger.removeHandler(keep)
        logger.setLevel(logging.NOTSET)
    logging.setLogRecordFactory(before)


def _text(record: logging.LogRecord) -> str:
    return logging.Formatter("%(message)s").format(record) + repr(record.args) + repr(record.exc_info)


def test_the_message_its_arguments_and_the_exception_text_are_masked(masked_records):
    log = logging.getLogger("subsidy.web")
    log.warning(f"household {ID} phone {PHONE}")
    log.warning("household %s phone %s", ID, f"{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}")
    log.warning("by name %(id)s", {"id": ID})
    log.warning("an 18-digit number given as a number: %d", int(ID[:17] + "1"))
    try:
        raise RuntimeError(f"cannot register {ID} ({PHONE})")
    except RuntimeError:
        log.exception("server error")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                             f"/households?q={ID}&phone={PHONE}", "1.1", 200)
    assert len(masked_records) == 6
    for record in masked_records:
        text = _text(record)
        assert ID not in text and ID[:17] not in text and PHONE not in text and PHONE[3:7] + PHONE[7:] not in text
    assert "370902********" in _text(masked_records[0]) and "139****5283" in _text(masked_records[0])
    assert "RuntimeError" in _text(masked_records[4])


def test_an_access_log_record_keeps_the_arguments_its_formatter_unpacks(masked_records):
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/x?q={ID}",
                                             "1.1", 200)
    client, method, path, version, status = masked_records[0].args
    assert (method, status) == ("GET", 200) and path == f"/x?q={ID[:6]}********{ID[-4:]}"


def test_longer_numbers_than_an_id_number_or_a_phone_are_left_alone():
    assert logs.mask_text("amount 1234567890123456789 fen, t=13961745283001") == \
        "amount 1234567890123456789 fen, t=13961745283001"


def test_installing_twice_masks_once():
    before = logging.getLogRecordFactory()
    try:
        logs.install()
        once = logging.getLogRecordFactory()
        logs.install()
        assert logging.getLogRecordFactory() is once
    finally:
        logging.setLogRecordFactory(before)


def test_a_record_that_cannot_be_masked_is_replaced_not_written_nor_raised(masked_records):
    class Unprintable:
        def __str__(self):
            raise RuntimeError(ID)

    logging.getLogger("subsidy.web").warning("value %s", Unprintable())
    assert masked_records[0].getMessage() == "log record not written: it could not be masked (RuntimeError)"
