"""An in-memory store for tests, examples and the embedded quick start.

It enforces every invariant the SQL store enforces and raises the same
library errors. A transaction works on a copy of the tables and swaps it in
on commit, so a block that raises leaves nothing behind. Transactions are
serialised by a lock, which makes the store safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import attrs

from enrollpay import reports
from enrollpay.audit import link_entry
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PlanRule
from enrollpay.domain.records import (
    AuditEntry,
    Customer,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.errors import (
    DuplicateEnrollmentError,
    DuplicateError,
    PaymentNotFoundError,
    RefundExceedsPaidError,
    StorageError,
)
from enrollpay.ports import AuditDraft, ItemQuery
from enrollpay.storage.memory_outbox import MemoryOutbox

__all__ = ["InMemoryStore"]

_PAUSED_OR_CANCELLED = frozenset({EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED})


@attrs.define
class _Tables:
    products: dict[str, Product] = attrs.Factory(dict)
    rules: list[PlanRule] = attrs.Factory(list)
    customers: dict[str, Customer] = attrs.Factory(dict)
    enrollments: dict[str, Enrollment] = attrs.Factory(dict)
    items: dict[str, ScheduleItem] = attrs.Factory(dict)
    attempts: dict[str, PaymentAttempt] = attrs.Factory(dict)
    payments: dict[str, Payment] = attrs.Factory(dict)
    refunds: dict[str, Refund] = attrs.Factory(dict)
    receipts: dict[str, WebhookReceipt] = attrs.Factory(dict)
    audit: list[AuditEntry] = attrs.Factory(list)
    outbox: MemoryOutbox = attrs.Factory(MemoryOutbox)

    def copy(self) -> _Tables:
        # Records are frozen, so copying the containers is a full snapshot.
        return _Tables(
            products=dict(self.products),
            rules=list(self.rules),
            customers=dict(self.customers),
            enrollments=dict(self.enrollments),
            items=dict(self.items),
            attempts=dict(self.attempts),
            payments=dict(self.payments),
            refunds=dict(self.refunds),
            receipts=dict(self.receipts),
            audit=list(self.audit),
            outbox=self.outbox.copy(),
        )


class InMemoryStore:
    """A :class:`~enrollpay.ports.Store` that keeps everything in this process."""

    def __init__(self) -> None:
        self._tables = _Tables()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        """A unit of work on a snapshot; swapped in when the block succeeds."""
        with self._lock:
            working = self._tables.copy()
            yield _MemoryTransaction(working)
            self._tables = working

    # Test helpers: direct access for assertions and tamper tests.
    def snapshot(self) -> dict[str, Any]:
        """Every table as plain containers (for tests asserting 'nothing written')."""
        with self._lock:
            return attrs.asdict(self._tables.copy(), recurse=False)

    def _replace_audit_entry(self, index: int, entry: AuditEntry) -> None:
        """Overwrite an audit entry in place (only tamper tests need this)."""
        with self._lock:
            self._tables.audit[index] = entry


class _MemoryTransaction:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    # products and rules ----------------------------------------------------
    def get_product(self, product_id: str) -> Product | None:
        return self._t.products.get(product_id)

    def find_product(self, product_type: str, external_id: str) -> Product | None:
        for product in self._t.products.values():
            if product.product_type == product_type and product.product_id == external_id:
                return product
        return None

    def put_product(self, product: Product) -> None:
        other = self.find_product(product.product_type, product.product_id)
        if other is not None and other.id != product.id:
            raise DuplicateError("product", (product.product_type, product.product_id))
        self._t.products[product.id] = product

    def list_products(self, *, active: bool | None = None) -> list[Product]:
        found = [p for p in self._t.products.values() if active is None or p.active == active]
        return sorted(found, key=lambda p: (p.name, p.id))

    def replace_plan_rules(self, rules: Sequence[PlanRule]) -> None:
        self._t.rules = list(rules)

    def list_plan_rules(self) -> list[PlanRule]:
        return list(self._t.rules)

    # customers ---------------------------------------------------------------
    def get_customer(self, user_id: str) -> Customer | None:
        return self._t.customers.get(user_id)

    def find_customer_by_gateway_id(self, gateway_customer_id: str) -> Customer | None:
        for customer in self._t.customers.values():
            if customer.gateway_customer_id == gateway_customer_id:
                return customer
        return None

    def put_customer(self, customer: Customer) -> None:
        for other in self._t.customers.values():
            if (
                other.gateway_customer_id == customer.gateway_customer_id
                and other.user_id != customer.user_id
            ):
                raise DuplicateError("gateway customer", customer.gateway_customer_id)
        self._t.customers[customer.user_id] = customer

    # enrollments -------------------------------------------------------------
    def add_enrollment(self, enrollment: Enrollment) -> None:
        if enrollment.id in self._t.enrollments:
            raise DuplicateError("enrollment id", enrollment.id)
        if enrollment.status != EnrollmentStatus.CANCELLED:
            existing = self.find_open_enrollment(enrollment.user_id, enrollment.product_id)
            if existing is not None:
                raise DuplicateEnrollmentError(
                    enrollment.user_id, enrollment.product_id, existing.id
                )
        self._t.enrollments[enrollment.id] = enrollment

    def get_enrollment(self, enrollment_id: str, *, for_update: bool = False) -> Enrollment | None:
        return self._t.enrollments.get(enrollment_id)

    def update_enrollment(self, enrollment: Enrollment) -> None:
        self._require(self._t.enrollments, enrollment.id, "enrollment")
        if enrollment.status != EnrollmentStatus.CANCELLED:
            existing = self.find_open_enrollment(enrollment.user_id, enrollment.product_id)
            if existing is not None and existing.id != enrollment.id:
                raise DuplicateEnrollmentError(
                    enrollment.user_id, enrollment.product_id, existing.id
                )
        self._t.enrollments[enrollment.id] = enrollment

    def find_open_enrollment(self, user_id: str, product_id: str) -> Enrollment | None:
        for enrollment in self._t.enrollments.values():
            if (
                enrollment.user_id == user_id
                and enrollment.product_id == product_id
                and enrollment.status != EnrollmentStatus.CANCELLED
            ):
                return enrollment
        return None

    def find_enrollment_by_subscription(self, subscription_id: str) -> Enrollment | None:
        for enrollment in self._t.enrollments.values():
            if enrollment.gateway_subscription_id == subscription_id:
                return enrollment
        return None

    def list_enrollments(
        self,
        *,
        user_id: str | None = None,
        product_id: str | None = None,
        statuses: frozenset[EnrollmentStatus] | None = None,
    ) -> list[Enrollment]:
        found = [
            e
            for e in self._t.enrollments.values()
            if (user_id is None or e.user_id == user_id)
            and (product_id is None or e.product_id == product_id)
            and (statuses is None or e.status in statuses)
        ]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    # schedule items ------------------------------------------------------------
    def add_items(self, items: Sequence[ScheduleItem]) -> None:
        for item in items:
            if item.id in self._t.items:
                raise DuplicateError("schedule item id", item.id)
            if any(
                other.enrollment_id == item.enrollment_id and other.seq == item.seq
                for other in self._t.items.values()
            ):
                raise DuplicateError("schedule item", (item.enrollment_id, item.seq))
            self._t.items[item.id] = item

    def get_item(self, item_id: str, *, for_update: bool = False) -> ScheduleItem | None:
        return self._t.items.get(item_id)

    def update_item(self, item: ScheduleItem) -> None:
        self._require(self._t.items, item.id, "schedule item")
        self._t.items[item.id] = item

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        found = [i for i in self._t.items.values() if i.enrollment_id == enrollment_id]
        return sorted(found, key=lambda i: i.seq)

    def list_items(self, query: ItemQuery) -> list[ScheduleItem]:
        found = []
        for item in self._t.items.values():
            enrollment = self._t.enrollments[item.enrollment_id]
            if (
                (query.statuses is None or item.status in query.statuses)
                and (query.due_from is None or item.due >= query.due_from)
                and (query.due_to is None or item.due <= query.due_to)
                and (query.product_id is None or enrollment.product_id == query.product_id)
                and (query.user_id is None or enrollment.user_id == query.user_id)
                and (query.enrollment_id is None or item.enrollment_id == query.enrollment_id)
            ):
                found.append(item)
        found.sort(key=lambda i: (i.due, i.id))
        return found if query.limit is None else found[: query.limit]

    def claim_due(
        self, *, today: date, now: datetime, lease_until: datetime, limit: int
    ) -> list[ScheduleItem]:
        candidates = []
        for item in self._t.items.values():
            if self._t.enrollments[item.enrollment_id].status in _PAUSED_OR_CANCELLED:
                continue
            if item.lease_until is not None and item.lease_until > now:
                continue
            if (
                (item.status == ItemStatus.SCHEDULED and item.due <= today)
                or (
                    item.status == ItemStatus.FAILED
                    and item.next_attempt_at is not None
                    and item.next_attempt_at <= now
                )
                or (item.status == ItemStatus.PROCESSING and item.lease_until is not None)
            ):
                candidates.append(item)
        candidates.sort(key=lambda i: (i.due, i.id))
        claimed = [attrs.evolve(i, lease_until=lease_until) for i in candidates[:limit]]
        for item in claimed:
            self._t.items[item.id] = item
        return claimed

    # attempts ------------------------------------------------------------------
    def add_attempt(self, attempt: PaymentAttempt) -> None:
        if attempt.id in self._t.attempts:
            raise DuplicateError("attempt id", attempt.id)
        if any(a.idempotency_key == attempt.idempotency_key for a in self._t.attempts.values()):
            raise DuplicateError("idempotency key", attempt.idempotency_key)
        gid = attempt.gateway_payment_id
        if gid is not None and self.find_attempt_by_gateway_id(gid) is not None:
            raise DuplicateError("gateway payment id", gid)
        self._t.attempts[attempt.id] = attempt

    def get_attempt(self, attempt_id: str, *, for_update: bool = False) -> PaymentAttempt | None:
        return self._t.attempts.get(attempt_id)

    def update_attempt(self, attempt: PaymentAttempt) -> None:
        self._require(self._t.attempts, attempt.id, "attempt")
        gid = attempt.gateway_payment_id
        if gid is not None and any(
            a.gateway_payment_id == gid and a.id != attempt.id for a in self._t.attempts.values()
        ):
            raise DuplicateError("gateway payment id", gid)
        self._t.attempts[attempt.id] = attempt

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        found = [a for a in self._t.attempts.values() if a.item_id == item_id]
        return sorted(found, key=lambda a: a.number)

    def find_attempt_by_gateway_id(self, gateway_payment_id: str) -> PaymentAttempt | None:
        for attempt in self._t.attempts.values():
            if attempt.gateway_payment_id == gateway_payment_id:
                return attempt
        return None

    def list_attempts(
        self, *, statuses: frozenset[AttemptStatus], limit: int | None = None
    ) -> list[PaymentAttempt]:
        found = sorted(
            (a for a in self._t.attempts.values() if a.status in statuses),
            key=lambda a: (a.created_at, a.id),
        )
        return found if limit is None else found[:limit]

    # payments and refunds --------------------------------------------------------
    def add_payment(self, payment: Payment) -> None:
        if payment.id in self._t.payments:
            raise DuplicateError("payment id", payment.id)
        gid = payment.gateway_payment_id
        if gid is not None and self.find_payment_by_gateway_id(gid) is not None:
            raise DuplicateError("gateway payment id", gid)
        self._t.payments[payment.id] = payment

    def get_payment(self, payment_id: str) -> Payment | None:
        return self._t.payments.get(payment_id)

    def find_payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        for payment in self._t.payments.values():
            if payment.gateway_payment_id == gateway_payment_id:
                return payment
        return None

    def payments_of(self, enrollment_id: str) -> list[Payment]:
        found = [p for p in self._t.payments.values() if p.enrollment_id == enrollment_id]
        return sorted(found, key=lambda p: (p.received_at, p.id))

    def add_refund(self, refund: Refund) -> None:
        if refund.id in self._t.refunds:
            raise DuplicateError("refund id", refund.id)
        for other in self._t.refunds.values():
            if refund.gateway_refund_id is not None and (
                other.gateway_refund_id == refund.gateway_refund_id
            ):
                raise DuplicateError("gateway refund id", refund.gateway_refund_id)
            if refund.idempotency_key is not None and (
                other.idempotency_key == refund.idempotency_key
            ):
                raise DuplicateError("refund idempotency key", refund.idempotency_key)
        payment = self._t.payments.get(refund.payment_id)
        if payment is None:
            raise PaymentNotFoundError(refund.payment_id)
        already = sum(
            r.amount.minor
            for r in self._t.refunds.values()
            if r.payment_id == refund.payment_id and r.status != "failed"
        )
        refundable = Money(payment.amount.minor - already, payment.amount.currency)
        if refund.amount.minor <= 0 or refund.amount > refundable:
            raise RefundExceedsPaidError(refund.amount, refundable)
        self._t.refunds[refund.id] = refund

    def update_refund(self, refund: Refund) -> None:
        self._require(self._t.refunds, refund.id, "refund")
        gid = refund.gateway_refund_id
        if gid is not None and any(
            r.gateway_refund_id == gid and r.id != refund.id for r in self._t.refunds.values()
        ):
            raise DuplicateError("gateway refund id", gid)
        self._t.refunds[refund.id] = refund

    def get_refund(self, refund_id: str) -> Refund | None:
        return self._t.refunds.get(refund_id)

    def list_refunds(self, *, status: str) -> list[Refund]:
        found = [r for r in self._t.refunds.values() if r.status == status]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def find_refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        for refund in self._t.refunds.values():
            if refund.gateway_refund_id == gateway_refund_id:
                return refund
        return None

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        found = [r for r in self._t.refunds.values() if r.enrollment_id == enrollment_id]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    # webhooks ----------------------------------------------------------------------
    def add_webhook_receipt(self, receipt: WebhookReceipt) -> None:
        if receipt.event_id in self._t.receipts:
            raise DuplicateError("webhook event", receipt.event_id)
        self._t.receipts[receipt.event_id] = receipt

    def get_webhook_receipt(self, event_id: str) -> WebhookReceipt | None:
        return self._t.receipts.get(event_id)

    # audit -------------------------------------------------------------------------
    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        entry = link_entry(draft, self._t.audit[-1] if self._t.audit else None)
        self._t.audit.append(entry)
        return entry

    def list_audit(
        self, *, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        return [
            e
            for e in self._t.audit
            if (entity_type is None or e.entity_type == entity_type)
            and (entity_id is None or e.entity_id == entity_id)
        ]

    # outbox (storage/memory_outbox.py) -----------------------------------------------
    def add_events(self, events: Sequence[DomainEvent]) -> None:
        self._t.outbox.add_events(events)

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        return self._t.outbox.pending_events(limit=limit)

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        return self._t.outbox.list_events(delivered=delivered, limit=limit)

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        return self._t.outbox.mark_event_delivered(event_id, holder=holder, at=at)

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        return self._t.outbox.acquire_dispatch_lease(holder=holder, now=now, until=until)

    def release_dispatch_lease(self, *, holder: str) -> None:
        self._t.outbox.release_dispatch_lease(holder=holder)

    # reports -----------------------------------------------------------------------
    def _report_data(self) -> reports.ReportData:
        t = self._t
        return reports.ReportData(
            products=tuple(t.products.values()),
            enrollments=tuple(t.enrollments.values()),
            items=tuple(t.items.values()),
            attempts=tuple(t.attempts.values()),
            payments=tuple(t.payments.values()),
            refunds=tuple(t.refunds.values()),
        )

    def report_revenue(
        self, *, by: reports.Period, date_from: date | None, date_to: date | None, timezone: str
    ) -> list[reports.RevenueRow]:
        return reports.revenue(
            self._report_data(), by=by, date_from=date_from, date_to=date_to, timezone=timezone
        )

    def report_status(self) -> reports.StatusBreakdown:
        return reports.status_breakdown(self._report_data())

    def report_products(self) -> list[reports.ProductRow]:
        return reports.product_performance(self._report_data())

    def report_aging(self, *, as_of: date) -> list[reports.AgingRow]:
        return reports.aging(self._report_data(), as_of=as_of)

    def report_forecast(self, *, date_from: date, months: int) -> list[reports.ForecastRow]:
        return reports.forecast(self._report_data(), date_from=date_from, months=months)

    def report_recovery(self) -> list[reports.RecoveryRow]:
        return reports.recovery(self._report_data())

    # helpers -----------------------------------------------------------------------
    @staticmethod
    def _require(table: dict[str, Any], key: str, what: str) -> None:
        if key not in table:
            raise StorageError(f"cannot update {what} {key!r}: it does not exist")
