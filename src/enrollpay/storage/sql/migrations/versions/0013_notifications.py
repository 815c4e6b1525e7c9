"""Notifications: the log of sent notifications, and when each item's payer was reminded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09

``enrollpay_sent_notifications`` keeps one row per notification sent
(event id, notification kind, when), for the notifications handler to
skip an event that dispatch delivers again; rows older than the dedupe
window are pruned as new ones are written. It starts empty.

``enrollpay_schedule_items.reminded_at`` records when the sweep announced
an item due soon (``installment.upcoming``), so that each due date is
announced once. Existing rows keep it empty: an item due within the
reminder days at the upgrade is announced by the next sweep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_LOG = "enrollpay_sent_notifications"


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "enrollpay_schedule_items",
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        _LOG,
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "kind", name=op.f(f"pk_{_LOG}")),
    )
    op.create_index(op.f(f"ix_{_LOG}_sent_at"), _LOG, ["sent_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f(f"ix_{_LOG}_sent_at"), table_name=_LOG)
    op.drop_table(_LOG)
    with op.batch_alter_table("enrollpay_schedule_items") as batch:
        batch.drop_column("reminded_at")
