"""Delivery to the household (配送到户): the one record of a slip's handing over at the door."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from subsidy.models.base import change_seq_field, created_at_field


class Delivery(SQLModel, table=True):
    """A slip's delivery: the day, who received it (the head or another adult, by name) and optionally the scan or
    photo of the signed copy (an attachment, kept as the contracts' are). `slip_id` is unique: a slip has at most one
    delivery whatever the concurrency (DESIGN.md invariant 9); nothing else refers to it, so other areas (the
    anomaly rule `undelivered`) read it as a plain table: slip_id, delivered_on."""

    __table_args__ = (
        # The timeliness report and the town's view read deliveries by supplier and town.
        Index("ix_delivery_supplier_town", "supplier_id", "town_id", "delivered_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slip_id: int = Field(foreign_key="slip.id", unique=True)
    # Copied from the slip (which never changes them): the reports group by them without reading the slip.
    supplier_id: int = Field(foreign_key="supplier.id")
    town_id: int = Field(foreign_key="town.id")
    delivered_on: date
    receiver: str = Field(max_length=40)
    receiver_is_head: bool = True
    photo_attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime = created_at_field()
    change_seq: int = change_seq_field()  # the platform data set's change marker (migration 0016_h_platform)
