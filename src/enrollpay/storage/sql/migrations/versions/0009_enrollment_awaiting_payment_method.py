"""Whether an enrollment is a trial that waits for its payment method.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

``enrollpay_enrollments.awaiting_payment_method`` (not null, default
false) marks a trial that collects a card at enrollment: it stays
``pending_payment``, without access, until the student saves a payment
method (the SetupIntent ``enroll`` opened, or ``update_payment_method``).

Existing rows get false: trials enrolled before this revision started
without a card and keep the status they have.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_enrollments"


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        _TABLE,
        sa.Column(
            "awaiting_payment_method", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_column("awaiting_payment_method")
