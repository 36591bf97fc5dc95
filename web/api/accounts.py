"""API tokens (CONTRACT.md): a client trades a username and password for a bearer token, and revokes it on logout.
A failed try counts towards the same lockout as the login page, so the API is no way around it.
"""

from __future__ import annotations

from datetime import datetime

from litestar.params import JSONBody
from web.deps import DbSession
from litestar import Controller, Request, Response, post
from pydantic import BaseModel, Field

from subsidy.accounts import auth
from subsidy.core.errors import LoginRefused
from web.api import API
from web.auth import client_address
from web.errors import login_refused


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str
    role: str
    expires_at: datetime


class AuthApi(Controller):
    path = f"{API}/auth"
    tags = ["auth"]
    security = []

    @post("/token", sync_to_thread=True, status_code=200)
    def token(self, request: Request, session: DbSession, data: JSONBody[TokenRequest]) -> TokenOut | Response:
        """A bearer token for the API (the login page's throttling, and its one answer to every refusal, as 401)."""
        try:
            user, secret, expires = auth.login_token(session, data.username, data.password,
                                                     address=client_address(request))
        except LoginRefused as refusal:
            return login_refused(request, refusal)  # answered, not raised: the request commits the failure count
        return TokenOut(token=secret, role=user.role, expires_at=expires)

    @post("/logout", sync_to_thread=True, status_code=204)
    def revoke(self, request: Request, session: DbSession) -> None:
        """Revoke the token used for this call."""
        auth.revoke_token(session, request.scope.get("auth") or "")


controllers = [AuthApi]
