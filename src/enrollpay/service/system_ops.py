"""Methods of :class:`~enrollpay.PaymentSystem` that scheduled jobs run besides ``collect_due``.

Each is a function of the system (``self``) that delegates to its use-case
module; :mod:`enrollpay.service.system` attaches them to the class by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from enrollpay.service import sweep as sweeping
from enrollpay.service.results import SweepReport

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["sweep"]


def sweep(self: PaymentSystem, now: datetime | None = None) -> SweepReport:
    """Let the calendar move statuses: overdue items, past_due and suspended enrollments.

    An unpaid item more than ``config.grace_days`` past its due date is
    overdue (``installment.overdue``, once) whether or not it was ever
    charged; its enrollment becomes ``past_due``, and ``suspended`` once an
    item has been overdue ``config.suspend_after_days`` (``access.suspended``).
    A payment that clears the arrears restores access. A scheduled item due
    within ``config.remind_days_before`` days is announced once
    (``installment.upcoming``), so the payer can be reminded. Idempotent,
    needs no gateway, and runs at the start of every ``collect_due``.
    ``now`` defaults to the clock's time.
    """
    return sweeping.sweep(self._ctx, now)
