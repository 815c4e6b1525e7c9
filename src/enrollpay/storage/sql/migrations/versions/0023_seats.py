"""Seats: a product's seat limit, the seats taken, and the waitlist in front of them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

``enrollpay_products`` gains ``seat_limit``: empty on existing rows, which
had no limit and keep none. ``enrollpay_seats`` keeps one row per seat
taken (reserved, held or offered, and released ones as history);
``enrollpay_waitlist`` one row per student who joined a full product's
waitlist, with the offer made to them. Both start empty. The downgrade
drops all of it; the limits, seats and waitlists are lost with them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_PRODUCTS = "enrollpay_products"
_SEATS = "enrollpay_seats"
_WAITLIST = "enrollpay_waitlist"
_SEAT_STATUSES = "status IN ('held', 'offered', 'released', 'reserved')"
_ENTRY_STATUSES = "status IN ('accepted', 'expired', 'offered', 'waiting')"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(_PRODUCTS) as batch:
        batch.add_column(sa.Column("seat_limit", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f(f"ck_{_PRODUCTS}_seat_limit_not_negative"), "seat_limit >= 0"
        )
    op.create_table(
        _SEATS,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.Column("entry_id", sa.String(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_SEAT_STATUSES, name=op.f(f"ck_{_SEATS}_known_status")),
        sa.ForeignKeyConstraint(
            ["product_id"], [f"{_PRODUCTS}.id"], name=op.f(f"fk_{_SEATS}_product_id_{_PRODUCTS}")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_SEATS}")),
    )
    op.create_index(op.f(f"ix_{_SEATS}_enrollment_id"), _SEATS, ["enrollment_id"], unique=False)
    op.create_index(
        op.f(f"ix_{_SEATS}_product_id_status"), _SEATS, ["product_id", "status"], unique=False
    )
    op.create_table(
        _WAITLIST,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seat_id", sa.String(), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.CheckConstraint(_ENTRY_STATUSES, name=op.f(f"ck_{_WAITLIST}_known_status")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            [f"{_PRODUCTS}.id"],
            name=op.f(f"fk_{_WAITLIST}_product_id_{_PRODUCTS}"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_WAITLIST}")),
    )
    op.create_index(
        op.f(f"ix_{_WAITLIST}_product_id_joined_at"),
        _WAITLIST,
        ["product_id", "joined_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f(f"ix_{_WAITLIST}_product_id_joined_at"), table_name=_WAITLIST)
    op.drop_table(_WAITLIST)
    op.drop_index(op.f(f"ix_{_SEATS}_product_id_status"), table_name=_SEATS)
    op.drop_index(op.f(f"ix_{_SEATS}_enrollment_id"), table_name=_SEATS)
    op.drop_table(_SEATS)
    with op.batch_alter_table(_PRODUCTS) as batch:
        batch.drop_constraint(op.f(f"ck_{_PRODUCTS}_seat_limit_not_negative"), type_="check")
        batch.drop_column("seat_limit")
