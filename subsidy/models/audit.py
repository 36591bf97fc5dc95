"""The audit log's tables: entries, and the seals that chain them (subsidy/core/audit.py says how and why).

All three are append-only: on PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE (migration 0011).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from subsidy.models.base import created_at_field


class AuditEntry(SQLModel, table=True):
    """One change: who, when, what, before and after; `mac` = HMAC of that content under the audit key `key_id`.
    `xid` is the PostgreSQL transaction that wrote it (the sealer's horizon; NULL on SQLite)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        # The log newest first (core/audit.py: entries_page) narrowed to one user (a supplier's scope, the filter
        # 经办人), one action, or one record's history: each page an index range in id order (migration 0016_h_lists).
        Index("ix_audit_entry_user_id_id", "user_id", "id"),
        Index("ix_audit_entry_action_id", "action", "id"),
        Index("ix_audit_entry_entity_id", "entity", "entity_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    user_id: int | None = Field(default=None)  # indexed by (user_id, id)
    username: str = Field(default="", max_length=64)
    action: str = Field(max_length=64)  # indexed by (action, id)
    entity: str = Field(max_length=64)
    entity_id: str = Field(default="", max_length=64)
    before: str = Field(default="", sa_type=Text)  # canonical JSON, or ""
    after: str = Field(default="", sa_type=Text)
    key_id: str = Field(max_length=32)
    mac: str = Field(max_length=64)
    xid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, index=True))


class AuditLink(SQLModel, table=True):
    """An entry's place in the chain: `hash` covers the previous link's hash, the position, the entry's id and its
    HMAC. Each entry is linked once (unique), by the seal that took it."""

    __tablename__ = "audit_link"

    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    entry_id: int = Field(unique=True)
    seal_id: int = Field(index=True)
    hash: str = Field(max_length=64)


class AuditSeal(SQLModel, table=True):
    """One seal: the links `first_position`..`last_position`, the chain's head after them, signed with the audit key.
    `horizon` (PostgreSQL) is the oldest transaction still running when the seal looked at the entries."""

    __tablename__ = "audit_seal"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sealed_at: datetime
    first_position: int
    last_position: int
    prev_head: str = Field(max_length=64)
    head: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    horizon: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    signature: str = Field(max_length=64)
