"""Dependencies: the user's scoped database session and the user, declared once for every handler; the session
is the request's one transaction (`provide_session`).

The session is provided by an async generator whose `finally` closes it. Measured under uvicorn: a sync session
from a sync generator dependency deadlocked at 30+ concurrent requests (0.2 req/s, pool timeouts), because sync
handlers and the generator's cleanup share asyncio's small default thread pool and the cleanups that would return
connections never got a thread; the async generator held at 64 connections (about 520 req/s). The test client does
not show the deadlock.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio
from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Send
from litestar.types import Scope as ASGIScope
from litestar.utils.scope.state import CONNECTION_STATE_KEY, ScopeState
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.orm import Session

from subsidy.core import db
from subsidy.core.errors import SubsidyError
from subsidy.models import User
from subsidy.core.scope import Scope
from subsidy.core.settings import get_settings

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RETRY = "subsidy.retry"  # set in the request's scope by web/errors.py when its transaction may simply run again
ATTEMPTS = 5


async def provide_session(request: Request) -> AsyncGenerator[Session, None]:
    """A session limited to the caller's scope, and the request's one transaction edge: handlers call the service
    and never commit, roll back or end a read themselves.

    A write request (POST, PUT, PATCH, DELETE) commits when its handler returns (its page or JSON already rendered,
    the answer not yet sent: a failed COMMIT still becomes the answer). Any request that ends in a domain error, and
    any read, ends with `db.end_read`: a COMMIT when the transaction only read, a ROLLBACK when it wrote anything
    (so a refused write keeps nothing). A COMMIT rather than a ROLLBACK because a ROLLBACK makes psycopg drop the
    pooled connection's prepared statements, and the sale's statements are then planned afresh on the next request
    (tests/web/test_prepared_statements.py). Any other error rolls back. A handler that catches a refusal to render
    its form again ends the refused attempt first (`web.forms.discard`). Serialization failures, deadlocks and lost
    connections are retried by `RetryWrites`, below.

    An async generator, so that its cleanup never waits for a thread: sync handlers and a sync generator's cleanup
    share asyncio's small thread pool, and under load (30+ concurrent requests) the cleanups that would return
    connections never got one. The COMMIT therefore runs on the event loop, as the ROLLBACK of close() always did.
    Write requests open SQLite transactions IMMEDIATE; reads run in READ ONLY transactions on PostgreSQL."""
    user = request.scope.get("user")
    write = request.method in WRITE_METHODS
    session = db.new_session(write=write, read_only=not write, scope=Scope.of(user) if user else None)
    try:
        yield session
    except SubsidyError:
        db.end_read(session)  # a refusal or a "not found" leaves the transaction sound: end it without a ROLLBACK
        raise
    except BaseException:
        session.rollback()
        raise
    else:
        if write:
            session.commit()
        else:
            db.end_read(session)
    finally:
        session.close()


class RetryWrites(ASGIMiddleware):
    """Runs a write request again, from the start, when its transaction failed in a way that wrote nothing: a
    serialization failure or deadlock on PostgreSQL (40001, 40P01), "database is locked" on SQLite, or a connection
    the server closed during a statement (`db.is_retryable`; a connection lost at COMMIT leaves the outcome unknown
    and is never run again). The request body is replayed as it was received; the answer of an attempt that will be
    retried is never sent. The handler of the failure (web/errors.py) marks the request's scope."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: ASGIScope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] not in WRITE_METHODS:
            await next_app(scope, receive, send)
            return
        received: list[Message] = []

        async def recording() -> Message:
            message = await receive()
            received.append(message)
            return message

        source = recording
        before = _state_as_it_is(scope)
        for attempt in range(1, ATTEMPTS + 1):
            held: list[Message] = []

            async def holding(message: Message) -> None:
                held.append(message)

            # Each attempt starts from the scope as it came in: Litestar keeps what it learns while handling a request
            # (the parsed body, whether the answer started) in the scope's state.
            attempt_scope = {**scope, "state": {**scope.get("state", {}), CONNECTION_STATE_KEY: before()}}
            await next_app(attempt_scope, source, holding if attempt < ATTEMPTS else send)
            if attempt == ATTEMPTS:
                return
            if not attempt_scope.get(RETRY):
                for message in held:
                    await send(message)
                return
            await anyio.sleep(0.01 * attempt)
            source = _replay(list(received), recording)


def _state_as_it_is(scope: ASGIScope) -> Callable[[], ScopeState]:
    """Copies of Litestar's state of the request as it is now (the app's exception handlers, for one)."""
    original = ScopeState.from_scope(scope)
    values = {name: getattr(original, name) for name in ScopeState.__slots__}

    def fresh() -> ScopeState:
        state = ScopeState()
        for name, value in values.items():
            setattr(state, name, copy.copy(value) if isinstance(value, (dict, list)) else value)
        return state

    return fresh


def _replay(messages: list[Message], then: Callable[[], Awaitable[Message]]) -> Callable[[], Awaitable[Message]]:
    """A `receive` that gives the request's messages again, then reads on (the body may not have been read whole)."""
    pending = list(messages)

    async def replaying() -> Message:
        return pending.pop(0) if pending else await then()

    return replaying


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
