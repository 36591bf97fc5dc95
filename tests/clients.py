"""Test clients that behave like the two kinds of caller: a browser (cookies, CSRF token in every form) and a
supplier's system (bearer token, JSON)."""

from __future__ import annotations

from litestar.testing import TestClient


class _NoLifespan(TestClient):
    """Several clients share one app in a test; entering each would run (and wait on) the app's lifespan."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class PageClient(_NoLifespan):
    def __init__(self, app):
        super().__init__(app=app, raise_server_exceptions=False, base_url="http://testserver.local")

    @property
    def csrf(self) -> str:
        token = self.cookies.get("csrftoken")
        if token is None:
            self.get("/login")
            token = self.cookies.get("csrftoken")
        return token

    def submit(self, url: str, data: dict | None = None, files=None, **kwargs):
        """POST a form as the browser does, CSRF token included."""
        payload = {"_csrf_token": self.csrf, **(data or {})}
        return self.post(url, data=payload, files=files, **kwargs)

    def login(self, username: str, password: str):
        response = self.submit("/login", {"username": username, "password": password})
        assert response.status_code in (200, 303), response.text[:500]
        assert response.status_code == 303 or "登录" not in response.text or "alert-error" not in response.text, \
            f"login as {username} refused"
        return response


class ApiClient(_NoLifespan):
    def __init__(self, app):
        super().__init__(app=app, raise_server_exceptions=False, base_url="http://testserver.local")

    def authenticate(self, username: str, password: str) -> dict:
        response = self.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        self.headers["Authorization"] = f"Bearer {body['token']}"
        return body
