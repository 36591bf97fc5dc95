"""list indexes

Every list reads a page by keyset (subsidy/core/paging.py: fetch): WHERE its filter and the scope's criteria, ORDER BY
its sort column then id, LIMIT one page. Each index below is one list's filter followed by that order, so that a page
is an index range at any depth and never a sort of every matching row (tests/services/core/test_list_plans.py checks
the plans on PostgreSQL). The single-column indexes whose column now leads a composite one are dropped: the
composite serves every lookup they served (foreign-key checks included) and each write maintains one index less.

No table is rebuilt (indexes only, no batch mode), so SQLite keeps the change triggers of 0015_h_platform.

Revision ID: 0016_h_lists
Revises: (see down_revision)
Create Date: 2026-12-03 07:40:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0016_h_lists'
down_revision: Union[str, Sequence[str], None] = '0016_h_platform'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# (table, new index, its columns)
NEW = [
    ("summary", "ix_summary_month_id", ["month", "id"]),
    ("summary", "ix_summary_town_month_id", ["town_id", "month", "id"]),
    ("summary", "ix_summary_supplier_month_id", ["supplier_id", "month", "id"]),
    ("settlement", "ix_settlement_month_id", ["month", "id"]),
    ("settlement", "ix_settlement_supplier_month_id", ["supplier_id", "month", "id"]),
    ("household", "ix_household_village_id_id", ["village_id", "id"]),
    ("household", "ix_household_head_name_id", ["head_name", "id"]),
    ("registration", "ix_registration_season_village_id", ["season_id", "village_id", "id"]),
    ("registration", "ix_registration_season_id_id", ["season_id", "id"]),
    ("oversight_case", "ix_oversight_case_town_id_id", ["town_id", "id"]),
    ("oversight_case", "ix_oversight_case_deadline_id", ["deadline", "id"]),
    ("oversight_case", "ix_oversight_case_town_deadline_id", ["town_id", "deadline", "id"]),
    ("audit_entry", "ix_audit_entry_user_id_id", ["user_id", "id"]),
    ("audit_entry", "ix_audit_entry_action_id", ["action", "id"]),
    ("audit_entry", "ix_audit_entry_entity_id", ["entity", "entity_id", "id"]),
    ("slip", "ix_slip_day", ["issued_on", "id"]),
    ("slip", "ix_slip_village_day", ["village_id", "issued_on", "id"]),
]

# (table, redundant index, its column): each now the leading column of a composite index above (or, for
# household.village_id and registration.village_id, of ix_household_village_address and ix_registration_delivery).
REDUNDANT = [
    ("summary", "ix_summary_month", "month"),
    ("summary", "ix_summary_town_id", "town_id"),
    ("summary", "ix_summary_supplier_id", "supplier_id"),
    ("settlement", "ix_settlement_supplier_id", "supplier_id"),
    ("household", "ix_household_village_id", "village_id"),
    ("household", "ix_household_head_name", "head_name"),
    ("registration", "ix_registration_season_id", "season_id"),
    ("registration", "ix_registration_village_id", "village_id"),
    ("oversight_case", "ix_oversight_case_town_id", "town_id"),
    ("audit_entry", "ix_audit_entry_user_id", "user_id"),
    ("audit_entry", "ix_audit_entry_action", "action"),
    ("slip", "ix_slip_village_id", "village_id"),
]


def upgrade() -> None:
    # The new ones first: no moment without an index for the lookups the old ones served.
    for table, name, columns in NEW:
        op.create_index(name, table, columns)
    for table, name, _ in REDUNDANT:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, column in REDUNDANT:
        op.create_index(name, table, [column])
    for table, name, _ in reversed(NEW):
        op.drop_index(name, table_name=table)
