"""Order the schedule index by id too, so claiming due items reads it in order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

``claim_due`` takes due items by (due date, id). With an index on
(status, due) alone, every claim of a batch read every due item and
sorted them all (on SQLite, 100,000 due items cost ~150 ms per batch of
100). An index on (status, due, id) hands them over in order, and a claim
stops after its batch. The new index serves every query the old one did,
which is dropped.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_enrollpay_schedule_items_status_due_id",
        "enrollpay_schedule_items",
        ["status", "due", "id"],
        unique=False,
    )
    op.drop_index("ix_enrollpay_schedule_items_status_due", table_name="enrollpay_schedule_items")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index(
        "ix_enrollpay_schedule_items_status_due",
        "enrollpay_schedule_items",
        ["status", "due"],
        unique=False,
    )
    op.drop_index(
        "ix_enrollpay_schedule_items_status_due_id", table_name="enrollpay_schedule_items"
    )
