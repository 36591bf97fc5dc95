"""The JSON API under /api/v1 (CONTRACT.md). Bearer tokens only: no cookies, so no CSRF."""

API = "/api/v1"
