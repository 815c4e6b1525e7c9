"""The constant statements of the SQL store's hot paths, built once at import.

SQLAlchemy renders each once per dialect (see :mod:`.prepared`) and only
the bound values vary between calls, where building a statement per call
cost more than the database did. Statements whose shape depends on the
call (filters, ``IN`` lists) are built where they are used.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.statuses import IN_FLIGHT_ATTEMPT_STATUSES
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema import (
    attempts,
    audit_log,
    customers,
    disputes,
    enrollments,
    outbox,
    payments,
    plan_rules,
    refunds,
    schedule_items,
    webhook_receipts,
)
from enrollpay.storage.sql.schema_receipts import receipts

__all__ = [
    "ATTEMPT",
    "ATTEMPTS_OF",
    "ATTEMPTS_OF_PG",
    "ATTEMPT_BY_GATEWAY",
    "CUSTOMER",
    "CUSTOMER_BY_GATEWAY",
    "DISPUTE_BY_GATEWAY",
    "ENROLLMENT",
    "ENROLLMENT_LOCKED",
    "INSERT",
    "INSERT_NEW",
    "IN_FLIGHT_OF",
    "IN_FLIGHT_OF_LOCKED",
    "ITEM",
    "ITEMS_OF",
    "ITEMS_OF_LOCKED",
    "LAST_AUDIT",
    "OPEN_ENROLLMENT",
    "PAYMENT",
    "PAYMENT_BY_GATEWAY",
    "PLAN_RULES",
    "REATTEMPTS_ON",
    "RECEIPT",
    "REFUND",
    "REFUND_BY_GATEWAY",
    "UPDATE",
    "UPDATE_UNLESS_GID_TAKEN",
    "upsert",
]

_CANCELLED = EnrollmentStatus.CANCELLED.value


def _by(table: sa.Table, column: str) -> sa.Select[Any]:
    """``SELECT * FROM table WHERE column = :key``."""
    return sa.select(table).where(table.c[column] == sa.bindparam("key"))


def _by_key(table: sa.Table, column: str) -> Prepared:
    return Prepared(_by(table, column))


def _by_key_locked(table: sa.Table, column: str) -> tuple[Prepared, Prepared]:
    """The plain read by key and the ``FOR UPDATE`` one."""
    stmt = _by(table, column)
    return Prepared(stmt), Prepared(stmt.with_for_update())


CUSTOMER = _by_key(customers, "user_id")
CUSTOMER_BY_GATEWAY = _by_key(customers, "gateway_customer_id")
ENROLLMENT, ENROLLMENT_LOCKED = _by_key_locked(enrollments, "id")
# The status is written into the SQL, not bound: only then can the database
# match the condition to the partial unique index on (user_id, product_id)
# WHERE status != 'cancelled'. With a bound value SQLite searched every
# enrollment in the product instead (each enrollment slower than the last).
_NOT_CANCELLED = enrollments.c.status != sa.literal_column(f"'{_CANCELLED}'")
OPEN_ENROLLMENT = Prepared(
    sa.select(enrollments).where(
        enrollments.c.user_id == sa.bindparam("user"),
        enrollments.c.product_id == sa.bindparam("product"),
        _NOT_CANCELLED,
    )
)
ITEM = _by_key(schedule_items, "id")
ITEMS_OF = Prepared(_by(schedule_items, "enrollment_id").order_by(schedule_items.c.seq))
ITEMS_OF_LOCKED = Prepared(
    _by(schedule_items, "enrollment_id").order_by(schedule_items.c.seq).with_for_update()
)
ATTEMPT = _by_key(attempts, "id")
ATTEMPT_BY_GATEWAY = _by_key(attempts, "gateway_payment_id")
ATTEMPTS_OF = Prepared(_by(attempts, "item_id").order_by(attempts.c.number, attempts.c.id))
# PostgreSQL's default collation does not order by code point, as Python does.
ATTEMPTS_OF_PG = Prepared(
    _by(attempts, "item_id").order_by(attempts.c.number, attempts.c.id.collate("C"))
)
# An enrollment's attempts in flight, by item then number (through the item_id index).
_IN_FLIGHT = (
    sa.select(attempts)
    .join(schedule_items, schedule_items.c.id == attempts.c.item_id)
    .where(
        schedule_items.c.enrollment_id == sa.bindparam("key"),
        attempts.c.status.in_(
            [sa.literal_column(f"'{s.value}'") for s in sorted(IN_FLIGHT_ATTEMPT_STATUSES)]
        ),
    )
    .order_by(schedule_items.c.seq, attempts.c.number)
)
IN_FLIGHT_OF = Prepared(_IN_FLIGHT)
IN_FLIGHT_OF_LOCKED = Prepared(_IN_FLIGHT.with_for_update(of=attempts))
#: When the reattempts on a user's payment method were made after a time (the retry caps):
#: through the user's enrollments (by the user index), then the attempts index.
REATTEMPTS_ON = Prepared(
    sa.select(attempts.c.created_at)
    .where(
        attempts.c.enrollment_id.in_(
            sa.select(enrollments.c.id).where(enrollments.c.user_id == sa.bindparam("user"))
        ),
        attempts.c.payment_method_id == sa.bindparam("key"),
        attempts.c.created_at > sa.bindparam("since"),
        attempts.c.reattempt.is_(sa.true()),
    )
    .order_by(attempts.c.created_at)
)
PAYMENT = _by_key(payments, "id")
PAYMENT_BY_GATEWAY = _by_key(payments, "gateway_payment_id")
REFUND = _by_key(refunds, "id")
REFUND_BY_GATEWAY = _by_key(refunds, "gateway_refund_id")
RECEIPT = _by_key(webhook_receipts, "event_id")
DISPUTE_BY_GATEWAY = _by_key(disputes, "gateway_dispute_id")
LAST_AUDIT = Prepared(sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(1))
#: ``INSERT`` per table; the row's keys name the columns.
INSERT = {t.name: Prepared(sa.insert(t)) for t in (refunds, audit_log, schedule_items, outbox)}
PLAN_RULES = Prepared(sa.select(plan_rules).order_by(plan_rules.c.position))
#: ``INSERT ... ON CONFLICT DO NOTHING`` per table and dialect (True: PostgreSQL).
INSERT_NEW: dict[tuple[str, bool], Prepared] = {
    (t.name, pg): Prepared(
        (postgresql.insert(t) if pg else sqlite.insert(t))
        .on_conflict_do_nothing()
        .returning(sa.literal_column("1"))
    )
    for t in (enrollments, attempts, payments, webhook_receipts, outbox, disputes, receipts)
    for pg in (False, True)
}
_OTHER_ATTEMPT = attempts.alias("other")
#: ``UPDATE`` of an attempt that gets its gateway payment id, unless another has it.
UPDATE_UNLESS_GID_TAKEN = Prepared(
    sa.update(attempts)
    .where(attempts.c.id == sa.bindparam("key_"))
    .where(
        ~sa.exists().where(
            _OTHER_ATTEMPT.c.gateway_payment_id == sa.bindparam("gid_"),
            _OTHER_ATTEMPT.c.id != sa.bindparam("key_"),
        )
    )
)
#: ``UPDATE table SET <the row's other keys> WHERE key = :key_`` per table.
UPDATE = {
    t.name: Prepared(sa.update(t).where(t.c[key] == sa.bindparam("key_")))
    for t, key in (
        (enrollments, "id"),
        (schedule_items, "id"),
        (attempts, "id"),
        (refunds, "id"),
        (disputes, "id"),
    )
}
#: ``INSERT ... ON CONFLICT (key) DO UPDATE`` per (table, dialect, columns), built on first use.
_UPSERT: dict[tuple[str, bool, tuple[str, ...]], Prepared] = {}


def upsert(table: sa.Table, key: str, columns: tuple[str, ...], *, pg: bool) -> Prepared:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of ``columns``, built once per shape."""
    shape = (table.name, pg, columns)
    stmt = _UPSERT.get(shape)
    if stmt is None:
        insert = postgresql.insert(table) if pg else sqlite.insert(table)
        stmt = _UPSERT[shape] = Prepared(
            insert.on_conflict_do_update(
                index_elements=[table.c[key]],
                set_={name: insert.excluded[name] for name in columns if name != key},
            )
        )
    return stmt
