"""Who is calling: a browser session cookie for pages, a Bearer token for the API, resolved once per request.

The lookup runs in a worker thread (it touches the database) and the user is detached from that short session, so
handlers get a plain `User` in `request.user`. Pages without a user redirect to the login page; API calls get 401.
A user who must change a temporary password can reach nothing but the change-password page and logout.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

import json

import anyio
from litestar import Request
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from subsidy.accounts import auth
from subsidy.core import db, people
from subsidy.core.scope import Scope as DataScope
from subsidy.core.settings import get_settings
from subsidy.models import User

SESSION_COOKIE = "subsidy_session"
READ_METHODS = {"GET", "HEAD"}
REQUEST_SESSION = "subsidy.session"  # the read's session, opened with the caller's lookup (`_lookup`)
PUBLIC_PREFIXES = ("/login", "/static/", "/schema", "/api/v1/auth/token", "/healthz", "/favicon.ico")
# The public page and its JSON (web/pages/public.py): anyone, and the caller is not even looked up, because the
# answer is the same for everyone and served from a cache (exact paths: nothing under them is public).
PUBLIC_PATHS = ("/public", "/api/v1/public")
PASSWORD_CHANGE_ALLOWED = ("/password", "/logout", "/static/")


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def _lookup(cookie: str | None, bearer: str | None, *, read: bool) -> tuple[User | None, people.Person | None,
                                                                       Session | None]:
    """The caller, for a page (a login session) the person and unit the header names, and for a read the request's
    own session, left open in the caller's scope with its transaction begun, for `web.deps.provide_session`.

    A read is resolved and served in one session on one connection (issue #19: two sessions cost a second pool
    checkout, and on PostgreSQL a second transaction). A write resolves the caller in a short autocommit read of its
    own: the write's session may only begin once its body has arrived (on SQLite its BEGIN IMMEDIATE takes the
    district's write lock, which an upload streaming in must not hold)."""
    for attempt in (1, 2):
        session = db.new_session(read_only=True) if read else db.new_session(single_read=True)
        keep = False
        try:
            user = auth.user_for_token(session, bearer) if bearer is not None else auth.user_for_session(session, cookie)
            person = people.of(session, user) if user is not None and bearer is None else None
            if user is not None:
                session.expunge(user)
            if read and user is not None:
                session.info["scope"] = DataScope.of(user)
                keep = True
                return user, person, session
            db.end_read(session)
            return user, person, None
        except DBAPIError as error:
            if not error.connection_invalidated or attempt == 2:
                raise
            # The server closed the connection (a restart): the pool was discarded; ask again on a new one.
        finally:
            if not keep:
                session.close()
    raise AssertionError("unreachable")


def close_request_session(scope: Scope) -> None:
    """End the session `_lookup` opened for a read whose handler never asked for it (the handler's dependency
    takes it out of the scope and ends it itself, web/deps.py)."""
    session = scope.pop(REQUEST_SESSION, None)
    if session is not None:
        try:
            db.end_read(session)
        finally:
            session.close()


class AuthenticationMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path = scope["path"]
        if path in PUBLIC_PATHS:
            scope["user"] = None
            scope["auth"] = None
            await next_app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        bearer = None
        if is_api(path):
            value = headers.get(b"authorization", b"").decode("latin-1")
            if value.lower().startswith("bearer "):
                bearer = value[7:].strip()
            cookie = None
        else:
            cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
        user = person = session = None
        if bearer or cookie:
            read = scope["method"] in READ_METHODS
            user, person, session = await anyio.to_thread.run_sync(partial(_lookup, cookie, bearer, read=read))
        if session is not None:
            scope[REQUEST_SESSION] = session
            try:
                await self._authenticated(scope, receive, send, next_app, user, person, cookie, bearer)
            finally:
                close_request_session(scope)
            return
        await self._authenticated(scope, receive, send, next_app, user, person, cookie, bearer)

    async def _authenticated(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp, user, person,
                             cookie, bearer) -> None:
        path = scope["path"]
        scope["user"] = user
        scope["person"] = person
        scope["auth"] = cookie if user is not None and not is_api(path) else bearer
        if user is None and not path.startswith(PUBLIC_PREFIXES):
            if is_api(path):
                response = ASGIResponse(
                    body=json.dumps({"detail": "未登录或令牌已失效", "status_code": 401}, ensure_ascii=False).encode(),
                    status_code=401, media_type="application/json", headers={"WWW-Authenticate": "Bearer"})
            else:
                target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
                response = _redirect(f"/login?next={quote(target)}")
            await response(scope, receive, send)
            return
        if user is not None and user.must_change_password and not is_api(path) \
                and not path.startswith(PASSWORD_CHANGE_ALLOWED):
            await _redirect("/password")(scope, receive, send)
            return
        await next_app(scope, receive, send)


def name_caller_of_unmatched(scope: Scope) -> None:
    """A page path no route matches never passes the middleware above (the router answers 404 before any), so its
    404 page would not know who is signed in and would lose the header and menu. Look the caller up from the
    session cookie for that page alone: one short read, only when a cookie is sent, nothing served with it."""
    if "user" in scope or is_api(scope["path"]):
        return
    cookie = _cookie(dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
    user, person, _ = _lookup(cookie, None, read=False) if cookie else (None, None, None)
    scope["user"], scope["person"] = user, person


def _redirect(location: str) -> ASGIResponse:
    return ASGIResponse(body=b"", status_code=303, headers={"Location": location})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def session_cookie(secret: str, *, secure: bool, max_age: int | None = None) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=secret, httponly=True, samesite="lax", secure=secure, path="/",
                  max_age=max_age)


def clear_session_cookie(secure: bool) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", httponly=True, samesite="lax", secure=secure, path="/", max_age=0)


def client_address(request: Request) -> str:
    """The address failed logins are counted against: the peer of the connection, or behind a trusted reverse proxy
    (SUBSIDY_TRUST_PROXY) the last hop of X-Forwarded-For, the one our proxy appended; earlier hops are whatever the
    client chose to send."""
    if get_settings().trust_proxy:
        hops = [hop.strip() for value in request.headers.getall("x-forwarded-for", []) for hop in value.split(",")]
        if hops and hops[-1]:
            return hops[-1]
    return request.client.host if request.client else ""
