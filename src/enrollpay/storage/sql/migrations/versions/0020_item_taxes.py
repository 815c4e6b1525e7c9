"""The tax of each schedule item.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

``enrollpay_schedule_items`` gains the tax in an item's amount
(``tax_minor``), its rate in parts per million, the jurisdiction and
whether the price included it (``tax_mode``). All are empty on existing
rows: items scheduled before this revision were not taxed. A check keeps
the four together (all set or all empty).

The downgrade drops the columns; the taxes recorded since are lost (the
amounts charged stay as they were).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_schedule_items"
_COLUMNS = (
    ("tax_minor", sa.BigInteger()),
    ("tax_rate_ppm", sa.Integer()),
    ("tax_jurisdiction", sa.String(16)),
    ("tax_mode", sa.String(16)),
)
_CHECKS = (
    ("tax_minor_not_negative", "tax_minor >= 0"),
    ("known_tax_mode", "tax_mode IN ('exclusive', 'inclusive')"),
    (
        "tax_whole",
        "(tax_minor IS NULL) = (tax_mode IS NULL)"
        " AND (tax_minor IS NULL) = (tax_rate_ppm IS NULL)"
        " AND (tax_minor IS NULL) = (tax_jurisdiction IS NULL)",
    ),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        for name, condition in _CHECKS:
            batch.create_check_constraint(op.f(f"ck_{_TABLE}_{name}"), condition)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        for name, _condition in reversed(_CHECKS):
            batch.drop_constraint(op.f(f"ck_{_TABLE}_{name}"), type_="check")
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
