"""The entities the system stores, as frozen attrs classes.

Records are values: a change is a new record made with ``attrs.evolve``.
Stores map them to rows explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

import attrs

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.price_lists import check_price_list, price_tuple
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.schedule import ItemKind
from enrollpay.domain.statuses import AttemptStatus, DisputeStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.statuses import RefundStatus as _RefundStatus
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.domain.taxes import TaxLine

__all__ = [
    "AuditEntry",
    "Customer",
    "Dispute",
    "Enrollment",
    "ManualMethod",
    "Payment",
    "PaymentAttempt",
    "PaymentMethodKind",
    "Product",
    "Refund",
    "ScheduleItem",
    "WebhookReceipt",
]

ManualMethod = Literal["cash", "check", "bank_transfer", "other"]
PaymentMethodKind = Literal["gateway", "cash", "check", "bank_transfer", "other"]
AttemptMode = Literal["on_session", "off_session"]
#: The values of :class:`~enrollpay.domain.statuses.RefundStatus`, as a type for parameters.
RefundStatus = Literal["pending", "succeeded", "failed"]


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen
class Product:
    """Something sold: a course, a program, a membership."""

    id: str
    product_type: str
    product_id: str
    name: str
    price: Money
    active: bool = True
    auto_assign_payment_plan: bool = False
    payment_plan: PaymentPlan | None = None
    offered_plans: tuple[PaymentPlan, ...] = ()
    refund_policy: RefundPolicy | None = None
    #: How long one enrollment's service lasts, for time-prorated refunds.
    service_period: Interval = Interval.years(1)  # noqa: RUF009 - Interval is frozen, sharing is safe
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: Seats sold at most (None: no limit); see :mod:`enrollpay.domain.seats`.
    seat_limit: int | None = None
    #: Explicit prices in currencies other than ``price``'s, one per currency,
    #: ordered by currency (see :mod:`enrollpay.domain.price_lists`).
    prices: tuple[Money, ...] = attrs.field(default=(), converter=price_tuple)

    def __attrs_post_init__(self) -> None:
        check_price_list(self.price, self.prices)


@attrs.frozen
class Enrollment:
    """A user's purchase of a product on a payment plan."""

    id: str
    user_id: str
    product_id: str
    status: EnrollmentStatus = attrs.field(converter=EnrollmentStatus)
    plan: PaymentPlan
    price: Money
    start_date: date
    created_at: datetime
    updated_at: datetime
    paused_on: date | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    gateway_subscription_id: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)
    #: When the student first got access (None: never yet). Tells a first
    #: ``access.granted`` from an ``access.restored``.
    access_granted_at: datetime | None = None
    #: Days of service spent in pauses that have ended (a pause in progress
    #: counts from ``paused_on``): not used days, and the service ends that
    #: much later. See :meth:`days_paused`.
    paused_days: int = 0
    #: A trial that waits for the student to save a payment method: it stays
    #: ``pending_payment`` (no access) until one is saved or an item is paid.
    awaiting_payment_method: bool = False
    #: Whether a dispute of one of its payments withholds the student's access
    #: (see :class:`~enrollpay.domain.disputes.DisputePolicy`): while True the
    #: enrollment is ``suspended`` whatever its items say.
    dispute_hold: bool = False
    #: The price before discounts (None: none applied); ``price`` is what the
    #: student pays (see :mod:`enrollpay.domain.discounts`).
    list_price: Money | None = None
    #: The coupon this enrollment redeemed, if any.
    coupon_code: str | None = None
    #: The scholarship this enrollment used, if any.
    scholarship_id: str | None = None

    @property
    def discount(self) -> Money:
        """What was taken off the list price (zero without a discount)."""
        if self.list_price is None:
            return Money.zero(self.price.currency)
        return self.list_price - self.price

    #: The gateway's last word on the subscription that bills it
    #: (``gateway_subscription_id``); None before the first report.
    subscription: SubscriptionState | None = None

    def days_paused(self, on: date) -> int:
        """Days of service paused up to ``on``: ended pauses and one in progress.

        A pause in progress counts the days from ``paused_on`` (or the
        service start, if it began before) to ``on``; days before the service
        started were not service and do not count.
        """
        if self.paused_on is None:
            return self.paused_days
        return self.paused_days + max((on - max(self.paused_on, self.start_date)).days, 0)


@attrs.frozen
class ScheduleItem:
    """One scheduled payment of an enrollment."""

    id: str
    enrollment_id: str
    seq: int
    kind: ItemKind
    due: date
    amount: Money
    status: ItemStatus = attrs.field(converter=ItemStatus)
    amount_paid: Money
    failures: int = 0
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    last_decline_code: str | None = None
    paid_at: datetime | None = None
    updated_at: datetime | None = None
    #: When the item was found overdue (``installment.overdue``); None while it is not.
    overdue_at: datetime | None = None
    #: When the payer was reminded that it falls due (``installment.upcoming``);
    #: None until then, and again after its due date moves.
    reminded_at: datetime | None = None
    #: The gateway invoice that collects the item (``installment_collection="invoice"``)
    #: and its page for the student (a bearer link: kept out of ``repr``).
    gateway_invoice_id: str | None = None
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)
    #: The tax in ``amount`` (its gross) when the enrollment was taxed; None: untaxed.
    tax: TaxLine | None = None
    #: The payer who owes this item (None: the student; see :mod:`enrollpay.domain.payers`).
    payer_id: str | None = None
    #: Which version of the enrollment's schedule the item belongs to: 1 for
    #: the schedule written at enrollment, one more after each plan change
    #: (see :mod:`enrollpay.domain.plan_change`).
    schedule_version: int = 1

    @property
    def outstanding(self) -> Money:
        """What is still owed on this item."""
        return self.amount - self.amount_paid


@attrs.frozen
class PaymentAttempt:
    """One try at collecting an item through the gateway, keyed for idempotency."""

    id: str
    item_id: str
    enrollment_id: str
    number: int
    idempotency_key: str
    status: AttemptStatus = attrs.field(converter=AttemptStatus)
    amount: Money
    mode: AttemptMode
    created_at: datetime
    updated_at: datetime
    gateway_payment_id: str | None = None
    payment_method_id: str | None = None
    decline_code: str | None = None
    decline_class: DeclineClass | None = None
    message: str | None = None
    #: The card's brand as the gateway reported it with a decline (``visa``, ...).
    card_brand: str | None = None
    #: A retry on a payment method that declined this item before: what the
    #: card networks cap (see :mod:`enrollpay.domain.retry_caps`).
    reattempt: bool = False
    #: The gateway invoice this attempt charged (its payment is ``gateway_payment_id``)
    #: and the invoice's page, when the item is collected as an invoice.
    gateway_invoice_id: str | None = None
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Payment:
    """Money received for an item, through the gateway or recorded by hand."""

    id: str
    enrollment_id: str
    item_id: str
    amount: Money
    method: PaymentMethodKind
    received_at: datetime
    gateway_payment_id: str | None = None
    attempt_id: str | None = None
    reference: str | None = None
    notes: str | None = None
    actor: str | None = None


@attrs.frozen
class Refund:
    """Money given back against one payment."""

    id: str
    payment_id: str
    enrollment_id: str
    amount: Money
    method: Literal["gateway", "manual"]
    created_at: datetime
    status: _RefundStatus = attrs.field(default=_RefundStatus.SUCCEEDED, converter=_RefundStatus)
    idempotency_key: str | None = None
    gateway_refund_id: str | None = None
    reason: str | None = None
    actor: str | None = None


@attrs.frozen
class Dispute:
    """A cardholder's dispute of one gateway payment (an inquiry or a chargeback).

    ``amount`` is what the cardholder disputes (usually the whole payment);
    ``gateway_status`` the gateway's own word for the stage (Stripe's
    ``needs_response``, ``under_review``, ...); ``evidence_due_by`` when the
    school's evidence must reach the gateway (None: no response possible).
    ``reported_at`` is when the gateway dated the latest report applied:
    an older report never overwrites a newer one.
    """

    id: str
    payment_id: str
    enrollment_id: str
    gateway_dispute_id: str
    amount: Money
    status: DisputeStatus = attrs.field(converter=DisputeStatus)
    gateway_status: str
    opened_at: datetime
    updated_at: datetime
    reported_at: datetime
    reason: str | None = None
    evidence_due_by: datetime | None = None
    closed_at: datetime | None = None


@attrs.frozen
class Customer:
    """The gateway's customer for a user, and their saved payment method."""

    user_id: str
    gateway_customer_id: str
    payment_method_id: str | None = None


@attrs.frozen
class WebhookReceipt:
    """A gateway event the system has processed (for exactly-once handling)."""

    event_id: str
    event_type: str
    received_at: datetime
    outcome: str


@attrs.frozen
class AuditEntry:
    """One link of the hash-chained audit trail."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: Mapping[str, Any] = attrs.field(converter=_frozen_mapping, hash=False)
    prev_hash: str
    hash: str
