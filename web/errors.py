"""One mapping from errors to answers: domain errors by kind and framework errors, as a page or as JSON.

API errors: 401, 403, 404, 409, and 422 with `{"errors": {"field": "reason"}}` (CONTRACT.md).
"""

from __future__ import annotations

import logging
import re

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException, ValidationException,
)
from litestar.response import Redirect, Template
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from subsidy.core.db import is_retryable, is_unique_violation
from subsidy.core.errors import Conflict, LoginRefused, NotAllowed, NotFound, Refused
from web.api import api_names, body_model
from web.auth import is_api, name_caller_of_unmatched
from subsidy.core.settings import get_settings
from web.deps import RETRY, too_large_message

log = logging.getLogger("subsidy.web")


def _answer(request: Request, status: int, message: str, errors: dict | None = None, extra: dict | None = None):
    if is_api(request.url.path):
        body = {"detail": message, "status_code": status}
        if errors is not None:
            body["errors"] = errors
        if extra:
            body.update(extra)
        return Response(body, status_code=status)
    template = {404: "errors/404.html", 403: "errors/403.html"}.get(status, "errors/error.html")
    return Template(template, context={"message": message, "status": status, "errors": errors or {}},
                    status_code=status)


def _fields(request: Request, errors: dict | None) -> dict | None:
    """Field reasons under the names the caller used: the API's (its body's `service_names`), or the page's."""
    return api_names(body_model(request), errors) if errors and is_api(request.url.path) else errors


def refused(request: Request, error: Refused) -> Response:
    return _answer(request, 422, error.message, errors=_fields(request, error.errors))


def not_found(request: Request, error: NotFound) -> Response:
    """404; a NotFound that says why (the lookup's `reason`, CONTRACT.md) carries it in `details`."""
    return _answer(request, 404, error.message, extra=getattr(error, "details", None))


def not_allowed(request: Request, error: NotAllowed) -> Response:
    return _answer(request, 403, error.message)


def conflict(request: Request, error: Conflict) -> Response:
    """409, naming the record a duplicate duplicates (CONTRACT.md: `existing_id`)."""
    extra = {"existing_id": error.existing_id, "existing_village": error.existing_village, "current": error.current,
             **(getattr(error, "details", None) or {})}
    return _answer(request, 409, error.message, errors=_fields(request, error.errors),
                   extra={key: value for key, value in extra.items() if value is not None})


def login_refused(request: Request, error: LoginRefused) -> Response:
    return _answer(request, 401, error.message)


def validation_error(request: Request, error: ValidationException) -> Response:
    errors: dict[str, str] = {}
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "_")
            errors.setdefault(key, _chinese(str(item.get("message", "格式不正确"))))
    if not errors:
        errors["_"] = "请求格式不正确"
    return _answer(request, 422, "提交的数据有误：" + "；".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)


# Pydantic's English reasons, in Chinese (the first pattern that matches; a number it names is kept). Strict JSON
# types (web/api/__init__.py) make the type errors the common ones: `true`, `"5"` or `1.5` for an integer.
_REASONS = [
    (r"field required|missing", "必填"),
    (r"valid integer", "应为整数（JSON 数字，不带引号和小数）"),
    (r"valid number", "应为数字（JSON 数字，不带引号）"),
    (r"valid string", "应为文本（JSON 字符串）"),
    (r"valid boolean", "应为 true 或 false"),
    (r"valid date", "应为日期，格式 YYYY-MM-DD"),
    (r"valid (?:list|array)", "应为列表"),
    (r"valid dictionary|instance of", "应为对象"),
    (r"greater than or equal to (-?[\d.]+)", "应不小于 {0}"),
    (r"greater than (-?[\d.]+)", "应大于 {0}"),
    (r"less than or equal to (-?[\d.]+)", "应不大于 {0}"),
    (r"less than (-?[\d.]+)", "应小于 {0}"),
    (r"at least (\d+) items?", "至少 {0} 项"),
    (r"at most (\d+) items?", "最多 {0} 项"),
    (r"at least (\d+) characters?", "至少 {0} 个字符"),
    (r"at most (\d+) characters?", "最多 {0} 个字符"),
    (r"extra inputs", "不接受此字段"),
]
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _chinese(message: str) -> str:
    """The reason for one field, in Chinese; a reason already in Chinese (our own validators) as it is."""
    if _CJK.search(message):
        return message
    for pattern, reason in _REASONS:
        if found := re.search(pattern, message, re.IGNORECASE):
            return reason.format(*found.groups())
    return "格式不正确"


def http_error(request: Request, error: HTTPException) -> Response:
    status = error.status_code
    if isinstance(error, NotAuthorizedException) and not is_api(request.url.path):
        return Redirect("/login", status_code=303)
    if isinstance(error, PermissionDeniedException):
        message = "安全校验失败，请刷新页面后重新提交" if "csrf" in str(error.detail).lower() else "您的角色无权进行此操作"
        return _answer(request, 403, message)
    if isinstance(error, NotFoundException):
        name_caller_of_unmatched(request.scope)
        return _answer(request, 404, "页面或记录不存在")
    if status == 413:
        return _answer(request, 413, too_large_message(get_settings().upload_max_bytes))
    if status == 405:
        return _answer(request, 405, "不支持该请求方法")
    if status >= 500:
        log.exception("server error", exc_info=error)
        return _answer(request, status, "系统出现错误，请稍后重试")
    return _answer(request, status, str(error.detail) or "请求无法处理")


def integrity_error(request: Request, error: IntegrityError) -> Response:
    if is_unique_violation(error):
        return _answer(request, 409, "该记录已存在或已被他人同时处理，请刷新后重试")
    log.warning("integrity error: %s", type(error.orig).__name__)
    return _answer(request, 409, "数据与当前状态冲突，请刷新后重试")


def out_of_range(request: Request, error: Exception) -> Response:
    """A number too large for the database (SQLite's 64-bit integers, PostgreSQL's 22003): bad input, not a crash."""
    if isinstance(error, DataError) and getattr(getattr(error, "orig", None), "sqlstate", "") not in ("22003", "22P02",
                                                                                                   "22001", "22008"):
        return server_error(request, error)
    return _answer(request, 422, "数值超出允许范围", errors={"_": "数值超出允许范围"})


def database_error(request: Request, error: DBAPIError) -> Response:
    """A transaction that may simply run again (a deadlock, a lock timeout, a connection the server closed): the
    request is marked for `web.deps.RetryWrites`, which runs it again and never sends this answer, unless the
    attempts are spent. Any other database failure is a server error."""
    if not is_retryable(error):
        return server_error(request, error)
    request.scope[RETRY] = True  # type: ignore[literal-required]
    return _answer(request, 503, "系统繁忙，请稍后重试")


def server_error(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return _answer(request, 500, "系统出现错误，请稍后重试")


# Litestar picks the handler of the nearest class in an error's MRO, so each kind (and its subclasses, such as
# scanning's WrongOffice) has its one answer here.
HANDLERS = {
    Refused: refused,
    NotFound: not_found,
    NotAllowed: not_allowed,
    Conflict: conflict,
    LoginRefused: login_refused,
    ValidationException: validation_error,
    HTTPException: http_error,
    IntegrityError: integrity_error,
    OverflowError: out_of_range,
    DataError: out_of_range,
    DBAPIError: database_error,
    Exception: server_error,
}
