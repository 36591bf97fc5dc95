"""Passwords, logins with throttling, browser sessions and API tokens.

Secrets handed to clients (session cookies, API tokens) are random 256-bit values; the database keeps only their
SHA-256, so a copy of the database cannot be replayed as a login. A new session id is made at every login: never one
the browser brought (session fixation). Failed logins are counted in the database per client address and per user
at that address (throttle.py has the rule), so a lockout holds across all the processes serving one PostgreSQL,
and every refused login gets the same answer (`LOGIN_REFUSED`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from subsidy.accounts import throttle
from subsidy.core import audit, clock
from subsidy.core.errors import LoginRefused, Refused
from subsidy.models import ApiToken, LoginSession, User
from subsidy.core.settings import get_settings
from subsidy.rules.text import unwanted_character


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-password-" + secrets.token_hex(8))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_password_policy(password: str, username: str = "") -> None:
    if len(password) < 8:
        raise Refused("密码至少8位", field="new_password")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise Refused("密码须同时包含字母和数字", field="new_password")
    if username and username.lower() in password.lower():
        raise Refused("密码不能包含用户名", field="new_password")


# Every refused login gets this one answer, whatever the reason (no such user, wrong password, locked, disabled,
# address blocked): a different answer for an existing user would let anyone list the user names.
LOGIN_REFUSED = "用户名或密码错误，或账户暂时无法登录；多次失败后请稍候再试或联系系统管理员"


@dataclass
class LoginResult:
    user: User | None
    refusal: str = ""


def authenticate(session: Session, username: str, password: str, *, address: str) -> LoginResult:
    """Check a username and password from a client `address`, counting failures (throttle.py says how they lock).
    The caller commits whatever the outcome, so that a failure is counted. Every refusal reads `LOGIN_REFUSED`
    and takes one password check, real or against a dummy hash, so neither the answer nor its time tells whether
    the user exists, is locked or is disabled; while locked even the right password is refused."""
    now = clock.now()
    address = throttle.address_key(address)
    if throttle.address_blocked(session, address, now):
        # No password check: the block is the caller's own address's and tells nothing about any user, and hashing
        # for a blocked flood would hand it a password check's CPU time per request.
        return LoginResult(None, LOGIN_REFUSED)
    # A name with a control character is nobody's (user names are refused with one), and PostgreSQL would refuse
    # a NUL in the parameter with an error instead of an answer.
    user = None if unwanted_character(username) else session.execute(
        # Unscoped: a browser still logged in as someone else may log in as another user. FOR NO KEY UPDATE: the
        # failure count is serialised, yet rows that merely reference the user (a slip's clerk, checked by its
        # foreign key with a KEY SHARE lock) are written meanwhile instead of waiting for the password check.
        select(User).where(User.username == username.strip()).with_for_update(key_share=True)
        .execution_options(unscoped=True)
    ).scalar_one_or_none()
    if user is None or not user.is_active or throttle.user_locked_out(session, user, address, now):
        verify_password(_dummy_hash(), password)  # same time as a real check: no probing for user names
        throttle.count_address_failure(session, address, now)
        return LoginResult(None, LOGIN_REFUSED)
    if not verify_password(user.password_hash, password):
        throttle.count_wrong_password(session, user, address, now)
        throttle.count_address_failure(session, address, now)
        return LoginResult(None, LOGIN_REFUSED)
    throttle.forget_at(session, user, address)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user)


def start_session(session: Session, user: User, user_agent: str = "") -> str:
    """A new browser session; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=digest(secret), user_id=user.id,
                             expires_at=clock.now() + timedelta(hours=get_settings().session_hours),
                             user_agent=user_agent[:200]))
    audit.record(session, user, "user.login", "app_user", entity_id=user.id)
    return secret


# Every request resolves its caller: statements built once, with bound parameters (their compiled form is cached).
_USER_FOR_SESSION = select(User).join(LoginSession, LoginSession.user_id == User.id).where(
    LoginSession.token_hash == bindparam("secret_hash"), LoginSession.revoked_at.is_(None),
    LoginSession.expires_at > bindparam("now"), User.is_active.is_(True)).execution_options(unscoped=True)
_USER_FOR_TOKEN = select(User).join(ApiToken, ApiToken.user_id == User.id).where(
    ApiToken.token_hash == bindparam("secret_hash"), ApiToken.revoked_at.is_(None),
    ApiToken.expires_at > bindparam("now"), User.is_active.is_(True)).execution_options(unscoped=True)


def user_for_session(session: Session, secret: str | None) -> User | None:
    if not secret:
        return None
    return session.execute(_USER_FOR_SESSION, {"secret_hash": digest(secret), "now": clock.now()}
                           ).scalar_one_or_none()


def end_session(session: Session, secret: str | None) -> None:
    if secret:
        session.execute(update(LoginSession).where(LoginSession.token_hash == digest(secret),
                                                   LoginSession.revoked_at.is_(None)).values(revoked_at=clock.now()))


def revoke_all(session: Session, user_id: int, *, keep_secret: str | None = None) -> None:
    """Revoke every session and token of a user (password change, reset, disabling)."""
    now = clock.now()
    query = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep_secret:
        query = query.where(LoginSession.token_hash != digest(keep_secret))
    session.execute(query.values(revoked_at=now))
    session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def change_password(session: Session, user: User, *, old_password: str, new_password: str,
                    keep_secret: str | None = None) -> None:
    if not verify_password(user.password_hash, old_password):
        raise Refused("原密码不正确", field="old_password")
    check_password_policy(new_password, user.username)
    if old_password == new_password:
        raise Refused("新密码不能与原密码相同", field="new_password")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = clock.now()
    revoke_all(session, user.id, keep_secret=keep_secret)
    audit.record(session, user, "user.password_changed", "app_user", entity_id=user.id)


def issue_token(session: Session, user: User) -> tuple[str, datetime]:
    secret = secrets.token_urlsafe(32)
    expires = clock.now() + timedelta(hours=get_settings().token_hours)
    session.add(ApiToken(token_hash=digest(secret), user_id=user.id, expires_at=expires))
    audit.record(session, user, "token.issued", "api_token", entity_id=user.id)
    return secret, expires


def user_for_token(session: Session, secret: str | None) -> User | None:
    if not secret:
        return None
    return session.execute(_USER_FOR_TOKEN, {"secret_hash": digest(secret), "now": clock.now()}
                           ).scalar_one_or_none()


def revoke_token(session: Session, secret: str) -> None:
    session.execute(update(ApiToken).where(ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None))
                    .values(revoked_at=clock.now()))


def login_token(session: Session, username: str, password: str, *, address: str) -> tuple[User, str, datetime]:
    """The API's token login (same throttling and answer as the pages). Raises LoginRefused; the caller commits
    either way."""
    result = authenticate(session, username, password, address=address)
    if result.user is None:
        raise LoginRefused(result.refusal)
    if result.user.must_change_password:
        raise LoginRefused("请先在网页上修改初始密码后再使用接口")
    secret, expires = issue_token(session, result.user)
    return result.user, secret, expires
