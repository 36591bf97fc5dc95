"""The schema is Alembic's: migrations reach head and leave nothing for autogenerate to add."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from subsidy.core import db
from subsidy.models import metadata


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert diff == []


def test_alembic_check_is_clean(db_url):
    command.check(db.alembic_config(db_url))


def test_the_app_refuses_to_start_on_an_outdated_database(tmp_path, monkeypatch):
    import pytest

    from subsidy.core.settings import get_settings
    from web.app import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    db.dispose_engines()
    with pytest.raises(SystemExit) as refused:
        create_app()
    assert "subsidy db upgrade" in str(refused.value)
    db.dispose_engines()
    get_settings.cache_clear()
