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
import json
import tempfile
from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio
from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Send
from litestar.types import Scope as ASGIScope
from litestar.utils.scope.state import CONNECTION_STATE_KEY, ScopeState
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import select
from sqlalchemy.orm import Session

from subsidy.core import db
from subsidy.core.errors import SubsidyError
from subsidy.models import Season, User
from subsidy.policy import seasons
from subsidy.core.scope import Scope
from subsidy.core.settings import get_settings
from web.auth import REQUEST_SESSION

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
    connections never got one. The COMMIT therefore runs on the event loop, as the ROLLBACK of close() always did,
    except for the sale's, which its handler ends in its own thread (`end_write`).
    Write requests open SQLite transactions IMMEDIATE; reads run in READ ONLY transactions on PostgreSQL."""
    user = request.scope.get("user")
    write = request.method in WRITE_METHODS
    # A read's session was opened with the caller's lookup, on the same connection (web/auth.py: _lookup).
    session = None if write else request.scope.pop(REQUEST_SESSION, None)
    if session is None:
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
            end_write(session)
        else:
            db.end_read(session)
    finally:
        session.close()


def end_write(session: Session) -> None:
    """The end of a write request whose handler succeeded: its COMMIT. `provide_session` runs it when the handler
    returns, on the event loop. The sale's API handler runs it itself, as its last step, in its own worker thread
    (its answer is already encoded; web/api/sales.py), and `provide_session` then finds nothing left to commit.

    Why the sale: a sale holds its supplier's number counter and batch row locked from its first write until its
    COMMIT, and every other sale of that supplier queues behind it. Committed on the loop, the COMMIT waits its turn
    among every other request's callbacks and runs one at a time there, so the locks were held for that wait too:
    at 16 concurrent sales on two suppliers, one server process, 3.4-3.5 of 3.7-3.8 active database sessions
    waited on those rows; committed in the handler's thread, 1.9-2.1 of 2.3-2.5 (bench_slips, three runs each,
    docs/benchmarks.md: "Where a sale waits"). The COMMIT stays this one function; only who calls it, and when,
    differs."""
    if session.in_transaction():
        session.commit()


async def provide_reader(request: Request) -> AsyncGenerator[Session, None]:
    """A second, read-only session in the caller's scope, for the work a write request does before its write
    transaction: reading an uploaded spreadsheet, which may take seconds, must hold no write lock meanwhile (SQLite's
    BEGIN IMMEDIATE would make every other writer of the district wait). Ended like a read, whatever happens."""
    user = request.scope.get("user")
    session = db.new_session(read_only=True, scope=Scope.of(user) if user else None)
    try:
        yield session
    finally:
        try:
            db.end_read(session)
        finally:
            session.close()


SPOOL_IN_MEMORY = 1024 * 1024  # a received body past this is kept for a replay in a temporary file, not in memory
REPLAY_CHUNK = 64 * 1024


def too_large_message(limit: int) -> str:
    return f"上传的文件过大（不能超过{limit / 1024 / 1024:g} MB），请拆分后分别上传"


class RetryWrites(ASGIMiddleware):
    """Runs a write request again, from the start, when its transaction failed in a way that wrote nothing: a
    serialization failure or deadlock on PostgreSQL (40001, 40P01), "database is locked" on SQLite, or a connection
    the server closed during a statement (`db.is_retryable`; a connection lost at COMMIT leaves the outcome unknown
    and is never run again). The request body is replayed as it was received; the answer of an attempt that will be
    retried is never sent. The handler of the failure (web/errors.py) marks the request's scope.

    The body kept for a replay is spooled (memory up to SPOOL_IN_MEMORY, then a temporary file), so that an upload
    is not held twice in memory (Litestar holds its own copy while parsing it); a body declared larger than
    `upload_max_bytes` is answered 413 before anything is read, and one that grows past it while it streams is no
    longer kept (Litestar's own limit, the same setting, then answers 413)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: ASGIScope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] not in WRITE_METHODS:
            await next_app(scope, receive, send)
            return
        limit = get_settings().upload_max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return
        body = _Spool(limit)

        async def recording() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.add(message)
            return message

        source: Callable[[], Awaitable[Message]] = recording
        before = _state_as_it_is(scope)
        try:
            for attempt in range(1, ATTEMPTS + 1):
                held: list[Message] = []

                async def holding(message: Message) -> None:
                    held.append(message)

                # Each attempt starts from the scope as it came in: Litestar keeps what it learns while handling a
                # request (the parsed body, whether the answer started) in the scope's state.
                attempt_scope = {**scope, "state": {**scope.get("state", {}), CONNECTION_STATE_KEY: before()}}
                final = attempt == ATTEMPTS or body.overflowed
                await next_app(attempt_scope, source, send if final else holding)
                if final:
                    return
                if not attempt_scope.get(RETRY) or body.overflowed:
                    for message in held:
                        await send(message)
                    return
                await anyio.sleep(0.01 * attempt)
                source = body.replay(recording)
        finally:
            body.close()


class _Spool:
    """The body of a request as received so far, for a replay."""

    def __init__(self, limit: int) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self.size = 0
        self.complete = False
        self.overflowed = False
        self.limit = limit

    def add(self, message: Message) -> None:
        if self.overflowed:
            return
        chunk = message.get("body", b"")
        self.size += len(chunk)
        if self.size > self.limit:
            self.overflowed = True  # not replayable; nothing more is kept
            self.file.close()
            return
        self.file.seek(0, 2)
        self.file.write(chunk)
        if not message.get("more_body", False):
            self.complete = True

    def replay(self, then: Callable[[], Awaitable[Message]]) -> Callable[[], Awaitable[Message]]:
        """A `receive` that gives the body again, then reads on (the body may not have been read whole)."""
        position = 0
        size, complete = self.size, self.complete
        finished = False

        async def replaying() -> Message:
            nonlocal position, finished
            if finished or self.overflowed:
                return await then()
            self.file.seek(position)
            chunk = self.file.read(min(REPLAY_CHUNK, size - position))
            position += len(chunk)
            if position >= size:
                finished = True
                if not complete:  # the rest was never read: read it on from the client
                    return {"type": "http.request", "body": chunk, "more_body": True}
                return {"type": "http.request", "body": chunk, "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        return replaying

    def close(self) -> None:
        self.file.close()


def _content_length(scope: ASGIScope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(scope: ASGIScope, send: Send, limit: int) -> None:
    message = too_large_message(limit)
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": message, "status_code": 413, "errors": {"file": message}},
                          ensure_ascii=False).encode()
        media = b"application/json"
    else:
        body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>文件过大</title></head>'
                f'<body><h1>文件过大</h1><p>{message}</p><p><a href="/">返回首页</a></p>'
                f'</body></html>').encode()
        media = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


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


def provide_user(request: Request) -> User:
    user = request.scope.get("user")
    if user is None:
        raise NotAuthorizedException("未登录")
    return user


SEASON_COOKIE = "subsidy_season"


def chosen_season_id(request: Request, session: Session) -> int | None:
    """The season chosen once at the top of the reports (the season picker, web/pages/reports.py) and remembered for
    the browser session in a cookie: its id if that season exists, else None (the active season then). Not a
    secret: it only chooses among seasons every reader of the reports may see."""
    raw = request.cookies.get(SEASON_COOKIE, "")
    if not raw.isdigit():
        return None
    return session.execute(select(Season.id).where(Season.id == int(raw))).scalar_one_or_none()


def list_season_id(request: Request, session: Session, season_id: int | None) -> int | None:
    """The season a list shows (registrations, slips): the one picked on the list (`season_id` in its query or
    form), else the one chosen for the session at the top of the reports, else None (the active one)."""
    return season_id if season_id is not None else chosen_season_id(request, session)


def listed_season(request: Request, session: Session, season_id: int | None) -> Season | None:
    """The season a list shows, as a row: `list_season_id`'s choice (NotFound for an unknown id asked for), else the
    active season, else None (no season at all yet)."""
    chosen = list_season_id(request, session, season_id)
    return seasons.season_or_active(session, chosen) if chosen is not None else seasons.active_season_or_none(session)


def season_param(season: Season | None) -> int | None:
    """The `season_id` a list's links carry: a past season's id, none for the active one (the default)."""
    return None if season is None or season.is_active else season.id


def is_secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    if get_settings().trust_proxy:
        return request.headers.get("x-forwarded-proto", "") == "https"
    return False


# Declared dependencies (Litestar 2.23+ warns on inferred ones): `session: DbSession, user: CurrentUser`.
from litestar.di import NamedDependency  # noqa: E402

DbSession = NamedDependency[Session]
ReadSession = NamedDependency[Session]  # `reader: ReadSession`: provide_reader
CurrentUser = NamedDependency[User]
