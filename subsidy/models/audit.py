"""The audit log's tables: the chained entries and the one head row every audited transaction moves at commit
(the chain itself is kept by subsidy/core/audit.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field


class AuditEntry(SQLModel, table=True):
    """One change: who, when, what, before and after. `hash` = SHA-256 over the previous entry's hash and this
    entry's content, so editing or deleting any entry breaks the chain from there on (subsidy/core/audit.py)."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None, index=True)
    username: str = Field(default="", max_length=64)
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=64)
    entity_id: str = Field(default="", max_length=64)
    before: str = Field(default="", sa_type=Text)  # canonical JSON, or ""
    after: str = Field(default="", sa_type=Text)
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """A single row holding the hash of the newest entry. Appending locks it, so two writers can never chain
    onto the same predecessor (PostgreSQL: FOR UPDATE; SQLite: writers are serialised by BEGIN IMMEDIATE)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_hash: str = Field(max_length=64)
    count: int = 0
