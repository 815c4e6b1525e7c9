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

from enrollpay.audit import link_entry
from enrollpay.domain.dunning import charged_automatically
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.plans import PlanRule
from enrollpay.domain.records import (
    AuditEntry,
    Customer,
    Enrollment,
    PaymentAttempt,
    Product,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.domain.statuses import IN_FLIGHT_ATTEMPT_STATUSES
from enrollpay.errors import (
    DuplicateEnrollmentError,
    DuplicateError,
)
from enrollpay.ports import AuditDraft, ItemQuery, LockedEnrollment, StoreReader
from enrollpay.storage.memory_discounts import MemoryDiscounts
from enrollpay.storage.memory_disputes import MemoryDisputes
from enrollpay.storage.memory_notifications import MemoryNotificationLog
from enrollpay.storage.memory_outbox import MemoryOutboxRepository
from enrollpay.storage.memory_payers import MemoryPayers
from enrollpay.storage.memory_payments import MemoryPayments
from enrollpay.storage.memory_receipts import MemoryReceipts
from enrollpay.storage.memory_reports import MemoryReports
from enrollpay.storage.memory_seats import MemorySeats
from enrollpay.storage.memory_sync import MemorySync
from enrollpay.storage.memory_tables import MemoryTables, require
from enrollpay.storage.schedule_versions import replace_open_items

__all__ = ["InMemoryStore"]

_PAUSED_OR_CANCELLED = frozenset({EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED})


class InMemoryStore:
    """A :class:`~enrollpay.ports.Store` that keeps everything in this process."""

    def __init__(self) -> None:
        self._tables = MemoryTables()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        """A unit of work on a snapshot; swapped in when the block succeeds."""
        with self._lock:
            working = self._tables.copy()
            yield _MemoryTransaction(working)
            self._tables = working

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """A snapshot of the committed tables; anything written through it is discarded."""
        with self._lock:
            yield _MemoryTransaction(self._tables.copy())

    # Test helpers: direct access for assertions and tamper tests.
    def snapshot(self) -> dict[str, Any]:
        """Every table as plain containers (for tests asserting 'nothing written')."""
        with self._lock:
            return attrs.asdict(self._tables.copy(), recurse=False)

    def _replace_audit_entry(self, index: int, entry: AuditEntry) -> None:
        """Overwrite an audit entry in place (only tamper tests need this)."""
        with self._lock:
            self._tables.audit[index] = entry


class _MemoryTransaction(
    MemoryPayments,
    MemoryDisputes,
    MemoryReports,
    MemoryOutboxRepository,
    MemorySync,
    MemoryNotificationLog,
    MemoryDiscounts,
    MemoryReceipts,
    MemoryPayers,
    MemorySeats,
):
    def __init__(self, tables: MemoryTables) -> None:
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
        # The seat limit is set_seat_limit's to write: a product put keeps its own.
        kept = self._t.products.get(product.id)
        limit = None if kept is None else kept.seat_limit
        self._t.products[product.id] = attrs.evolve(product, seat_limit=limit)

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

    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        return self._t.enrollments.get(enrollment_id)

    def lock_enrollment(self, enrollment_id: str) -> LockedEnrollment | None:
        # Transactions take turns (the store's lock): holding one is the lock.
        enrollment = self._t.enrollments.get(enrollment_id)
        if enrollment is None:
            return None
        items = self.items_of(enrollment_id)

        def in_flight() -> tuple[PaymentAttempt, ...]:
            return tuple(
                a
                for item in self.items_of(enrollment_id)
                for a in self.attempts_of(item.id)
                if a.status in IN_FLIGHT_ATTEMPT_STATUSES
            )

        return LockedEnrollment(enrollment, tuple(items), in_flight)

    def update_enrollment(self, enrollment: Enrollment) -> None:
        require(self._t.enrollments, enrollment.id, "enrollment")
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

    def enrollments_of(self, user_id: str) -> list[Enrollment]:
        return self.list_enrollments(user_id=user_id)

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

    def get_item(self, item_id: str) -> ScheduleItem | None:
        return self._t.items.get(item_id)

    def update_item(self, item: ScheduleItem) -> None:
        require(self._t.items, item.id, "schedule item")
        self._t.items[item.id] = item

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        found = [i for i in self._t.items.values() if i.enrollment_id == enrollment_id]
        return sorted(found, key=lambda i: i.seq)

    def replace_open_items(
        self, enrollment_id: str, superseded: Sequence[ScheduleItem], added: Sequence[ScheduleItem]
    ) -> None:
        replace_open_items(self, enrollment_id, superseded, added)

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
        schedules: dict[str, list[ScheduleItem]] = {}
        for item in self._t.items.values():
            schedules.setdefault(item.enrollment_id, []).append(item)
        candidates = []
        for item in self._t.items.values():
            enrollment = self._t.enrollments[item.enrollment_id]
            status = enrollment.status
            if status in _PAUSED_OR_CANCELLED or enrollment.gateway_subscription_id is not None:
                continue
            if item.lease_until is not None and item.lease_until > now:
                continue
            if (
                (
                    item.status == ItemStatus.SCHEDULED
                    and item.due <= today
                    and charged_automatically(status, item, schedules[item.enrollment_id])
                )
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
