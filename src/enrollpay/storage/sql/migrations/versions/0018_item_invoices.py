"""Per-item invoices: the invoice that collects an item, and its page.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

With ``installment_collection="invoice"`` an item is collected as a gateway
invoice. ``enrollpay_schedule_items`` and ``enrollpay_payment_attempts``
gain ``gateway_invoice_id`` and ``hosted_invoice_url``, both nullable: rows
written before this revision were charged directly and keep NULL there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TABLES = ("enrollpay_schedule_items", "enrollpay_payment_attempts")


def upgrade() -> None:
    """Apply this revision."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("gateway_invoice_id", sa.String(), nullable=True))
            batch.add_column(sa.Column("hosted_invoice_url", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision (the links to invoices are dropped; the rows stay)."""
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("hosted_invoice_url")
            batch.drop_column("gateway_invoice_id")
