"""Index enrollments by user, for the lists a student's pages ask for.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

``list_enrollments(user_id=...)`` (a student's courses, their access
checks) had no index to use: the partial unique index on (user_id,
product_id) only covers enrollments that are not cancelled, so the
database read every enrollment. An index on user_id serves every such
list.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_enrollpay_enrollments_user_id", "enrollpay_enrollments", ["user_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_enrollpay_enrollments_user_id", table_name="enrollpay_enrollments")
