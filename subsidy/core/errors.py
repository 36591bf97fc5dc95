"""Domain errors, by kind. Each carries a message a clerk understands (Simplified Chinese).

Nothing raises the base `SubsidyError`: it is what every kind shares, so that the CLI and the web layer can catch
"any refusal of the domain" in one clause. The web layer maps the kinds to answers once (web/errors.py): Refused →
422, NotFound → 404, NotAllowed → 403, Conflict → 409, LoginRefused → 401. A handler that re-renders a form catches
the kind it re-renders (usually `Refused`) and lets the others reach that mapping.
"""

from __future__ import annotations


class SubsidyError(Exception):
    """What every domain error shares. `field` names the form/API field at fault, when there is one; `errors` maps
    each field at fault to its reason."""

    def __init__(self, message: str, field: str | None = None, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or ({field: message} if field else {"_": message})

    def __str__(self) -> str:
        return self.message


class Refused(SubsidyError):
    """Input or a request the rules refuse: the form comes back with the reason next to the field."""


class NotFound(SubsidyError):
    """Missing, or outside the caller's scope: the two are indistinguishable on purpose."""

    def __init__(self, message: str = "未找到该记录，或不在您的管辖范围内"):
        super().__init__(message)


class NotAllowed(SubsidyError):
    """The caller's role may not do this (or it is not the caller's turn)."""

    def __init__(self, message: str = "您的角色无权进行此操作"):
        super().__init__(message)


class Conflict(SubsidyError):
    """Conflicts with the current state: a duplicate, or something already done. A duplicate names the record it
    duplicates (`existing_id`, and for a household registered elsewhere `existing_village`), so that the page can
    link to it and the API answers it (CONTRACT.md: 409 with `existing_id`). A state that changed under the caller
    gives its `current` figures (an approval of figures that no longer stand)."""

    def __init__(self, message: str, field: str | None = None, *, existing_id: int | None = None,
                 existing_village: str | None = None, current: dict | None = None):
        super().__init__(message, field)
        self.existing_id = existing_id
        self.existing_village = existing_village
        self.current = current


class LoginRefused(SubsidyError):
    """Wrong credentials, or an account that may not log in."""
