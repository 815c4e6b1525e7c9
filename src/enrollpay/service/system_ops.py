"""Methods of :class:`~enrollpay.PaymentSystem` that change state, written outside its module.

Rescheduling, waiving, pausing and resuming; the saved-card flows (a
trial's card setup, a card update, saving the new card); the sweep, a
scheduled job besides ``collect_due``; and reconcile. Each is a
function of the system (``self``) that delegates to its use-case module;
:mod:`enrollpay.service.system` attaches them to the class by name.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from enrollpay.service import pause as pausing
from enrollpay.service import payment_methods, subscriptions, trials
from enrollpay.service import reconcile as reconciling
from enrollpay.service import reschedule as rescheduling
from enrollpay.service import sweep as sweeping
from enrollpay.service.results import ItemOutcome, ReconcileReport, SweepReport

if TYPE_CHECKING:
    from enrollpay.domain.records import Enrollment, ScheduleItem
    from enrollpay.ports import SubscriptionInfo
    from enrollpay.service.system import PaymentSystem

__all__ = [
    "pause",
    "reconcile",
    "reschedule",
    "resume",
    "start_payment_method_update",
    "start_setup",
    "subscribe_at_gateway",
    "sweep",
    "update_payment_method",
    "waive_item",
]


def reschedule(self: PaymentSystem, item_id: str, new_due: date, *, actor: str) -> ScheduleItem:
    """Move an unpaid item's due date (not into the past); it is retried afresh."""
    return rescheduling.reschedule(self._ctx, item_id, new_due, actor=actor)


def waive_item(
    self: PaymentSystem, item_id: str, *, actor: str, reason: str | None = None
) -> ScheduleItem:
    """Forgive an unpaid item: it is no longer owed."""
    return rescheduling.waive_item(self._ctx, item_id, actor=actor, reason=reason)


def pause(
    self: PaymentSystem, enrollment_id: str, *, actor: str, reason: str | None = None
) -> Enrollment:
    """Stop collection: scheduled and failed items wait until ``resume``."""
    return pausing.pause(self._ctx, enrollment_id, actor=actor, reason=reason)


def resume(self: PaymentSystem, enrollment_id: str, *, actor: str) -> Enrollment:
    """Restart collection; unpaid paused items move later by the days paused."""
    return pausing.resume(self._ctx, enrollment_id, actor=actor)


def sweep(self: PaymentSystem, now: datetime | None = None) -> SweepReport:
    """Let the calendar move statuses: overdue items, past_due and suspended enrollments.

    An unpaid item more than ``config.grace_days`` past its due date is
    overdue (``installment.overdue``, once) whether or not it was ever
    charged; its enrollment becomes ``past_due``, and ``suspended`` once an
    item has been overdue ``config.suspend_after_days`` (``access.suspended``).
    A payment that clears the arrears restores access. A scheduled item of
    an active enrollment due within ``config.remind_days_before`` days is
    announced once (``installment.upcoming``), so the payer can be
    reminded. Idempotent,
    needs no gateway, and runs at the start of every ``collect_due``.
    ``now`` defaults to the clock's time.
    """
    return sweeping.sweep(self._ctx, now)


def reconcile(self: PaymentSystem) -> ReconcileReport:
    """Resolve unknown outcomes, finish pending refunds, and re-sync the gateway's record.

    Each unknown (or stale pending) attempt is looked up at the gateway by
    its payment id or idempotency key. A payment the gateway never saw goes
    back to ``pending`` and is sent again by ``collect_due`` with the *same*
    key; a new attempt is never made for it. Payments the customer can
    still complete are looked up too, in case their webhook was lost: those
    waiting for authentication, and declined on-session checkouts until
    they are cancelled. Refunds a crash or an outage left pending are sent
    again with their key.

    Then, when the gateway lists its own record
    (:class:`~enrollpay.ports.LedgerGateway`), the payments and refunds it
    made since the last run (less ``config.drift_overlap``) are compared
    with the store: a payment or refund whose webhook was lost is applied
    as the webhook would have applied it; an amount that differs, or an
    object with our metadata that matches nothing, is reported in
    ``report.drift`` (and the audit trail), never guessed at. See
    :mod:`enrollpay.service.resync`.
    """
    return reconciling.reconcile(self._ctx)


def start_setup(self: PaymentSystem, enrollment_id: str) -> str:
    """The client secret of the card setup a trial waits for, opened again if need be.

    ``enroll`` returns it as ``setup_client_secret``; call this when that
    call could not reach the gateway (``payment_error``) or the student
    comes back later. The flow is keyed by the enrollment, so it is the
    same one, never a second. Raises ``EnrollmentNotFoundError``, and
    ``InvalidStateError`` when the enrollment waits for no card.
    """
    return trials.start_setup(self._ctx, enrollment_id)


def start_payment_method_update(self: PaymentSystem, user_id: str) -> str:
    """A client secret for the card-update form (a setup flow at the gateway)."""
    return payment_methods.start_payment_method_update(self._ctx, user_id)


def update_payment_method(
    self: PaymentSystem, user_id: str, payment_method_id: str, *, actor: str = "customer"
) -> list[ItemOutcome]:
    """Make a new saved card the default and charge waiting items once each.

    Items that need a new payment method (hard declines, defaulted items)
    are retried immediately, one attempt each. Trials that wait for a card
    stop waiting (active during the trial).
    """
    return payment_methods.update_payment_method(self._ctx, user_id, payment_method_id, actor=actor)


def subscribe_at_gateway(
    self: PaymentSystem, enrollment_id: str, *, price_id: str, trial_days: int = 0
) -> SubscriptionInfo:
    """Have the gateway bill the enrollment as a subscription to its price ``price_id``.

    The subscription's id is stored on the enrollment (event
    ``subscription.created``), so the gateway's ``customer.subscription.*``
    and ``invoice.*`` webhooks find it; from then on ``collect_due`` leaves
    its items to the gateway, whose invoices settle them. Idempotent: a
    second call gets the same subscription. Needs a gateway that bills
    subscriptions (:class:`~enrollpay.ports.SubscriptionGateway`).
    """
    return subscriptions.subscribe_at_gateway(
        self._ctx, enrollment_id, price_id=price_id, trial_days=trial_days
    )
