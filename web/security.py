"""Headers every answer carries, so that a browser does not keep, frame, sniff or script what the server did not mean.

- `Cache-Control: no-store` on everything but `/static/` and the public page: pages and API answers carry whole ID
  numbers and phones for the roles that see them, and spreadsheets carry them too; none of it may stay in a browser's
  or a proxy's cache on a shared office computer. The one exception: a successful answer of `/public` or
  `/api/v1/public` (exactly those paths) carries `Cache-Control: public, max-age=60`, so that browsers and proxies
  share the load of a crowd. They hold no personal data (subsidy/reports/public.py reads none) and are the same for
  every caller (web/pages/public.py); their errors stay no-store.
- `Content-Security-Policy`: scripts only from this server's `/static/` (no inline script, no `on…=` attribute:
  `tests/web/test_security_headers.py` holds the templates to that), no plugins, no framing, forms post only here.
  Inline `style` stays allowed: the print layouts size the five copies with it, and a style cannot run code.
- `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`, `X-Content-Type-Options: nosniff` so that
  an uploaded scan served back is never run as a script, `Referrer-Policy: same-origin` so that no URL leaves the site.
"""

from __future__ import annotations

import json

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_ALWAYS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NO_STORE = (b"cache-control", b"no-store")
PUBLIC_PATHS = frozenset({"/public", "/api/v1/public"})
_PUBLIC = (b"cache-control", b"public, max-age=60")  # web/pages/public.py: TTL_SECONDS


_NOT_FOUND = json.dumps({"detail": "页面或记录不存在", "status_code": 404}, ensure_ascii=False).encode()


def _has_control_character(path: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in path)


class SecurityHeaders:
    """Wraps the whole Litestar app (not a route's middleware), so that every answer carries the headers: also a 404
    for a path no route matches, and an error answered by the exception handlers. A path with a control character
    names nothing here and is answered 404 before any handler sees it (a NUL reached the file system's `stat` and
    came back as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")
        public = scope["path"] in PUBLIC_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                given = {name.lower() for name, _ in headers}
                added = [h for h in _ALWAYS if h[0] not in given]
                if not cacheable:
                    # Replaces whatever a handler said: nothing but static files and the public page may be kept.
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    added.append(_PUBLIC if public and message["status"] == 200 else _NO_STORE)
                message["headers"] = [*headers, *added]
            await send(message)

        if _has_control_character(scope["path"]):
            await send_with_headers({"type": "http.response.start", "status": 404,
                                     "headers": [(b"content-type", b"application/json; charset=utf-8")]})
            await send({"type": "http.response.body", "body": _NOT_FOUND})
            return
        await self.app(scope, receive, send_with_headers)
