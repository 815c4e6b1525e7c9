"""Methods of :class:`~enrollpay.PaymentSystem` that scheduled jobs run besides ``collect_due``.

Each is a function of the system (``self``) that delegates to its use-case
module; :mod:`enrollpay.service.system` attaches them to the class by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from enrollpay.service import reconcile as reconciling
from enrollpay.service import sweep as sweeping
from enrollpay.service.results import ReconcileReport, SweepReport

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["reconcile", "sweep"]


def sweep(self: PaymentSystem, now: datetime | None = None) -> SweepReport:
    """Let the calendar move statuses: overdue items, past_due and suspended enrollments.

    An unpaid item more than ``config.grace_days`` past its due date is
    overdue (``installment.overdue``, once) whether or not it was ever
    charged; its enrollment becomes ``past_due``, and ``suspended`` once an
    item has been overdue ``config.suspend_after_days`` (``access.suspended``).
    A payment that clears the arrears restores access. Idempotent, needs no
    gateway, and runs at the start of every ``collect_due``. ``now``
    defaults to the clock's time.
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
