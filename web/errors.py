"""One mapping from errors to answers: domain errors and framework errors, as a page or as JSON.

API errors: 401, 403, 404, 409, and 422 with `{"errors": {"field": "reason"}}` (CONTRACT.md).
"""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException, ValidationException,
)
from litestar.response import Redirect, Template
from sqlalchemy.exc import DataError, IntegrityError

from subsidy.core.db import is_unique_violation
from subsidy.core.errors import Conflict, LoginRefused, NotAllowed, NotFound, SubsidyError
from web.auth import is_api

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


def domain_error(request: Request, error: SubsidyError) -> Response:
    if isinstance(error, NotFound):
        return _answer(request, 404, error.message)
    if isinstance(error, NotAllowed):
        return _answer(request, 403, error.message)
    if isinstance(error, Conflict):
        return _answer(request, 409, error.message, errors=error.errors, extra=getattr(error, "extra", None))
    if isinstance(error, LoginRefused):
        return _answer(request, 401, error.message)
    return _answer(request, 422, error.message, errors=error.errors)


def validation_error(request: Request, error: ValidationException) -> Response:
    errors: dict[str, str] = {}
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "_")
            errors.setdefault(key, _chinese(str(item.get("message", "格式不正确"))))
    if not errors:
        errors["_"] = "请求格式不正确"
    return _answer(request, 422, "提交的数据有误：" + "；".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)


def _chinese(message: str) -> str:
    lowered = message.lower()
    if "missing" in lowered or "required" in lowered:
        return "必填"
    if "greater than" in lowered or "less than" in lowered:
        return "数值超出允许范围"
    if "int" in lowered:
        return "应为整数"
    if "str" in lowered:
        return "应为文本"
    if "bool" in lowered:
        return "应为 true 或 false"
    return "格式不正确：" + message


def http_error(request: Request, error: HTTPException) -> Response:
    status = error.status_code
    if isinstance(error, NotAuthorizedException) and not is_api(request.url.path):
        return Redirect("/login", status_code=303)
    if isinstance(error, PermissionDeniedException):
        message = "安全校验失败，请刷新页面后重新提交" if "csrf" in str(error.detail).lower() else "您的角色无权进行此操作"
        return _answer(request, 403, message)
    if isinstance(error, NotFoundException):
        return _answer(request, 404, "页面或记录不存在")
    if status == 413:
        return _answer(request, 413, "上传的文件过大")
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


def server_error(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return _answer(request, 500, "系统出现错误，请稍后重试")


HANDLERS = {
    SubsidyError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    IntegrityError: integrity_error,
    OverflowError: out_of_range,
    DataError: out_of_range,
    Exception: server_error,
}
