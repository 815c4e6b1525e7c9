"""Payers, and the payer who owes each schedule item.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

``enrollpay_payers`` holds the payers (parent, employer, sponsor, self)
and their gateway customer and saved method; ``payer_id`` on
``enrollpay_schedule_items`` names the payer who owes an item, and
``payer_id``/``payer_name`` on ``enrollpay_receipts`` whom a receipt or
credit note is addressed to. Rows written before this revision keep NULL
there: the student pays (and is receipted), as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_PAYERS = "enrollpay_payers"
_ITEMS = "enrollpay_schedule_items"
_RECEIPTS = "enrollpay_receipts"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        _PAYERS,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("gateway_customer_id", sa.String(), nullable=True),
        sa.Column("payment_method_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('employer', 'parent', 'self', 'sponsor')",
            name=op.f(f"ck_{_PAYERS}_known_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_PAYERS}")),
    )
    with op.batch_alter_table(_ITEMS) as batch:
        batch.add_column(sa.Column("payer_id", sa.String(), nullable=True))
        batch.create_foreign_key(
            op.f(f"fk_{_ITEMS}_payer_id_{_PAYERS}"), _PAYERS, ["payer_id"], ["id"]
        )
        batch.create_index(op.f(f"ix_{_ITEMS}_payer_id"), ["payer_id"], unique=False)
    with op.batch_alter_table(_RECEIPTS) as batch:
        batch.add_column(sa.Column("payer_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("payer_name", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table(_RECEIPTS) as batch:
        batch.drop_column("payer_name")
        batch.drop_column("payer_id")
    with op.batch_alter_table(_ITEMS) as batch:
        batch.drop_index(op.f(f"ix_{_ITEMS}_payer_id"))
        batch.drop_constraint(op.f(f"fk_{_ITEMS}_payer_id_{_PAYERS}"), type_="foreignkey")
        batch.drop_column("payer_id")
    op.drop_table(_PAYERS)
