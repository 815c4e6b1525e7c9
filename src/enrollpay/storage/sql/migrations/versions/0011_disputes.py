"""Disputes of gateway payments, and the access they withhold.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-10

``enrollpay_disputes`` keeps one row per gateway dispute (Stripe's
``du_...``/``dp_...``): the payment it disputes, its enrollment, the
disputed amount, its stage (``status``, one of the library's dispute
statuses) beside the gateway's own word for it, the evidence due date,
and when the gateway dated the latest report applied (``reported_at``),
so an older webhook never overwrites a newer one.

``enrollpay_enrollments.dispute_hold`` says whether a dispute withholds
the student's access (the enrollment is ``suspended`` while it is set).
Existing rows get ``false``: no dispute was recorded before this revision.

The downgrade drops both; the disputes recorded since are lost with them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_STATUSES = ("funds_withdrawn", "inquiry", "inquiry_closed", "lost", "open", "won")


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "enrollpay_enrollments",
        sa.Column("dispute_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "enrollpay_disputes",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("gateway_dispute_id", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("gateway_status", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in _STATUSES)),
            name=op.f("ck_enrollpay_disputes_known_status"),
        ),
        sa.CheckConstraint(
            "amount_minor >= 0", name=op.f("ck_enrollpay_disputes_amount_minor_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_disputes_enrollment_id_enrollpay_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["enrollpay_payments.id"],
            name=op.f("fk_enrollpay_disputes_payment_id_enrollpay_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_disputes")),
        sa.UniqueConstraint(
            "gateway_dispute_id", name=op.f("uq_enrollpay_disputes_gateway_dispute_id")
        ),
    )
    op.create_index(
        op.f("ix_enrollpay_disputes_enrollment_id"),
        "enrollpay_disputes",
        ["enrollment_id"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_enrollpay_disputes_enrollment_id"), table_name="enrollpay_disputes")
    op.drop_table("enrollpay_disputes")
    with op.batch_alter_table("enrollpay_enrollments") as batch:
        batch.drop_column("dispute_hold")
