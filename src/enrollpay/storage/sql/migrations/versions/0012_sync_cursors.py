"""Drift re-sync's cursors: how far the gateway's record was compared.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

``enrollpay_sync_cursors`` holds one row per gateway and kind of object
(``payments``, ``refunds``): the gateway's creation time of the newest
object the last complete walk of ``reconcile`` compared with the store.
The next walk lists from there, less the overlap window.

A database without rows here is walked from the configured look-back
(``SystemConfig.drift_lookback``) the first time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "enrollpay_sync_cursors",
        sa.Column("gateway", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gateway", "kind", name=op.f("pk_enrollpay_sync_cursors")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("enrollpay_sync_cursors")
