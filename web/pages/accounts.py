"""Login, logout and password change."""

from __future__ import annotations

from typing import Annotated

from litestar.params import FromQuery
from web.deps import CurrentUser, DbSession
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template


from subsidy.accounts import auth
from subsidy.core.errors import Refused
from web.auth import clear_session_cookie, client_address, session_cookie
from web.deps import is_secure
from web.forms import FORM, discard, refused


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//") and not target.startswith("/login"):
        return target
    return "/"


class AuthController(Controller):
    path = "/"
    include_in_schema = False

    @get("/login", sync_to_thread=False)
    def login_page(self, request: Request, next: FromQuery[str | None] = None) -> Template:
        return Template("auth/login.html", context={"form": {"next": next or ""}})

    @post("/login", sync_to_thread=True)
    def login(self, request: Request, session: DbSession, data: Annotated[dict, FORM]) -> Template | Redirect:
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        result = auth.authenticate(session, username, password, address=client_address(request))
        if result.user is None:  # the page is rendered, not raised: the request commits the failure count (lockout)
            return refused("auth/login.html", Refused(result.refusal),
                           {"username": username, "next": data.get("next", "")})
        secret = auth.start_session(session, result.user, request.headers.get("user-agent", ""))
        target = "/password" if result.user.must_change_password else _safe_next(data.get("next"))
        return Redirect(target, status_code=303, cookies=[session_cookie(secret, secure=is_secure(request))])

    @post("/logout", sync_to_thread=True)
    def logout(self, request: Request, session: DbSession) -> Redirect:
        secret = request.scope.get("auth")
        auth.end_session(session, secret)
        return Redirect("/login", status_code=303, cookies=[clear_session_cookie(is_secure(request))])

    @get("/password", sync_to_thread=False)
    def password_page(self, user: CurrentUser) -> Template:
        return Template("auth/password.html", context={"form": {}, "forced": user.must_change_password})

    @post("/password", sync_to_thread=True)
    def change_password(self, request: Request, session: DbSession, user: CurrentUser,
                        data: Annotated[dict, FORM]) -> Template | Redirect:
        if data.get("new_password") != data.get("confirm_password"):
            return refused("auth/password.html", Refused("两次输入的新密码不一致", field="confirm_password"),
                           forced=user.must_change_password)
        try:
            auth.change_password(session, session.merge(user), old_password=str(data.get("old_password", "")),
                                 new_password=str(data.get("new_password", "")), keep_secret=request.scope.get("auth"))
        except Refused as error:
            discard(session)
            return refused("auth/password.html", error, forced=user.must_change_password)
        return Redirect("/?changed=1", status_code=303)


controllers = [AuthController]
