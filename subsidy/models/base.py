"""What every table module shares: the metadata with named constraints (Alembic migrations and SQLite's batch mode
refer to constraints by name) and creation timestamps taken from `subsidy.core.clock`, so frozen tests see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData
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


def created_at_field() -> datetime:
    return Field(default_factory=clock.now, nullable=False)
