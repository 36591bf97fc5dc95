"""No ID number or mobile phone reaches a log whole, whatever logs it and however it is handled.

The server's log is read by operators and shipped to other systems; citizens' ID numbers and phones do not belong
there (DESIGN.md invariant 5). They can arrive in many ways: a database error quoting its statement's parameters or
the server's DETAIL line ("Key (id_number)=(…) already exists"), an exception message, an access log line with a
query string. The engines hide statement parameters (subsidy/core/db.py); this is the net under everything else.

`install()` (called by the app factory and the command line) wraps the log record factory, so every record is masked
where it is made: its message and arguments, its exception text (formatted here, once, then masked) and its stack.
Masking at birth, rather than with a filter on some handlers, covers every logger and every handler, including
those added later (uvicorn configures its own) and those that do not propagate to the root.
"""

from __future__ import annotations

import logging
import re

from subsidy.rules.idnumbers import mask_id_number, mask_phone

# 17 digits and a check character; an 11-digit mobile number, also written 139-0538-1234 or 139 0538 1234. Digits on
# either side mean a longer number (an amount, a timestamp), which is left alone.
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9])")


def mask_text(text: str) -> str:
    """`text` with every ID number and mobile phone in it masked as the pages show them."""
    text = ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return MOBILE.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group())), text)


def _masked_arg(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, (bool, float)) or value is None:
        return value
    shown = str(value)
    masked = mask_text(shown)
    return value if masked == shown else masked


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask `record` in place: message, arguments, exception text and stack."""
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    elif record.msg is not None:
        record.msg = mask_text(str(record.msg))
    args = record.args
    if isinstance(args, dict):
        record.args = {key: _masked_arg(value) for key, value in args.items()}
    elif isinstance(args, tuple) and args:
        record.args = tuple(_masked_arg(value) for value in args)
    if record.args:
        try:
            record.getMessage()
        except (TypeError, ValueError):  # a masked number given to "%d": keep the masked text, formatted here
            record.msg, record.args = mask_text(f"{record.msg} {record.args!r}"), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # the exception itself may hold the values; its masked text stays in exc_text
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


def install() -> None:
    """Mask every log record from now on (once, however often it is called)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_personal_data", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            return mask_record(record)
        except Exception as error:  # logging must never raise; what could not be masked is not written
            record.msg, record.args = f"log record not written: it could not be masked ({type(error).__name__})", ()
            record.exc_info = record.exc_text = record.stack_info = None
            return record

    factory.masks_personal_data = True
    logging.setLogRecordFactory(factory)


__all__ = ["ID_NUMBER", "MOBILE", "install", "mask_record", "mask_text"]
