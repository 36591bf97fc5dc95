"""A `db_url` fixture on SQLite alone, for suites that are slow per backend and test no database behaviour of their
own (the browser tests, the API fuzz test). Import it into a conftest or test module to override the two-backend
`db_url` of tests/conftest.py:

    from tests.sqlite_only import db_url  # noqa: F401
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from subsidy.core import db
from subsidy.core.settings import get_settings
from tests.databases import template_key


@pytest.fixture
def db_url(request, templates, tmp_path, monkeypatch) -> Iterator[str]:
    target = tmp_path / "test.db"
    shutil.copy(templates[template_key(request, "sqlite")], target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.dispose_engines()
    yield url
    db.dispose_engines()
    get_settings.cache_clear()
