"""The SQL schema of :class:`~enrollpay.storage.sql.SqlStore`, as SQLAlchemy Core tables.

The constraints carry the store's invariants, so they hold even for a
writer that bypasses the library: one non-cancelled enrollment per user
and product (a partial unique index), unique gateway event ids,
idempotency keys and gateway payment/refund ids, non-negative amounts and
known status values. Money is a BIGINT of minor units next to a currency
column; instants are time-zone aware UTC timestamps (:class:`UTCDateTime`);
due dates are DATEs; plans, refund policies, intervals and metadata are
JSON.

The Alembic migrations in ``migrations/`` build exactly this schema (a test
compares them with :data:`metadata`).
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import ID as _ID
from enrollpay.storage.sql.metadata import metadata, not_negative, one_of
from enrollpay.storage.sql.schema_taxes import item_tax_columns

__all__ = [
    "ALL_TABLES",
    "UTCDateTime",
    "attempts",
    "audit_log",
    "customers",
    "disputes",
    "enrollments",
    "metadata",
    "outbox",
    "outbox_lease",
    "payments",
    "plan_rules",
    "products",
    "receipt_counters",
    "receipts",
    "refunds",
    "schedule_items",
    "sent_notifications",
    "sync_cursors",
    "webhook_receipts",
]


products = sa.Table(
    "enrollpay_products",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("product_type", sa.String(), nullable=False),
    sa.Column("product_id", sa.String(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("auto_assign_payment_plan", sa.Boolean(), nullable=False),
    sa.Column("payment_plan", sa.JSON(), nullable=True),
    sa.Column("offered_plans", sa.JSON(), nullable=False),
    sa.Column("refund_policy", sa.JSON(), nullable=True),
    sa.Column("service_period", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Column("seat_limit", sa.Integer(), nullable=True),  # migration 0023
    sa.UniqueConstraint("product_type", "product_id"),
    not_negative("price_minor"),
    not_negative("seat_limit"),
)

plan_rules = sa.Table(
    "enrollpay_plan_rules",
    metadata,
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("plan", sa.JSON(), nullable=False),
    sa.Column("product_types", sa.JSON(), nullable=True),
    sa.Column("min_price", sa.JSON(), nullable=True),
    sa.Column("max_price", sa.JSON(), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("product_ids", sa.JSON(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
)

customers = sa.Table(
    "enrollpay_customers",
    metadata,
    sa.Column("user_id", _ID, primary_key=True),
    sa.Column("gateway_customer_id", sa.String(), nullable=False, unique=True),
    sa.Column("payment_method_id", sa.String(), nullable=True),
)

enrollments = sa.Table(
    "enrollpay_enrollments",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    # Indexed for a student's lists (migration 0003).
    sa.Column("user_id", sa.String(), nullable=False, index=True),
    sa.Column(
        "product_id", _ID, sa.ForeignKey("enrollpay_products.id"), nullable=False, index=True
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("plan", sa.JSON(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("start_date", sa.Date(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("paused_on", sa.Date(), nullable=True),
    sa.Column("cancelled_at", UTCDateTime(), nullable=True),
    sa.Column("cancel_reason", sa.Text(), nullable=True),
    sa.Column("gateway_subscription_id", sa.String(), nullable=True, index=True),
    sa.Column("meta", sa.JSON(), nullable=False),
    sa.Column("access_granted_at", UTCDateTime(), nullable=True),
    # Days of service spent in ended pauses (migration 0006).
    sa.Column("paused_days", sa.Integer(), nullable=False, server_default="0"),
    # A trial waiting for its card (migration 0009).
    sa.Column("awaiting_payment_method", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Whether a dispute withholds access (migration 0011).
    sa.Column("dispute_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    # The discount it got (migration 0015): the list price and where it came from.
    sa.Column("list_price_minor", sa.BigInteger(), nullable=True),
    sa.Column("coupon_code", sa.String(64), nullable=True),
    sa.Column("scholarship_id", _ID, nullable=True),
    # The gateway subscription's last reported state (migration 0016).
    sa.Column("subscription_status", sa.String(32), nullable=True),
    sa.Column("subscription_as_of", UTCDateTime(), nullable=True),
    sa.Column("subscription_period_start", UTCDateTime(), nullable=True),
    sa.Column("subscription_period_end", UTCDateTime(), nullable=True),
    sa.Column("subscription_cancel_at_period_end", sa.Boolean(), nullable=True),
    sa.Column("subscription_trial_end", UTCDateTime(), nullable=True),
    one_of("status", EnrollmentStatus, "known_status"),
    not_negative("price_minor"),
    not_negative("paused_days"),
)

# At most one enrollment per (user, product) that is not cancelled.
sa.Index(
    "uq_enrollpay_enrollments_open",
    enrollments.c.user_id,
    enrollments.c.product_id,
    unique=True,
    sqlite_where=enrollments.c.status != EnrollmentStatus.CANCELLED.value,
    postgresql_where=enrollments.c.status != EnrollmentStatus.CANCELLED.value,
)

schedule_items = sa.Table(
    "enrollpay_schedule_items",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("enrollment_id", _ID, sa.ForeignKey("enrollpay_enrollments.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("due", sa.Date(), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("amount_paid_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("last_decline_code", sa.String(), nullable=True),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    # Migration 0006: when the sweep found the item overdue.
    sa.Column("overdue_at", UTCDateTime(), nullable=True),
    # Migration 0013: when the sweep reminded the payer that it falls due.
    sa.Column("reminded_at", UTCDateTime(), nullable=True),
    # Migration 0018: the invoice collecting the item, and its page; 0021: its payer (or NULL).
    sa.Column("gateway_invoice_id", sa.String(), nullable=True),
    sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
    *item_tax_columns(),  # migration 0020: the item's tax (empty: untaxed)
    sa.Column("payer_id", _ID, sa.ForeignKey("enrollpay_payers.id"), nullable=True, index=True),
    # Migration 0022: the schedule version a plan change put the item in.
    sa.Column("schedule_version", sa.Integer(), nullable=False, server_default="1"),
    sa.UniqueConstraint("enrollment_id", "seq"),
    one_of("status", ItemStatus, "known_status"),
    one_of("kind", ("deposit", "installment", "full", "period"), "known_kind"),
    not_negative("amount_minor"),
    not_negative("amount_paid_minor"),
    not_negative("failures"),
)
# What collection scans (claim_due, in (due, id) order) and what the admin and
# reports filter by (migration 0002 added the id).
sa.Index(
    "ix_enrollpay_schedule_items_status_due_id",
    schedule_items.c.status,
    schedule_items.c.due,
    schedule_items.c.id,
)

attempts = sa.Table(
    "enrollpay_payment_attempts",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "item_id", _ID, sa.ForeignKey("enrollpay_schedule_items.id"), nullable=False, index=True
    ),
    sa.Column("enrollment_id", _ID, sa.ForeignKey("enrollpay_enrollments.id"), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("idempotency_key", sa.String(), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("gateway_payment_id", sa.String(), nullable=True, unique=True),
    sa.Column("payment_method_id", sa.String(), nullable=True),
    sa.Column("decline_code", sa.String(), nullable=True),
    sa.Column("decline_class", sa.String(32), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    # Migration 0008: the declined card's brand, and whether the attempt
    # retried a decline on its payment method (what the retry caps count).
    sa.Column("card_brand", sa.String(), nullable=True),
    sa.Column("reattempt", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Migration 0018: the invoice the attempt charged, and its page.
    sa.Column("gateway_invoice_id", sa.String(), nullable=True),
    sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
    one_of("status", AttemptStatus, "known_status"),
    one_of("mode", ("on_session", "off_session"), "known_mode"),
    one_of("decline_class", DeclineClass, "known_decline_class"),
    not_negative("amount_minor"),
)
# What reconcile() lists: unknown and pending attempts, oldest first.
sa.Index(
    "ix_enrollpay_payment_attempts_status_created_at", attempts.c.status, attempts.c.created_at
)
# What the retry caps count: a user's attempts (by enrollment) on one payment method of the
# last days (migration 0008).
sa.Index(
    "ix_enrollpay_payment_attempts_enrollment_method_created",
    attempts.c.enrollment_id,
    attempts.c.payment_method_id,
    attempts.c.created_at,
)

payments = sa.Table(
    "enrollpay_payments",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "enrollment_id",
        _ID,
        sa.ForeignKey("enrollpay_enrollments.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("item_id", _ID, sa.ForeignKey("enrollpay_schedule_items.id"), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("gateway_payment_id", sa.String(), nullable=True, unique=True),
    sa.Column("attempt_id", _ID, sa.ForeignKey("enrollpay_payment_attempts.id"), nullable=True),
    sa.Column("reference", sa.Text(), nullable=True),
    sa.Column("notes", sa.Text(), nullable=True),
    sa.Column("actor", sa.String(), nullable=True),
    one_of("method", ("gateway", "cash", "check", "bank_transfer", "other"), "known_method"),
    not_negative("amount_minor"),
)

refunds = sa.Table(
    "enrollpay_refunds",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "payment_id", _ID, sa.ForeignKey("enrollpay_payments.id"), nullable=False, index=True
    ),
    sa.Column(
        "enrollment_id",
        _ID,
        sa.ForeignKey("enrollpay_enrollments.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(), nullable=True, unique=True),
    sa.Column("gateway_refund_id", sa.String(), nullable=True, unique=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("actor", sa.String(), nullable=True),
    one_of("method", ("gateway", "manual"), "known_method"),
    one_of("status", ("pending", "succeeded", "failed"), "known_status"),
    not_negative("amount_minor"),
)
sa.Index("ix_enrollpay_refunds_status_created_at", refunds.c.status, refunds.c.created_at)

# Cardholders' disputes of gateway payments (migration 0011): one row per
# gateway dispute, its stage and what the gateway last reported of it.
disputes = sa.Table(
    "enrollpay_disputes",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("payment_id", _ID, sa.ForeignKey("enrollpay_payments.id"), nullable=False),
    sa.Column(
        "enrollment_id",
        _ID,
        sa.ForeignKey("enrollpay_enrollments.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("gateway_dispute_id", sa.String(), nullable=False, unique=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("gateway_status", sa.String(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("reported_at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("evidence_due_by", UTCDateTime(), nullable=True),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    one_of("status", DisputeStatus, "known_status"),
    not_negative("amount_minor"),
)

webhook_receipts = sa.Table(
    "enrollpay_webhook_receipts",
    metadata,
    # The primary key is the uniqueness of gateway event ids.
    sa.Column("event_id", sa.String(), primary_key=True),
    sa.Column("event_type", sa.String(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("outcome", sa.String(), nullable=False),
)

audit_log = sa.Table(
    "enrollpay_audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("entity_type", sa.String(), nullable=False),
    sa.Column("entity_id", sa.String(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.CheckConstraint("seq >= 1", name="seq_positive"),
)
sa.Index("ix_enrollpay_audit_log_entity", audit_log.c.entity_type, audit_log.c.entity_id)

# Tables in modules of their own, added to this metadata on import: the outbox, its
# lease and the drift cursors (migrations 0004 and 0012); notifications sent (0013);
# coupons, redemptions and scholarships (0015); receipts (0017); price lists (0019);
# payers (0021); seats and waitlists (0023).
from enrollpay.storage.sql import discount_tables as _discounts  # noqa: E402, F401
from enrollpay.storage.sql import payer_tables as _payers  # noqa: E402, F401
from enrollpay.storage.sql import schema_prices as _prices  # noqa: E402, F401
from enrollpay.storage.sql import seat_tables as _seats  # noqa: E402, F401
from enrollpay.storage.sql.schema_notifications import sent_notifications  # noqa: E402
from enrollpay.storage.sql.schema_outbox import outbox, outbox_lease, sync_cursors  # noqa: E402
from enrollpay.storage.sql.schema_receipts import receipt_counters, receipts  # noqa: E402

#: Every table, parents before children.
ALL_TABLES = tuple(metadata.sorted_tables)
