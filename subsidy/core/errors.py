"""Domain errors. Each carries a message a clerk understands (Simplified Chinese).

The web layer maps them to answers once (web/errors.py): SubsidyError → 422, NotFound → 404, NotAllowed → 403,
Conflict → 409.
"""

from __future__ import annotations


class SubsidyError(Exception):
    """Input or a request the rules refuse. `field` names the form/API field at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ({field: message} if field else {"_": message})

    def __str__(self) -> str:
        return self.message


class NotFound(SubsidyError):
    """Missing, or outside the caller's scope: the two are indistinguishable on purpose."""

    def __init__(self, message: str = "未找到该记录，或不在您的管辖范围内"):
        super().__init__(message)


class NotAllowed(SubsidyError):
    """The caller's role may not do this (or it is not the caller's turn)."""

    def __init__(self, message: str = "您的角色无权进行此操作"):
        super().__init__(message)


class Conflict(SubsidyError):
    """Conflicts with the current state: a duplicate, or something already done."""

    def __init__(self, message: str, field: str | None = None, **extra):
        super().__init__(message, field)
        self.extra = extra


class LoginRefused(SubsidyError):
    pass
