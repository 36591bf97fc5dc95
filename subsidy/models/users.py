"""Users, their login sessions and API tokens, failed-login counters, and remembered answers for idempotent
retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field
from subsidy.models.enums import Role, check_in


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        CheckConstraint(check_in("role", Role), name="role"),
        # The scope matches the role: a village user has a village and nothing else, and so on.
        CheckConstraint(
            "(role = 'village') = (village_id IS NOT NULL) AND (role = 'town') = (town_id IS NOT NULL) "
            "AND (role = 'supplier') = (supplier_id IS NOT NULL)",
            name="scope_matches_role",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=64)
    role: str = Field(max_length=16)
    town_id: int | None = Field(default=None, foreign_key="town.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="village.id", index=True)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    password_hash: str = Field(max_length=255)
    must_change_password: bool = False
    is_active: bool = True
    # Locked for every address (failures from many addresses at once: subsidy/accounts/throttle.py).
    locked_until: datetime | None = None
    password_changed_at: datetime | None = None
    created_at: datetime = created_at_field()


class LoginSession(SQLModel, table=True):
    """A browser login. The cookie holds a random secret; the database only its SHA-256, so a leaked database
    dump cannot be replayed as a login."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime
    revoked_at: datetime | None = None
    user_agent: str = Field(default="", max_length=200)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime
    revoked_at: datetime | None = None


class AddressFailures(SQLModel, table=True):
    """Failed logins from one client address (any user name) in the window that began at `window_start`."""

    __tablename__ = "address_failures"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    address: str = Field(primary_key=True, max_length=45)
    failures: int = 0
    window_start: datetime
    blocked_until: datetime | None = None


class AccountFailures(SQLModel, table=True):
    """Wrong passwords for one user from one client address in the window that began at `window_start`."""

    __tablename__ = "account_failures"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    address: str = Field(primary_key=True, max_length=45)
    failures: int = 0
    window_start: datetime
    blocked_until: datetime | None = None


class IdempotentRequest(SQLModel, table=True):
    """The first answer to a request sent with an Idempotency-Key, replayed for retries of the same request."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    key: str = Field(max_length=128)
    method_path: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_type=Text)
    created_at: datetime = created_at_field()
