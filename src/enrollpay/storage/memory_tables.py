"""The tables of :class:`~enrollpay.storage.memory.InMemoryStore`: plain containers of records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from enrollpay.domain.discounts import Coupon, Scholarship
from enrollpay.domain.payers import Payer
from enrollpay.domain.plans import PlanRule
from enrollpay.domain.receipts import Receipt
from enrollpay.domain.records import (
    AuditEntry,
    Customer,
    Dispute,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.domain.seats import Seat, WaitlistEntry
from enrollpay.errors import StorageError
from enrollpay.ports.sync import SyncCursor
from enrollpay.storage.memory_outbox import MemoryOutbox

__all__ = ["MemoryTables", "require"]


@attrs.define
class MemoryTables:
    """Every record the store holds, by id (rules and audit entries in order)."""

    products: dict[str, Product] = attrs.Factory(dict)
    rules: list[PlanRule] = attrs.Factory(list)
    customers: dict[str, Customer] = attrs.Factory(dict)
    enrollments: dict[str, Enrollment] = attrs.Factory(dict)
    items: dict[str, ScheduleItem] = attrs.Factory(dict)
    attempts: dict[str, PaymentAttempt] = attrs.Factory(dict)
    payments: dict[str, Payment] = attrs.Factory(dict)
    refunds: dict[str, Refund] = attrs.Factory(dict)
    disputes: dict[str, Dispute] = attrs.Factory(dict)
    receipts: dict[str, WebhookReceipt] = attrs.Factory(dict)
    audit: list[AuditEntry] = attrs.Factory(list)
    outbox: MemoryOutbox = attrs.Factory(MemoryOutbox)
    #: Drift re-sync's cursors by (gateway, kind).
    cursors: dict[tuple[str, str], SyncCursor] = attrs.Factory(dict)
    #: (event id, notification kind) -> when it was sent (see memory_notifications).
    sent_notifications: dict[tuple[str, str], datetime] = attrs.Factory(dict)
    #: Coupons by code, their redemptions (code, user, enrollment, when), scholarships by id.
    coupons: dict[str, Coupon] = attrs.Factory(dict)
    redemptions: list[tuple[str, str, str, datetime]] = attrs.Factory(list)
    scholarships: dict[str, Scholarship] = attrs.Factory(dict)
    #: Receipts and credit notes by id, in the order they were issued.
    issued_receipts: dict[str, Receipt] = attrs.Factory(dict)
    #: The last number taken in each (issuer, kind) series.
    receipt_counters: dict[tuple[str, str], int] = attrs.Factory(dict)
    #: Payers by id (issue 19: who pays, when it is not only the student).
    payers: dict[str, Payer] = attrs.Factory(dict)
    #: Seats (live and released) and waitlist entries, by id.
    seats: dict[str, Seat] = attrs.Factory(dict)
    waitlist: dict[str, WaitlistEntry] = attrs.Factory(dict)

    def copy(self) -> MemoryTables:
        """A snapshot a transaction can change without touching this one."""
        # Records are frozen, so copying the containers is a full snapshot.
        return MemoryTables(
            products=dict(self.products),
            rules=list(self.rules),
            customers=dict(self.customers),
            enrollments=dict(self.enrollments),
            items=dict(self.items),
            attempts=dict(self.attempts),
            payments=dict(self.payments),
            refunds=dict(self.refunds),
            disputes=dict(self.disputes),
            receipts=dict(self.receipts),
            audit=list(self.audit),
            outbox=self.outbox.copy(),
            cursors=dict(self.cursors),
            sent_notifications=dict(self.sent_notifications),
            coupons=dict(self.coupons),
            redemptions=list(self.redemptions),
            scholarships=dict(self.scholarships),
            issued_receipts=dict(self.issued_receipts),
            receipt_counters=dict(self.receipt_counters),
            payers=dict(self.payers),
            seats=dict(self.seats),
            waitlist=dict(self.waitlist),
        )


def require(table: dict[str, Any], key: str, what: str) -> None:
    """``StorageError`` unless the record to update is in ``table``."""
    if key not in table:
        raise StorageError(f"cannot update {what} {key!r}: it does not exist")
