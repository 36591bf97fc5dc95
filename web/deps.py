"""Dependencies: the user's scoped database session and the user, declared once for every handler.

The session is provided by an async generator whose `finally` closes it. Measured under uvicorn: a sync session
from a sync generator dependency deadlocked at 30+ concurrent requests (0.2 req/s, pool timeouts), because sync
handlers and the generator's cleanup share asyncio's small default thread pool and the cleanups that would return
connections never got a thread; the async generator held at 64 connections (about 520 req/s). The test client does
not show the deadlock.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.orm import Session

from subsidy.core import db
from subsidy.models import User
from subsidy.core.scope import Scope
from subsidy.core.settings import get_settings

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def provide_session(request: Request) -> AsyncGenerator[Session, None]:
    """A session limited to the caller's scope. An async generator, so that its cleanup never waits for a thread
    (STACK-NOTES: a sync generator deadlocks under load). Write requests open SQLite transactions IMMEDIATE; the
    others read in READ ONLY transactions on PostgreSQL, ended by a COMMIT (`db.end_read`): a ROLLBACK would drop
    the pooled connection's prepared statements."""
    user = request.scope.get("user")
    write = request.method in WRITE_METHODS
    session = db.new_session(write=write, read_only=not write, scope=Scope.of(user) if user else None)
    try:
        if write:
            yield session
        else:
            with db.reading(session):  # a COMMIT where close() would send a ROLLBACK and a DEALLOCATE ALL
                yield session
    finally:
        session.close()


def provide_user(request: Request) -> User:
    user = request.scope.get("user")
    if user is None:
        raise NotAuthorizedException("未登录")
    return user


def is_secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    if get_settings().trust_proxy:
        return request.headers.get("x-forwarded-proto", "") == "https"
    return False


# Declared dependencies (Litestar 2.23+ warns on inferred ones): `session: DbSession, user: CurrentUser`.
from litestar.di import NamedDependency  # noqa: E402

DbSession = NamedDependency[Session]
CurrentUser = NamedDependency[User]
