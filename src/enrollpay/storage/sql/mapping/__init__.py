"""Explicit mapping between table rows and the frozen domain records.

Frozen, slotted attrs classes cannot be ORM-mapped, and they should not be:
each function here turns one record into the column values of its table, or
one row back into an equal record. Money is split into integer minor units
and a currency; plans, refund policies and intervals become JSON.
"""

from __future__ import annotations

from enrollpay.storage.sql.mapping.catalog import (
    customer_from_row,
    customer_to_row,
    product_from_row,
    product_to_row,
    rule_from_row,
    rule_to_row,
)
from enrollpay.storage.sql.mapping.disputes import dispute_from_row, dispute_to_row
from enrollpay.storage.sql.mapping.enrollments import (
    enrollment_from_row,
    enrollment_to_row,
    item_from_row,
    item_to_row,
)
from enrollpay.storage.sql.mapping.journal import (
    audit_from_row,
    audit_to_row,
    receipt_from_row,
    receipt_to_row,
)
from enrollpay.storage.sql.mapping.payments import (
    attempt_from_row,
    attempt_to_row,
    payment_from_row,
    payment_to_row,
    refund_from_row,
    refund_to_row,
)
from enrollpay.storage.sql.mapping.values import Row

__all__ = [
    "Row",
    "attempt_from_row",
    "attempt_to_row",
    "audit_from_row",
    "audit_to_row",
    "customer_from_row",
    "customer_to_row",
    "dispute_from_row",
    "dispute_to_row",
    "enrollment_from_row",
    "enrollment_to_row",
    "item_from_row",
    "item_to_row",
    "payment_from_row",
    "payment_to_row",
    "product_from_row",
    "product_to_row",
    "receipt_from_row",
    "receipt_to_row",
    "refund_from_row",
    "refund_to_row",
    "rule_from_row",
    "rule_to_row",
]
