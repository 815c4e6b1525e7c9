"""Values the use cases return."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Literal

import attrs

from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.records import (
    Dispute,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
)
from enrollpay.domain.refunds import RefundQuote
from enrollpay.service.drift_report import DriftReport

__all__ = [
    "CancellationResult",
    "CollectionReport",
    "EnrollmentResult",
    "ItemOutcome",
    "OutcomeLog",
    "PaymentDetails",
    "ReconcileReport",
    "Stats",
    "SweepReport",
    "WebhookOutcome",
]


@attrs.frozen
class EnrollmentResult:
    """What ``enroll`` created and what the checkout page needs."""

    enrollment_id: str
    enrollment: Enrollment
    payment_plan: PaymentPlan
    schedule: tuple[ScheduleItem, ...]
    requires_immediate_payment: bool
    #: For Stripe Elements (or the fake's test form); never logged.
    client_secret: str | None = attrs.field(default=None, repr=False)
    #: The item the client secret pays, when one is due now.
    payment_item_id: str | None = None
    #: Set when the gateway could not be reached; pay later with ``start_payment``
    #: (or, for a trial waiting for a card, open the setup with ``start_setup``).
    payment_error: str | None = None
    #: For a trial that waits for a card (``enrollment.awaiting_payment_method``):
    #: the client secret of the gateway's setup flow (a Stripe SetupIntent), which
    #: the page confirms with Stripe.js ``confirmSetup`` / ``confirmCardSetup``.
    #: Never logged.
    setup_client_secret: str | None = attrs.field(default=None, repr=False)
    #: An enrollment split between payers: each payer's first item due now,
    #: by payer id. Each payer pays theirs with ``start_payment(item_id)``
    #: (a checkout of their own), or collection charges a saved method.
    payer_items: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class PaymentDetails:
    """Everything about an enrollment's money, for a student or admin page."""

    enrollment: Enrollment
    product: Product
    items: tuple[ScheduleItem, ...]
    attempts: tuple[PaymentAttempt, ...]
    payments: tuple[Payment, ...]
    refunds: tuple[Refund, ...]
    #: The disputes of its payments, oldest first.
    disputes: tuple[Dispute, ...]
    #: Every payment received (refunds and chargebacks not taken off).
    paid: Money
    refunded: Money
    #: What chargebacks took and did not give back: no longer counts as paid
    #: (see :func:`~enrollpay.domain.disputes.withheld`).
    disputed: Money
    outstanding: Money
    overdue: Money
    next_due: ScheduleItem | None
    has_access: bool
    #: The date through which the enrollment is paid
    #: (:func:`~enrollpay.domain.schedule.paid_through`); None: not even the first item.
    paid_through: date | None = None

    @property
    def kept(self) -> Money:
        """What the school holds of what was paid: ``paid - refunded - disputed``."""
        return self.paid - self.refunded - self.disputed


ItemResult = Literal[
    "succeeded",
    "failed",
    "requires_action",
    "requires_payment_method",
    "defaulted",
    "unknown",
    "processing",
    "skipped",
    "capped",
]


@attrs.frozen
class ItemOutcome:
    """What collection did with one item.

    ``capped``: the charge would have passed the card network's retry cap,
    so nothing was sent; ``retry_at`` says when the card may be retried.
    """

    item_id: str
    result: ItemResult
    attempt_id: str | None = None
    decline_code: str | None = None
    retry_at: datetime | None = None


@attrs.frozen
class SweepReport:
    """What one sweep found and changed."""

    #: Enrollments with an item past its due date and the grace days.
    checked: int = 0
    #: Items found overdue by this sweep (each announced once).
    items_overdue: int = 0
    #: Enrollments whose status this sweep changed.
    changed: int = 0
    #: Of those, enrollments this sweep suspended.
    suspended: int = 0
    #: Scheduled items whose payers this sweep reminded (``installment.upcoming``).
    items_reminded: int = 0
    #: Seat offers that lapsed (each seat then offered to the next in line).
    offers_expired: int = 0

    def summary(self) -> str:
        """One line for logs and cron mail (lapsed seat offers only when there were some)."""
        line = (
            f"checked={self.checked} overdue={self.items_overdue} "
            f"changed={self.changed} suspended={self.suspended} reminded={self.items_reminded}"
        )
        return f"{line} offers_expired={self.offers_expired}" if self.offers_expired else line


@attrs.frozen
class CollectionReport:
    """The summary of one ``collect_due`` run.

    ``outcomes`` lists every item's outcome; a run with
    ``keep_outcomes=False`` leaves it empty and keeps only the counts
    (``counted`` per result and ``charged_count``), so its memory does not
    grow with the number of items.
    """

    outcomes: tuple[ItemOutcome, ...] = ()
    counted: Mapping[ItemResult, int] | None = attrs.field(default=None, hash=False)
    charged_count: int | None = None
    #: The sweep that ran first (overdue items, status changes); None if none ran.
    sweep: SweepReport | None = None

    def count(self, result: ItemResult) -> int:
        """How many items ended with ``result``."""
        if self.counted is not None:
            return self.counted.get(result, 0)
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def charged(self) -> int:
        """Items for which the gateway was asked to charge."""
        if self.charged_count is not None:
            return self.charged_count
        return sum(1 for o in self.outcomes if o.attempt_id is not None)

    @property
    def succeeded(self) -> int:
        """Items paid."""
        return self.count("succeeded")

    @property
    def failed(self) -> int:
        """Items declined (retry pending, defaulted or needing a new card)."""
        return sum(self.count(r) for r in ("failed", "defaulted", "requires_payment_method"))

    @property
    def requires_action(self) -> int:
        """Items waiting for the customer to authenticate."""
        return self.count("requires_action")

    @property
    def unknown(self) -> int:
        """Items whose outcome is unknown until ``reconcile``."""
        return self.count("unknown")

    @property
    def skipped(self) -> int:
        """Items left alone (taken by another worker, paused, ...)."""
        return self.count("skipped")

    @property
    def capped(self) -> int:
        """Retries held back by a card network's retry cap (moved, not sent)."""
        return self.count("capped")

    @property
    def needs_attention(self) -> bool:
        """True when something failed or is unknown."""
        return bool(self.failed or self.unknown or self.requires_action)

    def summary(self) -> str:
        """One line for logs and cron mail (``capped=`` at the end when a cap held a retry)."""
        line = (
            f"charged={self.charged} succeeded={self.succeeded} failed={self.failed} "
            f"requires_action={self.requires_action} unknown={self.unknown} skipped={self.skipped}"
        )
        return f"{line} capped={self.capped}" if self.capped else line


class OutcomeLog:
    """Gathers a ``collect_due`` run's outcomes into its report, or only counts them."""

    def __init__(self, *, keep: bool = True) -> None:
        self._keep = keep
        self._kept: list[ItemOutcome] = []
        self._counted: dict[ItemResult, int] = {}
        self._charged = 0
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def append(self, outcome: ItemOutcome) -> None:
        """Count one item's outcome (and keep it, unless told not to)."""
        self._total += 1
        self._counted[outcome.result] = self._counted.get(outcome.result, 0) + 1
        self._charged += outcome.attempt_id is not None
        if self._keep:
            self._kept.append(outcome)

    def extend(self, outcomes: Iterable[ItemOutcome]) -> None:
        """:meth:`append` each outcome."""
        for outcome in outcomes:
            self.append(outcome)

    def report(self) -> CollectionReport:
        """The run's report."""
        if self._keep:
            return CollectionReport(tuple(self._kept))
        return CollectionReport(counted=dict(self._counted), charged_count=self._charged)


@attrs.frozen
class ReconcileReport:
    """The summary of one ``reconcile`` run; ``drift`` is its walk of the gateway's record."""

    checked: int = 0
    resolved: int = 0
    resent: int = 0
    still_unknown: int = 0
    refunds_completed: int = 0
    refunds_failed: int = 0
    drift: DriftReport = attrs.Factory(DriftReport)
    #: Payments still processing within their settlement window (bank debits
    #: clearing): no failure. One past its window is a drift entry for a person.
    settling: int = 0

    @property
    def needs_person(self) -> bool:
        """A difference that was not applied, or a refund the gateway refused."""
        return bool(self.drift.open or self.refunds_failed)

    @property
    def in_sync(self) -> bool:
        """Nothing left to do: no drift, no outcome still unknown, every listing read."""
        return not (
            self.needs_person or self.drift.fixed or self.still_unknown or self.drift.incomplete
        )

    def summary(self) -> str:
        """One line for logs."""
        return (
            f"checked={self.checked} resolved={self.resolved} resent={self.resent} "
            f"still_unknown={self.still_unknown} refunds_completed={self.refunds_completed} "
            f"refunds_failed={self.refunds_failed} settling={self.settling}"
        )


@attrs.frozen
class CancellationResult:
    """A cancellation and the refunds it made."""

    enrollment: Enrollment
    refund_total: Money
    refunds: tuple[Refund, ...]
    quote: RefundQuote | None
    cancelled_items: int


#: ``deferred``: the event concerns one of our payments whose own success has
#: not been recorded yet (a refund or dispute delivered before it); nothing
#: is recorded, not even the event's id, so the gateway's redelivery applies it.
WebhookResult = Literal["processed", "duplicate", "ignored", "stale", "deferred"]


@attrs.frozen
class WebhookOutcome:
    """What ``handle_webhook`` did with an event."""

    result: WebhookResult
    event_id: str
    event_type: str
    detail: str = ""


@attrs.frozen
class Stats:
    """Dashboard figures, per currency (currencies are never summed together)."""

    today: date
    collected: Mapping[str, Money]
    refunded: Mapping[str, Money]
    #: ``collected - refunded - disputed``.
    net: Mapping[str, Money]
    outstanding: Mapping[str, Money]
    overdue: Mapping[str, Money]
    enrollments_by_status: Mapping[EnrollmentStatus, int]
    items_by_status: Mapping[str, int]
    #: What chargebacks took and did not give back.
    disputed: Mapping[str, Money] = attrs.field(factory=dict, hash=False)
