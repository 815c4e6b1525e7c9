"""Price lists: a product's explicit prices in currencies other than its default.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

``enrollpay_product_prices`` holds one row per product and extra currency
with a positive amount in minor units. It starts empty: every product
registered before this revision keeps its one price (``price_minor`` and
``currency`` on ``enrollpay_products``), and enrollments keep the price
they were sold at. The downgrade drops the table; the extra prices are
lost, the default prices and every enrollment stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_product_prices"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        _TABLE,
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f(f"ck_{_TABLE}_amount_minor_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["enrollpay_products.id"],
            name=op.f(f"fk_{_TABLE}_product_id_enrollpay_products"),
        ),
        sa.PrimaryKeyConstraint("product_id", "currency", name=op.f(f"pk_{_TABLE}")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table(_TABLE)
