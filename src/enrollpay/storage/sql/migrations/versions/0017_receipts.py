"""Receipts and credit notes, and the counters that number them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

``enrollpay_receipt_counters`` keeps the last number taken in each
(issuer, kind) series; ``enrollpay_receipts`` the receipts of payments and
the credit notes of refunds. Both start empty: payments recorded before
this revision have no receipt (none is invented for the past), and a
credit note for a refund of such a payment names no original receipt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_KINDS = "kind IN ('credit_note', 'receipt')"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "enrollpay_receipt_counters",
        sa.Column("issuer", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(_KINDS, name=op.f("ck_enrollpay_receipt_counters_known_kind")),
        sa.CheckConstraint("last >= 1", name=op.f("ck_enrollpay_receipt_counters_last_positive")),
        sa.PrimaryKeyConstraint("issuer", "kind", name=op.f("pk_enrollpay_receipt_counters")),
    )
    op.create_table(
        "enrollpay_receipts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("issuer", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("refund_id", sa.String(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("original_receipt_id", sa.String(), nullable=True),
        sa.Column("original_number", sa.String(), nullable=True),
        sa.CheckConstraint(_KINDS, name=op.f("ck_enrollpay_receipts_known_kind")),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_enrollpay_receipts_sequence_positive")),
        sa.CheckConstraint(
            "total_minor >= 0", name=op.f("ck_enrollpay_receipts_total_minor_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_receipts_enrollment_id_enrollpay_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["enrollpay_payments.id"],
            name=op.f("fk_enrollpay_receipts_payment_id_enrollpay_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["enrollpay_refunds.id"],
            name=op.f("fk_enrollpay_receipts_refund_id_enrollpay_refunds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_receipts")),
        sa.UniqueConstraint(
            "issuer", "kind", "sequence", name=op.f("uq_enrollpay_receipts_issuer_kind_sequence")
        ),
        sa.UniqueConstraint("refund_id", name=op.f("uq_enrollpay_receipts_refund_id")),
    )
    op.create_index(
        op.f("ix_enrollpay_receipts_enrollment_id"),
        "enrollpay_receipts",
        ["enrollment_id"],
        unique=False,
    )
    op.create_index(
        "uq_enrollpay_receipts_payment_receipt",
        "enrollpay_receipts",
        ["payment_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'receipt'"),
        postgresql_where=sa.text("kind = 'receipt'"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_enrollpay_receipts_payment_receipt", table_name="enrollpay_receipts")
    op.drop_index(op.f("ix_enrollpay_receipts_enrollment_id"), table_name="enrollpay_receipts")
    op.drop_table("enrollpay_receipts")
    op.drop_table("enrollpay_receipt_counters")
