"""Plan-change methods of :class:`~enrollpay.PaymentSystem`: apply and preview.

Each is a function of the system (``self``) that delegates to
:mod:`enrollpay.service.plan_change`; :mod:`enrollpay.service.system`
attaches them to the class by name.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from enrollpay.domain.plan_change import PlanChange
from enrollpay.domain.plans import PaymentPlan
from enrollpay.service import plan_change
from enrollpay.service.plan_change import PlanChangeResult

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["change_plan", "preview_plan_change"]


def change_plan(
    self: PaymentSystem,
    enrollment_id: str,
    plan: PaymentPlan,
    *,
    at: date | None = None,
    actor: str = "system",
) -> PlanChangeResult:
    """Move an active enrollment's remaining balance to ``plan`` from ``at`` (default: today).

    The open items are superseded and the balance laid out by ``plan`` as
    the next schedule version (``schedule.changed``, audited). ``plan`` must
    be one the product offers; the total owed never changes. Typed errors:
    ``PlanNotOffered``, ``PlanChangeRefused`` (paused, cancelled, completed
    or defaulted enrollment; to or from a subscription; the same plan; a
    coupon that does not allow the plan's kind; nothing owed),
    ``PlanChangeBlocked`` (a payment under way: retry after it settles),
    ``PlanError`` (the balance does not fit the plan); nothing written.
    """
    return plan_change.change_plan(self._ctx, enrollment_id, plan, at=at, actor=actor)


def preview_plan_change(
    self: PaymentSystem, enrollment_id: str, plan: PaymentPlan, *, at: date | None = None
) -> PlanChange:
    """What :meth:`change_plan` would do (the diff), with the same refusals; writes nothing."""
    return plan_change.preview_plan_change(self._ctx, enrollment_id, plan, at=at)
