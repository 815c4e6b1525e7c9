"""The read port: what queries and reports read, in one consistent snapshot.

A use case that changes records works in a :class:`~enrollpay.ports.StoreTransaction`
(the write port). Everything that only looks (the admin screens, the
reports, listing what ``reconcile`` must check) reads through a
:class:`StoreReader`, which :meth:`Store.reader() <enrollpay.ports.Store.reader>`
opens: it sees one snapshot of the store, takes no write locks and cannot
write (SQLite: a deferred transaction, so readers never queue behind the
writer's lock; PostgreSQL: a ``READ ONLY`` transaction at ``REPEATABLE
READ``, so every query of a report sees the same data).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

import attrs

from enrollpay.domain.events import DomainEvent
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.plans import PlanRule
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
)
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.ports.notification_log import SentNotificationLookup
from enrollpay.ports.payers import PayerLookups
from enrollpay.ports.receipts import ReceiptLookups
from enrollpay.ports.seats import SeatLookups
from enrollpay.ports.sync import SyncLookups
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    Period,
    ProductRow,
    RecoveryRow,
    RevenueRow,
    StatusBreakdown,
)

__all__ = ["ItemQuery", "ReportQueries", "StoreReader"]


@attrs.frozen
class ItemQuery:
    """Filters for listing schedule items (every field optional, all must hold)."""

    statuses: frozenset[ItemStatus] | None = None
    due_from: date | None = None
    due_to: date | None = None
    product_id: str | None = None
    user_id: str | None = None
    enrollment_id: str | None = None
    limit: int | None = None


class ReportQueries(Protocol):
    """Report aggregations a store computes (see :mod:`enrollpay.reports` for definitions)."""

    def report_revenue(
        self, *, by: Period, date_from: date | None, date_to: date | None, timezone: str
    ) -> list[RevenueRow]:
        """Revenue per period and currency."""
        ...

    def report_status(self) -> StatusBreakdown:
        """Enrollments and items per status."""
        ...

    def report_products(self) -> list[ProductRow]:
        """Performance per product and currency its enrollments were sold in."""
        ...

    def report_aging(self, *, as_of: date) -> list[AgingRow]:
        """Overdue amounts per currency and bucket."""
        ...

    def report_forecast(self, *, date_from: date, months: int) -> list[ForecastRow]:
        """Amounts scheduled per future month."""
        ...

    def report_recovery(self) -> list[RecoveryRow]:
        """Dunning recovery per currency."""
        ...


class StoreReader(
    ReportQueries,
    SyncLookups,
    SentNotificationLookup,
    ReceiptLookups,
    PayerLookups,
    SeatLookups,
    Protocol,
):
    """The read port: lookups, lists and reports over one snapshot; no writes, no locks.

    Drift re-sync's look-ups and cursors are :class:`~enrollpay.ports.sync.SyncLookups`.
    """

    def get_product(self, product_id: str) -> Product | None:
        """The product with internal id ``product_id``."""
        ...

    def list_products(self, *, active: bool | None = None) -> list[Product]:
        """Products ordered by name, optionally only (in)active ones."""
        ...

    def list_plan_rules(self) -> list[PlanRule]:
        """The plan rules in the order they were given."""
        ...

    def get_customer(self, user_id: str) -> Customer | None:
        """The gateway customer of a user."""
        ...

    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        """An enrollment by id."""
        ...

    def list_enrollments(
        self,
        *,
        user_id: str | None = None,
        product_id: str | None = None,
        statuses: frozenset[EnrollmentStatus] | None = None,
    ) -> list[Enrollment]:
        """Enrollments matching every given filter, oldest first."""
        ...

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        """The items of an enrollment by sequence number."""
        ...

    def get_item(self, item_id: str) -> ScheduleItem | None:
        """A schedule item by id."""
        ...

    def list_items(self, query: ItemQuery) -> list[ScheduleItem]:
        """Items matching the query, by due date then id."""
        ...

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        """The attempts of an item by number."""
        ...

    def list_attempts(
        self, *, statuses: frozenset[AttemptStatus], limit: int | None = None
    ) -> list[PaymentAttempt]:
        """Attempts in the given statuses, oldest first."""
        ...

    def payments_of(self, enrollment_id: str) -> list[Payment]:
        """The payments of an enrollment, oldest first."""
        ...

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        """The refunds of an enrollment, oldest first."""
        ...

    def list_refunds(self, *, status: str) -> list[Refund]:
        """Refunds in ``status``, oldest first."""
        ...

    def disputes_of(self, enrollment_id: str) -> list[Dispute]:
        """The disputes of an enrollment's payments, oldest first (then by id)."""
        ...

    def list_disputes(self, *, statuses: frozenset[DisputeStatus] | None = None) -> list[Dispute]:
        """Disputes in the given statuses (None: all), oldest first (then by id)."""
        ...

    def list_audit(
        self, *, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, optionally for one entity."""
        ...

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        """Outbox events in the order they occurred, optionally only (un)delivered ones."""
        ...
