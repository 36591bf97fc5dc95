"""The settings as text: the same settings read twice print alike (the tests' app cache, tests/conftest.py, keys
its apps on that text), and no secret is ever in it (a settings object can end up in a traceback or a log)."""

from __future__ import annotations

import os

from subsidy.core.settings import get_settings


def test_the_same_settings_read_twice_print_alike_and_without_a_secret(monkeypatch):
    monkeypatch.setenv("SUBSIDY_AUDIT_OLD_KEYS", "old:retired-audit-key-not-for-production-0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://subsidy:a-database-password@db.internal/subsidy")
    get_settings.cache_clear()
    first = get_settings()
    get_settings.cache_clear()
    second = get_settings()
    get_settings.cache_clear()
    assert first is not second and first.data_keys is not second.data_keys
    assert repr(first) == repr(second)
    text = repr(second)
    secrets = [os.environ[name].partition(":")[2] for name in ("SUBSIDY_AUDIT_KEY", "SUBSIDY_DATA_KEY")]
    secrets += [os.environ["SECRET_KEY"], os.environ["SUBSIDY_LOOKUP_KEY"], "retired-audit-key", "a-database-password"]
    assert all(secret and secret not in text for secret in secrets), text
    assert "AuditKeys(current='test', ids=['test', 'old'])" in text and " at 0x" not in text
