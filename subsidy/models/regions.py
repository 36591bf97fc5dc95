"""District → towns → villages."""

from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from subsidy.models.enums import Zone, check_in


class District(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=64)


class Town(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64)


class Village(SQLModel, table=True):
    __table_args__ = (CheckConstraint(check_in("zone", Zone), name="zone"),)

    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64)
    zone: str = Field(default=Zone.NORMAL, max_length=16)
