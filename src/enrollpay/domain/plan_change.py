"""Mid-stream plan change: what an enrollment still owes, laid out by another plan.

An active enrollment may move to another plan its product offers (twelve
monthly installments to six, or the rest in one payment). Nothing already
settled changes: paid and waived items stay as they are, and so does the
money received on an item that was partly paid. Every item still owed (the
*open* items) is **superseded**, and what they still owed (their
``outstanding``, summed: the remaining balance) is laid out by the new plan
from the change date (the *anchor*), as :func:`~enrollpay.domain.schedule.build_schedule`
lays out a new enrollment. The new items form the next **schedule
version**; their sequence numbers continue after the last item's.

The rules, all decided here and documented in ``docs/howto/plan-change.md``:

- **The total owed never changes.** The new items sum exactly to the
  remaining balance. A coupon restricted to plan kinds that do not include
  the new plan's kind refuses the change (reason ``coupon``) rather than
  silently losing the discount; so there is no exception to the rule.
- **A deposit is taken once.** If anything has been paid on the
  enrollment (a deposit, an installment, part of one), the new plan's
  deposit is dropped and the whole remaining balance is spread over its
  installments. With nothing paid yet, the new plan applies as written,
  its deposit computed on the remaining balance.
- **Full payment** ("pay the rest in full") is one item of the remaining
  balance due on the change date.
- Only plans the product offers are accepted
  (:func:`~enrollpay.domain.plans.eligible_plans`, else
  :class:`~enrollpay.errors.PlanNotOffered`); a change to or from a
  subscription, to the plan the enrollment is on, of a paused, cancelled,
  completed or defaulted enrollment, or of one that owes nothing is
  refused (:class:`~enrollpay.errors_plan_change.PlanChangeRefused`). An
  item being charged right now blocks it
  (:class:`~enrollpay.errors_plan_change.PlanChangeBlocked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.plans import Installments, PaymentPlan, Subscription, plan_to_data
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.domain.statuses import OPEN_ITEM_STATUSES, EnrollmentStatus, ItemStatus
from enrollpay.errors import PlanNotOffered
from enrollpay.errors_plan_change import PlanChangeBlocked, PlanChangeRefused

__all__ = ["NOT_CHANGEABLE", "DiffLine", "PlanChange", "plan_change"]

#: Enrollment statuses whose plan cannot change.
NOT_CHANGEABLE = frozenset(
    {
        EnrollmentStatus.PAUSED,
        EnrollmentStatus.CANCELLED,
        EnrollmentStatus.COMPLETED,
        EnrollmentStatus.DEFAULTED,
    }
)


@attrs.frozen
class DiffLine:
    """One line of a plan change's diff: a payment's ``seq``, ``due`` date and ``amount``."""

    seq: int
    due: date
    amount: Money

    def to_data(self) -> dict[str, Any]:
        """A JSON-ready mapping (the date in ISO 8601, the amount in minor units)."""
        return {
            "seq": self.seq,
            "due": self.due.isoformat(),
            "amount": {"minor": self.amount.minor, "currency": self.amount.currency},
        }


@attrs.frozen
class PlanChange:
    """What a plan change does, decided before anything is written.

    ``removed`` are the open items it supersedes, ``added`` the lines of
    schedule version ``new_version`` that replace them. ``owed_before`` (what
    the removed items still owed) always equals ``owed_after`` (what the
    added lines sum to).
    """

    enrollment_id: str
    plan_before: PaymentPlan
    plan_after: PaymentPlan
    anchor: date
    old_version: int
    new_version: int
    removed: tuple[ScheduleItem, ...]
    added: tuple[ScheduleLine, ...]
    owed_before: Money
    owed_after: Money
    #: Whether the new plan's deposit was left out because money was paid already.
    deposit_dropped: bool

    @property
    def was_due(self) -> tuple[DiffLine, ...]:
        """What was due: each superseded item's date and what it still owed."""
        return tuple(DiffLine(i.seq, i.due, i.outstanding) for i in self.removed)

    @property
    def due_now(self) -> tuple[DiffLine, ...]:
        """What is due now: each new item's date and amount."""
        return tuple(DiffLine(line.seq, line.due, line.amount) for line in self.added)

    def summary(self) -> dict[str, Any]:
        """The change as JSON-ready data (the ``schedule.changed`` event's, the API's)."""
        owed = {"minor": self.owed_after.minor, "currency": self.owed_after.currency}
        return {
            "from_plan": plan_to_data(self.plan_before),
            "to_plan": plan_to_data(self.plan_after),
            "anchor": self.anchor.isoformat(),
            "old_version": self.old_version,
            "new_version": self.new_version,
            "owed": owed,
            "deposit_dropped": self.deposit_dropped,
            "was_due": [line.to_data() for line in self.was_due],
            "due_now": [line.to_data() for line in self.due_now],
        }


def _check_replannable(eid: str, open_items: Sequence[ScheduleItem]) -> None:
    """Payers' shares and tax lines would have to be laid out anew: not done yet."""
    if any(i.payer_id is not None for i in open_items):
        raise PlanChangeRefused(eid, "payers", "a schedule split between payers is not re-planned")
    if any(i.tax is not None for i in open_items):
        raise PlanChangeRefused(eid, "taxed", "a taxed schedule is not re-planned")


def plan_change(
    enrollment: Enrollment,
    items: Sequence[ScheduleItem],
    plan: PaymentPlan,
    *,
    offered: Sequence[PaymentPlan],
    anchor: date,
    granularity: int = 1,
    minimum: Money | None = None,
    coupon_plan_kinds: frozenset[str] | None = None,
) -> PlanChange:
    """Decide how ``enrollment`` (with all its ``items``) moves to ``plan`` on ``anchor``.

    ``offered``: the plans the product offers now; ``granularity`` and
    ``minimum``: the gateway's, as for a new schedule (a remaining balance
    the new plan cannot lay out within them raises
    :class:`~enrollpay.errors.PlanError`); ``coupon_plan_kinds``: the plan
    kinds the enrollment's coupon is restricted to (None: no restriction).
    Raises a typed error and decides nothing when the change is not allowed
    (see the module's rules).
    """
    eid = enrollment.id
    if enrollment.status in NOT_CHANGEABLE:
        raise PlanChangeRefused(eid, "status", f"it is {enrollment.status}")
    if isinstance(enrollment.plan, Subscription) or isinstance(plan, Subscription):
        raise PlanChangeRefused(eid, "subscription", "subscriptions are billed per period")
    if plan == enrollment.plan:
        raise PlanChangeRefused(eid, "same_plan")
    if plan not in offered:
        raise PlanNotOffered(f"{plan.kind} plan {plan!r} is not offered for {eid!r}")
    if coupon_plan_kinds is not None and plan.kind not in coupon_plan_kinds:
        raise PlanChangeRefused(
            eid, "coupon", f"coupon {enrollment.coupon_code!r} does not allow {plan.kind}"
        )
    open_items = tuple(i for i in items if i.status in OPEN_ITEM_STATUSES)
    if not open_items:
        raise PlanChangeRefused(eid, "nothing_owed")
    _check_replannable(eid, open_items)
    for item in open_items:
        if item.status == ItemStatus.PROCESSING:
            raise PlanChangeBlocked(eid, item.id, None)
    owed = Money.zero(enrollment.price.currency)
    for item in open_items:
        owed += item.outstanding
    paid_any = any(i.amount_paid.minor > 0 for i in items)
    layout = plan
    dropped = False
    if paid_any and isinstance(plan, Installments) and plan.deposit is not None:
        layout, dropped = Installments(plan.count, plan.interval), True
    lines = build_schedule(layout, owed, anchor, granularity=granularity, minimum=minimum)
    last_seq = max(i.seq for i in items)
    old_version = max(i.schedule_version for i in items)
    added = tuple(
        ScheduleLine(last_seq + line.seq, line.kind, line.due, line.amount) for line in lines
    )
    owed_after = Money.zero(owed.currency)
    for line in added:
        owed_after += line.amount
    return PlanChange(
        enrollment_id=eid,
        plan_before=enrollment.plan,
        plan_after=plan,
        anchor=anchor,
        old_version=old_version,
        new_version=old_version + 1,
        removed=open_items,
        added=added,
        owed_before=owed,
        owed_after=owed_after,
        deposit_dropped=dropped,
    )
