"""The platform data set's clock on SQLite (subsidy/reports/platform.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class ExportClock(SQLModel, table=True):
    """One row: the epoch that SQLite's triggers stamp on every changed row of an exported table, moved on by each
    export. PostgreSQL stamps transaction ids instead and leaves this row alone."""

    __tablename__ = "export_clock"

    id: int | None = Field(default=None, primary_key=True)
    epoch: int = Field(default=1, sa_type=BigInteger)
