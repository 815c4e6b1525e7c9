"""Discounts: coupons, their redemptions, scholarships, and the discount of each enrollment.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

``enrollpay_coupons`` keeps one row per coupon code with its redemption
count (``redeemed``, raised by a conditional update while it is below
``max_redemptions``; a CHECK holds the cap). ``enrollpay_coupon_redemptions``
records which enrollment (and user) redeemed a code, for once-per-student
coupons. ``enrollpay_scholarships`` keeps the reductions granted to one
student, with the reason and the administrator, and the enrollment that
used each (unique).

``enrollpay_enrollments`` gains ``list_price_minor``, ``coupon_code`` and
``scholarship_id``: empty on existing rows, which had no discount (their
price is their list price). The downgrade drops all of it; coupons,
scholarships and the record of discounts given are lost with them (the
discounted prices stay in ``price_minor``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_COUPONS = "enrollpay_coupons"
_REDEMPTIONS = "enrollpay_coupon_redemptions"
_SCHOLARSHIPS = "enrollpay_scholarships"
_ENROLLMENT_COLUMNS = ("list_price_minor", "coupon_code", "scholarship_id")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("enrollpay_enrollments") as batch:
        batch.add_column(sa.Column("list_price_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("coupon_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("scholarship_id", sa.String(), nullable=True))
    op.create_table(
        _COUPONS,
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amounts_off", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("once_per_student", sa.Boolean(), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=True),
        sa.Column("plan_kinds", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("redeemed >= 0", name=op.f(f"ck_{_COUPONS}_redeemed_not_negative")),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR redeemed <= max_redemptions",
            name=op.f(f"ck_{_COUPONS}_within_cap"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f(f"pk_{_COUPONS}")),
    )
    op.create_table(
        _REDEMPTIONS,
        sa.Column("coupon_code", sa.String(length=64), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_code"],
            [f"{_COUPONS}.code"],
            name=op.f(f"fk_{_REDEMPTIONS}_coupon_code_{_COUPONS}"),
        ),
        sa.PrimaryKeyConstraint("coupon_code", "enrollment_id", name=op.f(f"pk_{_REDEMPTIONS}")),
    )
    op.create_index(
        op.f(f"ix_{_REDEMPTIONS}_coupon_code_user_id"),
        _REDEMPTIONS,
        ["coupon_code", "user_id"],
        unique=False,
    )
    op.create_table(
        _SCHOLARSHIPS,
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=True),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_SCHOLARSHIPS}")),
        sa.UniqueConstraint("enrollment_id", name=op.f(f"uq_{_SCHOLARSHIPS}_enrollment_id")),
    )
    op.create_index(op.f(f"ix_{_SCHOLARSHIPS}_user_id"), _SCHOLARSHIPS, ["user_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f(f"ix_{_SCHOLARSHIPS}_user_id"), table_name=_SCHOLARSHIPS)
    op.drop_table(_SCHOLARSHIPS)
    op.drop_index(op.f(f"ix_{_REDEMPTIONS}_coupon_code_user_id"), table_name=_REDEMPTIONS)
    op.drop_table(_REDEMPTIONS)
    op.drop_table(_COUPONS)
    with op.batch_alter_table("enrollpay_enrollments") as batch:
        for column in reversed(_ENROLLMENT_COLUMNS):
            batch.drop_column(column)
