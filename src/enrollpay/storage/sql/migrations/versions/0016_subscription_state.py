"""The state of the gateway subscription that bills an enrollment.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

``enrollpay_enrollments`` gains the last state its gateway subscription
reported (``customer.subscription.*`` webhooks): the gateway's status, the
current period's start and end, whether it cancels at the period's end,
the trial's end, and when the gateway dated that report
(``subscription_as_of``), so an older webhook never overwrites a newer one.
All are empty on existing rows (no report was kept before this revision):
the next subscription webhook fills them.

The downgrade drops the columns; the states recorded since are lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_enrollments"
_COLUMNS = (
    ("subscription_status", sa.String(32)),
    ("subscription_as_of", sa.DateTime(timezone=True)),
    ("subscription_period_start", sa.DateTime(timezone=True)),
    ("subscription_period_end", sa.DateTime(timezone=True)),
    ("subscription_cancel_at_period_end", sa.Boolean()),
    ("subscription_trial_end", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Apply this revision."""
    for name, kind in _COLUMNS:
        op.add_column(_TABLE, sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
