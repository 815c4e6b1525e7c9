"""Initial schema: every enrollpay table, constraint and index.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27

Instants are ``timestamp with time zone`` (SQLite: text in UTC, see
``schema.UTCDateTime``); money is BIGINT minor units plus a currency.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "enrollpay_audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("entity_type", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_enrollpay_audit_log_seq_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_enrollpay_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_enrollpay_audit_log_hash")),
    )
    op.create_index(
        "ix_enrollpay_audit_log_entity",
        "enrollpay_audit_log",
        ["entity_type", "entity_id"],
        unique=False,
    )

    op.create_table(
        "enrollpay_customers",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("gateway_customer_id", sa.String(), nullable=False),
        sa.Column("payment_method_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_enrollpay_customers")),
        sa.UniqueConstraint(
            "gateway_customer_id", name=op.f("uq_enrollpay_customers_gateway_customer_id")
        ),
    )
    op.create_table(
        "enrollpay_plan_rules",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("product_types", sa.JSON(), nullable=True),
        sa.Column("min_price", sa.JSON(), nullable=True),
        sa.Column("max_price", sa.JSON(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("product_ids", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_enrollpay_plan_rules")),
    )
    op.create_table(
        "enrollpay_products",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("product_type", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("auto_assign_payment_plan", sa.Boolean(), nullable=False),
        sa.Column("payment_plan", sa.JSON(), nullable=True),
        sa.Column("offered_plans", sa.JSON(), nullable=False),
        sa.Column("refund_policy", sa.JSON(), nullable=True),
        sa.Column("service_period", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "price_minor >= 0", name=op.f("ck_enrollpay_products_price_minor_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_products")),
        sa.UniqueConstraint(
            "product_type", "product_id", name=op.f("uq_enrollpay_products_product_type_product_id")
        ),
    )
    op.create_table(
        "enrollpay_webhook_receipts",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_enrollpay_webhook_receipts")),
    )
    op.create_table(
        "enrollpay_enrollments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_on", sa.Date(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("gateway_subscription_id", sa.String(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'completed', 'past_due', 'paused', "
            "'pending_payment', 'suspended')",
            name=op.f("ck_enrollpay_enrollments_known_status"),
        ),
        sa.CheckConstraint(
            "price_minor >= 0", name=op.f("ck_enrollpay_enrollments_price_minor_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["enrollpay_products.id"],
            name=op.f("fk_enrollpay_enrollments_product_id_enrollpay_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_enrollments")),
    )
    op.create_index(
        op.f("ix_enrollpay_enrollments_gateway_subscription_id"),
        "enrollpay_enrollments",
        ["gateway_subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_enrollpay_enrollments_product_id"),
        "enrollpay_enrollments",
        ["product_id"],
        unique=False,
    )
    op.create_index(
        "uq_enrollpay_enrollments_open",
        "enrollpay_enrollments",
        ["user_id", "product_id"],
        unique=True,
        sqlite_where=sa.text("status != 'cancelled'"),
        postgresql_where=sa.text("status != 'cancelled'"),
    )

    op.create_table(
        "enrollpay_schedule_items",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_decline_code", sa.String(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('deposit', 'full', 'installment', 'period')",
            name=op.f("ck_enrollpay_schedule_items_known_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('cancelled', 'defaulted', 'failed', 'paid', 'paused', 'processing', "
            "'requires_action', 'requires_payment_method', 'scheduled', 'waived')",
            name=op.f("ck_enrollpay_schedule_items_known_status"),
        ),
        sa.CheckConstraint(
            "amount_minor >= 0", name=op.f("ck_enrollpay_schedule_items_amount_minor_not_negative")
        ),
        sa.CheckConstraint(
            "amount_paid_minor >= 0",
            name=op.f("ck_enrollpay_schedule_items_amount_paid_minor_not_negative"),
        ),
        sa.CheckConstraint(
            "failures >= 0", name=op.f("ck_enrollpay_schedule_items_failures_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_schedule_items_enrollment_id_enrollpay_enrollments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_schedule_items")),
        sa.UniqueConstraint(
            "enrollment_id", "seq", name=op.f("uq_enrollpay_schedule_items_enrollment_id_seq")
        ),
    )
    op.create_index(
        "ix_enrollpay_schedule_items_status_due",
        "enrollpay_schedule_items",
        ["status", "due"],
        unique=False,
    )

    op.create_table(
        "enrollpay_payment_attempts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway_payment_id", sa.String(), nullable=True),
        sa.Column("payment_method_id", sa.String(), nullable=True),
        sa.Column("decline_code", sa.String(), nullable=True),
        sa.Column("decline_class", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "decline_class IN ('authentication_required', 'hard', 'soft', 'unknown')",
            name=op.f("ck_enrollpay_payment_attempts_known_decline_class"),
        ),
        sa.CheckConstraint(
            "mode IN ('off_session', 'on_session')",
            name=op.f("ck_enrollpay_payment_attempts_known_mode"),
        ),
        sa.CheckConstraint(
            "status IN ('failed', 'pending', 'requires_action', 'succeeded', 'unknown')",
            name=op.f("ck_enrollpay_payment_attempts_known_status"),
        ),
        sa.CheckConstraint(
            "amount_minor >= 0",
            name=op.f("ck_enrollpay_payment_attempts_amount_minor_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_payment_attempts_enrollment_id_enrollpay_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["enrollpay_schedule_items.id"],
            name=op.f("fk_enrollpay_payment_attempts_item_id_enrollpay_schedule_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_payment_attempts")),
        sa.UniqueConstraint(
            "gateway_payment_id", name=op.f("uq_enrollpay_payment_attempts_gateway_payment_id")
        ),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_enrollpay_payment_attempts_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_enrollpay_payment_attempts_item_id"),
        "enrollpay_payment_attempts",
        ["item_id"],
        unique=False,
    )
    op.create_index(
        "ix_enrollpay_payment_attempts_status_created_at",
        "enrollpay_payment_attempts",
        ["status", "created_at"],
        unique=False,
    )

    op.create_table(
        "enrollpay_payments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway_payment_id", sa.String(), nullable=True),
        sa.Column("attempt_id", sa.String(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.CheckConstraint(
            "method IN ('bank_transfer', 'cash', 'check', 'gateway', 'other')",
            name=op.f("ck_enrollpay_payments_known_method"),
        ),
        sa.CheckConstraint(
            "amount_minor >= 0", name=op.f("ck_enrollpay_payments_amount_minor_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["enrollpay_payment_attempts.id"],
            name=op.f("fk_enrollpay_payments_attempt_id_enrollpay_payment_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_payments_enrollment_id_enrollpay_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["enrollpay_schedule_items.id"],
            name=op.f("fk_enrollpay_payments_item_id_enrollpay_schedule_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_payments")),
        sa.UniqueConstraint(
            "gateway_payment_id", name=op.f("uq_enrollpay_payments_gateway_payment_id")
        ),
    )
    op.create_index(
        op.f("ix_enrollpay_payments_enrollment_id"),
        "enrollpay_payments",
        ["enrollment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_enrollpay_payments_received_at"),
        "enrollpay_payments",
        ["received_at"],
        unique=False,
    )

    op.create_table(
        "enrollpay_refunds",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("gateway_refund_id", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.CheckConstraint(
            "method IN ('gateway', 'manual')", name=op.f("ck_enrollpay_refunds_known_method")
        ),
        sa.CheckConstraint(
            "status IN ('failed', 'pending', 'succeeded')",
            name=op.f("ck_enrollpay_refunds_known_status"),
        ),
        sa.CheckConstraint(
            "amount_minor >= 0", name=op.f("ck_enrollpay_refunds_amount_minor_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollpay_enrollments.id"],
            name=op.f("fk_enrollpay_refunds_enrollment_id_enrollpay_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["enrollpay_payments.id"],
            name=op.f("fk_enrollpay_refunds_payment_id_enrollpay_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_refunds")),
        sa.UniqueConstraint(
            "gateway_refund_id", name=op.f("uq_enrollpay_refunds_gateway_refund_id")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_enrollpay_refunds_idempotency_key")),
    )
    op.create_index(
        op.f("ix_enrollpay_refunds_enrollment_id"),
        "enrollpay_refunds",
        ["enrollment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_enrollpay_refunds_payment_id"), "enrollpay_refunds", ["payment_id"], unique=False
    )
    op.create_index(
        "ix_enrollpay_refunds_status_created_at",
        "enrollpay_refunds",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_enrollpay_refunds_status_created_at", table_name="enrollpay_refunds")
    op.drop_index(op.f("ix_enrollpay_refunds_payment_id"), table_name="enrollpay_refunds")
    op.drop_index(op.f("ix_enrollpay_refunds_enrollment_id"), table_name="enrollpay_refunds")

    op.drop_table("enrollpay_refunds")
    op.drop_index(op.f("ix_enrollpay_payments_received_at"), table_name="enrollpay_payments")
    op.drop_index(op.f("ix_enrollpay_payments_enrollment_id"), table_name="enrollpay_payments")

    op.drop_table("enrollpay_payments")
    op.drop_index(
        "ix_enrollpay_payment_attempts_status_created_at", table_name="enrollpay_payment_attempts"
    )
    op.drop_index(
        op.f("ix_enrollpay_payment_attempts_item_id"), table_name="enrollpay_payment_attempts"
    )

    op.drop_table("enrollpay_payment_attempts")
    op.drop_index("ix_enrollpay_schedule_items_status_due", table_name="enrollpay_schedule_items")

    op.drop_table("enrollpay_schedule_items")
    op.drop_index("uq_enrollpay_enrollments_open", table_name="enrollpay_enrollments")
    op.drop_index(op.f("ix_enrollpay_enrollments_product_id"), table_name="enrollpay_enrollments")
    op.drop_index(
        op.f("ix_enrollpay_enrollments_gateway_subscription_id"), table_name="enrollpay_enrollments"
    )

    op.drop_table("enrollpay_enrollments")
    op.drop_table("enrollpay_webhook_receipts")
    op.drop_table("enrollpay_products")
    op.drop_table("enrollpay_plan_rules")
    op.drop_table("enrollpay_customers")
    op.drop_index("ix_enrollpay_audit_log_entity", table_name="enrollpay_audit_log")

    op.drop_table("enrollpay_audit_log")
