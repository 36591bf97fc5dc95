"""Alembic environment: the database URL comes from DATABASE_URL (or the caller), never from alembic.ini."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from subsidy.core.db import make_engine, normalise_url
from subsidy.models import metadata
from subsidy.models.base import include_object_on
from subsidy.core.settings import get_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _render_item(type_, obj, autogen_context):
    # SQLModel's AutoString is a plain VARCHAR: render it as sa.String so revisions need no sqlmodel import.
    if type_ == "type" and obj.__class__.__name__ == "AutoString":
        length = getattr(obj, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def run_migrations() -> None:
    url = config.attributes.get("database_url") or normalise_url(get_settings().database_url)
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite needs batch mode for ALTERs: without it a column type change was half applied (column added, version
        # not moved) and the next upgrade failed with "duplicate column".
        render_as_batch=True,
        render_item=_render_item,
        compare_type=True,
        include_object=include_object_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
