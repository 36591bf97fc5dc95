"""What every table module shares: the metadata with named constraints (Alembic migrations and SQLite's batch mode
refer to constraints by name) and creation timestamps taken from `subsidy.core.clock`, so frozen tests see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, MetaData
from sqlmodel import Field, SQLModel

from subsidy.core import clock

# Named constraints, so that Alembic migrations (and SQLite batch mode) can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def postgresql_only(index: Index) -> Index:
    """An index that only PostgreSQL has (a pg_trgm GIN index, say): created by create_all and by migrations on
    PostgreSQL alone, and left out of autogenerate's comparison on other databases (`include_object`)."""
    return index.ddl_if(dialect="postgresql")


def include_object_on(dialect: str):
    """Alembic's `include_object` filter for a database of `dialect`: an index of `postgresql_only` is compared on
    PostgreSQL alone (migrations/env.py and tests/test_migrations.py give it to autogenerate)."""
    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None) if type_ == "index" and not reflected else None
        return ddl_if is None or ddl_if.dialect in (None, dialect)
    return include_object


def created_at_field() -> datetime:
    return Field(default_factory=clock.now, nullable=False)


def change_seq_field(*, index: bool = True) -> int:
    """The change marker of a table in the platform data set (subsidy/reports/platform.py): set by a trigger on every
    INSERT and UPDATE (migrations 0015_h_platform, 0016_h_platform), never by the application; 0 for rows written
    before it existed."""
    return Field(default=0, sa_type=BigInteger, index=index, sa_column_kwargs={"server_default": "0"})
