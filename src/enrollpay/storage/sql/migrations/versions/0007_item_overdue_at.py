"""When each schedule item was found overdue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``enrollpay_schedule_items.overdue_at`` records when the time-driven sweep
(``PaymentSystem.sweep``) found an unpaid item past its due date and the
grace days, so that ``installment.overdue`` is announced once per item.

Existing rows keep it empty: the first sweep after the upgrade finds the
items that are overdue already and announces them then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "enrollpay_schedule_items",
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enrollpay_schedule_items") as batch:
        batch.drop_column("overdue_at")
