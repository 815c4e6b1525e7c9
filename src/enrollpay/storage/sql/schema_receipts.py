"""The tables of receipts (migration 0017), on the schema's :data:`~.metadata.metadata`.

``enrollpay_receipt_counters`` holds the last number taken in each
(issuer, kind) series; ``enrollpay_receipts`` the receipts and credit notes.
A number is unique per issuer and series, a payment has at most one
receipt and a refund at most one credit note, and these hold for any
writer, the library or not.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.receipts import RECEIPT_KINDS
from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import ID, metadata, not_negative, one_of

__all__ = ["receipt_counters", "receipts"]

receipt_counters = sa.Table(
    "enrollpay_receipt_counters",
    metadata,
    sa.Column("issuer", sa.String(), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("last", sa.BigInteger(), nullable=False),
    one_of("kind", RECEIPT_KINDS, "known_kind"),
    sa.CheckConstraint("last >= 1", name="last_positive"),
)

receipts = sa.Table(
    "enrollpay_receipts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("issuer", sa.String(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    sa.Column("number", sa.String(), nullable=False),
    sa.Column(
        "enrollment_id", ID, sa.ForeignKey("enrollpay_enrollments.id"), nullable=False, index=True
    ),
    sa.Column("user_id", sa.String(), nullable=False),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("product_name", sa.Text(), nullable=False),
    sa.Column("payment_id", ID, sa.ForeignKey("enrollpay_payments.id"), nullable=False),
    sa.Column("refund_id", ID, sa.ForeignKey("enrollpay_refunds.id"), nullable=True, unique=True),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("lines", sa.JSON(), nullable=False),
    sa.Column("total_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("paid_at", UTCDateTime(), nullable=False),
    sa.Column("issued_at", UTCDateTime(), nullable=False),
    sa.Column("reference", sa.Text(), nullable=True),
    sa.Column("original_receipt_id", ID, nullable=True),
    sa.Column("original_number", sa.String(), nullable=True),
    # Migration 0021: the payer who paid (or is refunded), when not the student.
    sa.Column("payer_id", ID, nullable=True),
    sa.Column("payer_name", sa.Text(), nullable=True),
    sa.UniqueConstraint("issuer", "kind", "sequence"),
    one_of("kind", RECEIPT_KINDS, "known_kind"),
    sa.CheckConstraint("sequence >= 1", name="sequence_positive"),
    not_negative("total_minor"),
)
# A payment has one receipt (its credit notes are keyed by refund).
sa.Index(
    "uq_enrollpay_receipts_payment_receipt",
    receipts.c.payment_id,
    unique=True,
    sqlite_where=receipts.c.kind == "receipt",
    postgresql_where=receipts.c.kind == "receipt",
)
