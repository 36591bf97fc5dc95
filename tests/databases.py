"""Which template database a test's own database is copied from (tests/conftest.py builds them once per run)."""

from __future__ import annotations


def template_key(request, backend: str) -> str:
    """The demo comes from its template when the test asks for it and does not freeze the clock: a frozen clock
    before the demo loads gives the demo a season of that day (tests/services/settlement/test_month_end.py relies on
    it), so those tests load the demo themselves, as the `demo` fixture does when the database lacks it."""
    names = request.fixturenames
    return backend + ("+demo" if "demo" in names and "frozen" not in names else "")
