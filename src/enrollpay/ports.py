"""The ports the service layer talks through: Clock, Gateway and Store.

Adapters implement these protocols: ``SystemClock``/``FrozenClock``,
``FakeGateway``/``StripeGateway``, ``InMemoryStore``/``SqlStore``. The core
never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

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
from enrollpay.domain.retry import DeclineClass
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    Period,
    ProductRow,
    RecoveryRow,
    RevenueRow,
    StatusBreakdown,
)

__all__ = [
    "AuditDraft",
    "ChargeResult",
    "ChargeStatus",
    "Clock",
    "EventKind",
    "Gateway",
    "GatewayEvent",
    "GatewayRefund",
    "InvoiceInfo",
    "ItemQuery",
    "PaymentSession",
    "ReportQueries",
    "Store",
    "StoreTransaction",
    "SubscriptionInfo",
]


# --- clock -------------------------------------------------------------------


@runtime_checkable
class Clock(Protocol):
    """Where the service gets the time from. ``now()`` is time-zone aware."""

    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...


# --- gateway -----------------------------------------------------------------

ChargeStatus = Literal["succeeded", "failed", "requires_action", "processing", "canceled"]


@attrs.frozen
class ChargeResult:
    """What the gateway said about a charge. Declines are values, not exceptions.

    ``processing`` means the gateway accepted the charge but has not settled
    it (some payment methods settle later, and an on-session payment waits
    for the customer): the outcome arrives by webhook or by asking again.
    ``canceled`` means the payment was cancelled and can no longer succeed.
    """

    status: ChargeStatus
    gateway_payment_id: str | None
    amount: Money
    decline_code: str | None = None
    decline_class: DeclineClass | None = None
    message: str | None = None
    payment_method_id: str | None = None
    customer_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class PaymentSession:
    """An on-session payment the customer completes in the browser."""

    gateway_payment_id: str
    client_secret: str = attrs.field(repr=False)
    status: Literal["requires_payment_method", "requires_action", "processing", "succeeded"] = (
        "requires_payment_method"
    )


@attrs.frozen
class GatewayRefund:
    """A refund the gateway made (or is making)."""

    gateway_refund_id: str
    gateway_payment_id: str
    amount: Money
    status: Literal["succeeded", "pending", "failed"] = "succeeded"
    #: Our refund id, echoed back by the gateway (matches webhooks to refunds).
    reference: str | None = None


@attrs.frozen
class SubscriptionInfo:
    """A subscription billed by the gateway."""

    subscription_id: str
    status: str
    customer_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class InvoiceInfo:
    """An invoice the gateway bills (and may collect automatically)."""

    invoice_id: str
    status: str
    customer_id: str
    amount: Money
    collection_method: str = "charge_automatically"
    #: Where the customer can pay it (a bearer link: keep it out of logs).
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)


EventKind = Literal[
    "payment_succeeded",
    "payment_failed",
    "payment_requires_action",
    "refund_updated",
    "invoice_paid",
    "invoice_payment_failed",
    "subscription_created",
    "subscription_updated",
    "subscription_deleted",
    "payment_method_attached",
    "ignored",
]


@attrs.frozen
class GatewayEvent:
    """A verified gateway webhook, normalised to what the service acts on."""

    id: str
    type: str
    kind: EventKind
    created: datetime
    livemode: bool = False
    gateway_payment_id: str | None = None
    amount: Money | None = None
    customer_id: str | None = None
    payment_method_id: str | None = None
    decline_code: str | None = None
    decline_class: DeclineClass | None = None
    message: str | None = None
    refunds: tuple[GatewayRefund, ...] = ()
    subscription_id: str | None = None
    subscription_status: str | None = None
    invoice_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, hash=False)


class Gateway(Protocol):
    """The minimal verb set a payment gateway offers the service.

    Declines come back as :class:`ChargeResult` values. Any exception other
    than :class:`~enrollpay.errors.GatewayRequestError` means *the outcome is
    unknown* and is raised as :class:`~enrollpay.errors.GatewayUnavailableError`.
    Every money-moving verb takes an idempotency key: calling again with the
    same key must return the first call's result and move no more money.
    """

    name: str

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge in ``currency`` must be a multiple of."""
        ...

    def minimum_charge(self, currency: str) -> Money | None:
        """The smallest charge the gateway accepts in ``currency``, if any."""
        ...

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create (once) the gateway customer for ``user_id``; return its id."""
        ...

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Open an on-session payment that saves the method for later charges."""
        ...

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Charge a saved payment method without the customer present."""
        ...

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Look a payment up (by id, else by key); ``None`` if it never reached the gateway."""
        ...

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Cancel a payment that has not succeeded, so it never can.

        Returns the payment's state afterwards: ``canceled``, or
        ``succeeded`` when the customer completed it first.
        """
        ...

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Refund ``amount`` of a payment (partial refunds allowed).

        ``reference`` is the library's refund id; the gateway stores it with
        the refund so that webhooks can be matched to it.
        """
        ...

    def start_payment_method_update(self, *, customer_id: str, idempotency_key: str) -> str:
        """Open a setup flow for a new card; return its client secret."""
        ...

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify and normalise a webhook; raise ``WebhookSignatureError`` if forged."""
        ...


# --- store -------------------------------------------------------------------


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
        """Performance per product."""
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


class StoreTransaction(ReportQueries, Protocol):
    """The repositories of one unit of work. Nothing is visible to others until commit."""

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

    # enrollments
    def add_enrollment(self, enrollment: Enrollment) -> None:
        """Insert; ``DuplicateEnrollmentError`` if the user has an open one in the product."""
        ...

    def get_enrollment(self, enrollment_id: str, *, for_update: bool = False) -> Enrollment | None:
        """An enrollment, locked against concurrent writers with ``for_update``."""
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

    def list_enrollments(
        self,
        *,
        user_id: str | None = None,
        product_id: str | None = None,
        statuses: frozenset[EnrollmentStatus] | None = None,
    ) -> list[Enrollment]:
        """Enrollments matching every given filter, oldest first."""
        ...

    # schedule items
    def add_items(self, items: Sequence[ScheduleItem]) -> None:
        """Insert schedule items."""
        ...

    def get_item(self, item_id: str, *, for_update: bool = False) -> ScheduleItem | None:
        """A schedule item, locked with ``for_update``."""
        ...

    def update_item(self, item: ScheduleItem) -> None:
        """Replace an existing schedule item."""
        ...

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        """The items of an enrollment by sequence number."""
        ...

    def list_items(self, query: ItemQuery) -> list[ScheduleItem]:
        """Items matching the query, by due date then id."""
        ...

    def claim_due(
        self, *, today: date, now: datetime, lease_until: datetime, limit: int
    ) -> list[ScheduleItem]:
        """Lease up to ``limit`` collectible items so no other worker takes them.

        Collectible: the enrollment is neither paused nor cancelled, the item
        is not leased (or its lease expired before ``now``), and it is
        ``scheduled`` and due by ``today``, or ``failed`` with its retry due by
        ``now``, or ``processing`` with an expired lease (a worker died). The
        returned items carry ``lease_until``.
        """
        ...

    # attempts
    def add_attempt(self, attempt: PaymentAttempt) -> None:
        """Insert; ``DuplicateError`` if the idempotency key exists."""
        ...

    def get_attempt(self, attempt_id: str, *, for_update: bool = False) -> PaymentAttempt | None:
        """An attempt by id, locked against concurrent writers with ``for_update``."""
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

    def list_attempts(
        self, *, statuses: frozenset[AttemptStatus], limit: int | None = None
    ) -> list[PaymentAttempt]:
        """Attempts in the given statuses, oldest first."""
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

    def list_refunds(self, *, status: str) -> list[Refund]:
        """Refunds in ``status``, oldest first."""
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

    def list_audit(
        self, *, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, optionally for one entity."""
        ...


class Store(Protocol):
    """A place that keeps the system's records; all access goes through transactions."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        ...
