"""The write port: one unit of work at a time, in the verbs of the domain.

A use case opens :meth:`Store.transaction`, locks the enrollment it
changes with :meth:`StoreTransaction.lock_enrollment` (which returns the
enrollment with its items and in-flight attempts), asks the state machine
what follows, and stores the records and events that come back. Which rows
an adapter locks, and in which order, is the adapter's business: the
service never asks for a lock on a row, only for the enrollment it works
on. What only reads goes through the read port (:mod:`.reads`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

import attrs

from enrollpay.domain.events import DomainEvent
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
from enrollpay.ports.discounts import DiscountRecords
from enrollpay.ports.disputes import DisputeRecords
from enrollpay.ports.notification_log import SentNotificationLog
from enrollpay.ports.payers import PayerRecords
from enrollpay.ports.reads import StoreReader
from enrollpay.ports.receipts import ReceiptWrites
from enrollpay.ports.schedules import ScheduleRevisions
from enrollpay.ports.seats import SeatRecords
from enrollpay.ports.sync import SyncCursorWrites

__all__ = [
    "AuditDraft",
    "EventOutbox",
    "LockedEnrollment",
    "Store",
    "StoreTransaction",
]


@attrs.frozen
class AuditDraft:
    """An audit entry before the store links it into the chain."""

    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class LockedEnrollment:
    """An enrollment locked for this unit of work, with what its writers need.

    ``items`` are all its schedule items by sequence number; ``attempts``
    its attempts still in flight (pending, unknown, requires action,
    processing), by item then number, read when first asked for. No other
    unit of work can change any of them until this one ends.
    """

    enrollment: Enrollment
    items: tuple[ScheduleItem, ...]
    _load_attempts: Callable[[], tuple[PaymentAttempt, ...]] = attrs.field(
        eq=False, repr=False, alias="load_attempts"
    )

    @property
    def attempts(self) -> tuple[PaymentAttempt, ...]:
        """The attempts in flight, by item then number (read on first use)."""
        return self._load_attempts()

    def item(self, item_id: str) -> ScheduleItem:
        """The item ``item_id`` of this enrollment (``KeyError`` if it has none such)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"item {item_id!r} is not in enrollment {self.enrollment.id!r}")


class EventOutbox(Protocol):
    """The transactional outbox: domain events stored with the changes that caused them.

    Events added in a unit of work become visible to other transactions
    when it commits, and vanish with it when it rolls back, so an event
    exists exactly when its state change does. Each event gets the next
    value of one store-wide increasing sequence as it is added: that
    sequence is the order of occurrence, in which events are listed and
    delivered.

    Delivery is guarded by one store-wide *dispatch lease*, not by locking
    events one by one (``SKIP LOCKED``). Events must reach the handler in
    the order they occurred, and no event may be delivered by two
    dispatchers at once; with per-event locks a second dispatcher would
    skip a locked event and deliver the next one before it. A single lease
    holder at a time gives both guarantees, and a lease that expires (its
    dispatcher crashed) frees itself.
    """

    def add_events(self, events: Sequence[DomainEvent]) -> None:
        """Append ``events`` to the outbox, in the given order, within this transaction.

        ``DuplicateError`` if an event id is repeated in ``events`` (at once)
        or is stored already. A store may hold the events back and write a
        unit of work's events together when it commits (the SQL store does,
        on SQLite and PostgreSQL); it then finds a known id at the commit, which fails with
        ``DuplicateError`` and keeps nothing of the transaction. A store
        that writes at once raises here, adds none of ``events``, and the
        transaction goes on.
        """
        ...

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        """Up to ``limit`` undelivered events, in the order they occurred."""
        ...

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        """Record that ``event_id`` was delivered at ``at``, if ``holder`` still has the lease.

        The lease is held when ``holder`` took it and it runs past ``at``.
        False (nothing changes) when it is not; True when the event is now
        marked, or was marked already (it keeps its first delivery time).
        ``StorageError`` for an unknown event while the lease is held.
        """
        ...

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take the dispatch lease for ``holder`` until ``until``; False if someone else has it.

        The lease is taken when it is free, expired (its end is at or before
        ``now``) or held by ``holder`` already (then it is extended to
        ``until``). Concurrent callers never both succeed.
        """
        ...

    def release_dispatch_lease(self, *, holder: str) -> None:
        """Free the dispatch lease if ``holder`` has it (else do nothing)."""
        ...


class StoreTransaction(
    EventOutbox,
    DisputeRecords,
    DiscountRecords,
    SyncCursorWrites,
    SentNotificationLog,
    ReceiptWrites,
    PayerRecords,
    ScheduleRevisions,
    SeatRecords,
    Protocol,
):
    """The write port: the verbs of one unit of work. Nothing is visible to others until commit.

    Reads here see this unit of work's own writes; a record that is not
    locked may change under it (PostgreSQL, READ COMMITTED) until its
    enrollment is locked with :meth:`lock_enrollment`. The outbox's verbs
    (:class:`EventOutbox`) and drift re-sync's cursor
    (:class:`~enrollpay.ports.sync.SyncCursorWrites`) are declared apart.
    """

    # products and plan rules
    def get_product(self, product_id: str) -> Product | None:
        """The product with internal id ``product_id``."""
        ...

    def find_product(self, product_type: str, external_id: str) -> Product | None:
        """The product registered under the host app's ``(type, id)``."""
        ...

    def put_product(self, product: Product) -> None:
        """Insert or replace a product (unique by id and by (type, external id))."""
        ...

    def list_products(self, *, active: bool | None = None) -> list[Product]:
        """Products ordered by name, optionally only (in)active ones."""
        ...

    def replace_plan_rules(self, rules: Sequence[PlanRule]) -> None:
        """Replace every plan rule, keeping the given order."""
        ...

    def list_plan_rules(self) -> list[PlanRule]:
        """The plan rules in the order they were given."""
        ...

    # customers
    def get_customer(self, user_id: str) -> Customer | None:
        """The gateway customer of a user."""
        ...

    def find_customer_by_gateway_id(self, gateway_customer_id: str) -> Customer | None:
        """The user mapping for a gateway customer id."""
        ...

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace the gateway customer of a user."""
        ...

    # enrollments and their schedules
    def add_enrollment(self, enrollment: Enrollment) -> None:
        """Insert; ``DuplicateEnrollmentError`` if the user has an open one in the product."""
        ...

    def add_items(self, items: Sequence[ScheduleItem]) -> None:
        """Insert schedule items (``DuplicateError`` on a known id or (enrollment, seq))."""
        ...

    def lock_enrollment(self, enrollment_id: str) -> LockedEnrollment | None:
        """Lock an enrollment for writing; it, its items and its in-flight attempts.

        Every unit of work that changes an enrollment, its items or its
        attempts locks the enrollment first, so concurrent writers of one
        enrollment queue instead of deadlocking; which rows that locks, in
        which order, is the adapter's choice. Locking again in the same
        unit of work returns the records as this unit of work has changed
        them. None if there is no such enrollment.
        """
        ...

    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        """An enrollment by id (not locked: see :meth:`lock_enrollment`)."""
        ...

    def update_enrollment(self, enrollment: Enrollment) -> None:
        """Replace an existing enrollment."""
        ...

    def find_open_enrollment(self, user_id: str, product_id: str) -> Enrollment | None:
        """The user's non-cancelled enrollment in the product, if any."""
        ...

    def find_enrollment_by_subscription(self, subscription_id: str) -> Enrollment | None:
        """The enrollment billed by a gateway subscription."""
        ...

    def enrollments_of(self, user_id: str) -> list[Enrollment]:
        """A user's enrollments, oldest first."""
        ...

    def get_item(self, item_id: str) -> ScheduleItem | None:
        """A schedule item by id (not locked: see :meth:`lock_enrollment`)."""
        ...

    def update_item(self, item: ScheduleItem) -> None:
        """Replace an existing schedule item."""
        ...

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        """The items of an enrollment by sequence number."""
        ...

    def claim_due(
        self, *, today: date, now: datetime, lease_until: datetime, limit: int
    ) -> list[ScheduleItem]:
        """Lease up to ``limit`` collectible items so no other worker takes them.

        Collectible: the enrollment is neither paused nor cancelled nor billed
        by a gateway subscription (``gateway_subscription_id``), the item
        is not leased (or its lease expired before ``now``), and it is
        ``scheduled`` and due by ``today`` and charged automatically (see
        :func:`enrollpay.domain.dunning.charged_automatically`: not while the
        enrollment is suspended or an earlier item is in dunning), or
        ``failed`` with its retry due by ``now``, or ``processing`` with an
        expired lease (a worker died). The returned items carry
        ``lease_until``, oldest due first. Items whose enrollment another
        unit of work has locked may be passed over.
        """
        ...

    # attempts
    def add_attempt(self, attempt: PaymentAttempt) -> None:
        """Insert; ``DuplicateError`` if the idempotency key exists."""
        ...

    def get_attempt(self, attempt_id: str) -> PaymentAttempt | None:
        """An attempt by id (not locked: see :meth:`lock_enrollment`)."""
        ...

    def update_attempt(self, attempt: PaymentAttempt) -> None:
        """Replace an existing attempt."""
        ...

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        """The attempts of an item by number."""
        ...

    def find_attempt_by_gateway_id(self, gateway_payment_id: str) -> PaymentAttempt | None:
        """The attempt the gateway knows as ``gateway_payment_id``."""
        ...

    def reattempts_on(
        self, user_id: str, payment_method_id: str, *, since: datetime
    ) -> list[datetime]:
        """When the reattempts on a user's payment method were made, after ``since``, oldest first.

        A reattempt is an attempt with ``reattempt`` set (the payment method
        had declined its item before), of any of the user's enrollments; its
        time is its ``created_at``. (A gateway's payment method ids are its
        own customer's; test ids such as ``pm_card_visa`` are shared, so the
        user is part of the key.) The user's payment method is held until
        this unit of work ends: another unit of work asking about it waits,
        so two cannot both count one reattempt short of a cap and both add
        one. Call it after locking the enrollment and before appending to
        the audit chain (that order keeps the locks from deadlocking).
        """
        ...

    # payments and refunds
    def add_payment(self, payment: Payment) -> None:
        """Insert; ``DuplicateError`` if the gateway payment id was recorded already."""
        ...

    def get_payment(self, payment_id: str) -> Payment | None:
        """A payment by id."""
        ...

    def find_payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        """The payment recorded for a gateway payment id."""
        ...

    def payments_of(self, enrollment_id: str) -> list[Payment]:
        """The payments of an enrollment, oldest first."""
        ...

    def add_refund(self, refund: Refund) -> None:
        """Insert a refund, enforcing the refund invariants.

        ``DuplicateError`` on a known gateway refund id or key;
        ``RefundExceedsPaidError`` if the payment's refunds (failed ones
        aside) would exceed it.
        """
        ...

    def update_refund(self, refund: Refund) -> None:
        """Replace an existing refund (status and gateway id change as it completes)."""
        ...

    def get_refund(self, refund_id: str) -> Refund | None:
        """A refund by id."""
        ...

    def find_refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        """The refund recorded for a gateway refund id."""
        ...

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        """The refunds of an enrollment, oldest first."""
        ...

    # webhooks
    def add_webhook_receipt(self, receipt: WebhookReceipt) -> None:
        """Insert; ``DuplicateError`` if the event id was processed already."""
        ...

    def get_webhook_receipt(self, event_id: str) -> WebhookReceipt | None:
        """The receipt of a processed event."""
        ...

    # audit
    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        """Link ``draft`` after the chain's last entry (serialised among writers)."""
        ...


class Store(Protocol):
    """A place that keeps the system's records: write units of work and read snapshots."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        ...

    def reader(self) -> AbstractContextManager[StoreReader]:
        """A read-only snapshot for queries and reports (takes no write lock)."""
        ...
