"""The discount tables (migration 0015): coupons, their redemptions, scholarships.

Kept beside :mod:`.schema` (which imports this module, so the tables are on
its metadata). A coupon's ``redeemed`` count is raised by a conditional
``UPDATE ... WHERE redeemed < max_redemptions`` inside the enrollment's
transaction (see :mod:`.discounts`); the CHECK below holds the cap even for
a writer that bypasses the library. Amounts off are JSON (one per
currency); a percentage is an integer of basis points.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import ID, metadata, not_negative

__all__ = ["coupon_redemptions", "coupons", "scholarships"]

coupons = sa.Table(
    "enrollpay_coupons",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("percent_off", sa.Integer(), nullable=True),
    sa.Column("amounts_off", sa.JSON(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("max_redemptions", sa.Integer(), nullable=True),
    sa.Column("once_per_student", sa.Boolean(), nullable=False),
    sa.Column("product_ids", sa.JSON(), nullable=True),
    sa.Column("plan_kinds", sa.JSON(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("redeemed", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=True),
    not_negative("redeemed"),
    sa.CheckConstraint("max_redemptions IS NULL OR redeemed <= max_redemptions", name="within_cap"),
)

coupon_redemptions = sa.Table(
    "enrollpay_coupon_redemptions",
    metadata,
    sa.Column(
        "coupon_code", sa.String(64), sa.ForeignKey("enrollpay_coupons.code"), primary_key=True
    ),
    sa.Column("enrollment_id", ID, primary_key=True),
    sa.Column("user_id", ID, nullable=False),
    sa.Column("redeemed_at", UTCDateTime(), nullable=False),
)
# Once per student: the redemptions of one code by one user.
sa.Index(
    "ix_enrollpay_coupon_redemptions_coupon_code_user_id",
    coupon_redemptions.c.coupon_code,
    coupon_redemptions.c.user_id,
)

scholarships = sa.Table(
    "enrollpay_scholarships",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, nullable=False, index=True),
    sa.Column("product_id", ID, nullable=True),
    sa.Column("percent_off", sa.Integer(), nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("granted_by", sa.String(), nullable=False),
    sa.Column("granted_at", UTCDateTime(), nullable=False),
    sa.Column("enrollment_id", ID, nullable=True, unique=True),
)
