"""Exact payment schedules built from a plan, a price and a start date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Literal, Protocol

import attrs

from enrollpay.domain.calendar import due_date
from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.domain.statuses import ItemStatus
from enrollpay.errors import PlanError

__all__ = [
    "DEFAULT_HORIZON",
    "ItemKind",
    "ScheduleLine",
    "build_schedule",
    "paid_through",
    "subscription_line",
]

ItemKind = Literal["deposit", "installment", "full", "period"]

#: How many periods of an open-ended subscription a schedule holds ahead.
DEFAULT_HORIZON = 12


@attrs.frozen
class ScheduleLine:
    """One planned payment: its 1-based ``seq``, ``kind``, ``due`` date and ``amount``.

    ``payer_id`` names the payer who owes it (None: the student; see
    :mod:`enrollpay.domain.payers`).
    """

    seq: int
    kind: ItemKind
    due: date
    amount: Money
    payer_id: str | None = None


def build_schedule(
    plan: PaymentPlan,
    price: Money,
    start: date,
    *,
    granularity: int = 1,
    minimum: Money | None = None,
    horizon: int = DEFAULT_HORIZON,
) -> tuple[ScheduleLine, ...]:
    """Lay out every payment of ``plan`` for ``price`` starting on ``start``.

    - full payment: one line, the price, due on ``start``;
    - installments without deposit: ``price.allocate(count)``, the first due
      on ``start``, then one per interval (``start + i * interval``);
    - installments with deposit: the deposit due on ``start``, then the
      remainder allocated over ``count`` lines due ``start + i * interval``
      for ``i = 1..count``;
    - subscription: one line per period of ``amount`` (default: the price),
      the first on ``start + trial_days``; an open-ended subscription holds
      the next ``horizon`` periods.

    Finite plans sum exactly to ``price``. Every amount is a multiple of
    ``granularity`` minor units and at least ``minimum``, else
    :class:`~enrollpay.errors.PlanError`.
    """
    if isinstance(granularity, bool) or not isinstance(granularity, int) or granularity < 1:
        raise PlanError(f"granularity must be a positive int, got {granularity!r}")
    if price.minor <= 0:
        raise PlanError(f"price must be positive, got {price}")
    if price.minor % granularity:
        raise PlanError(f"price {price} is not a multiple of {granularity} minor units")
    if minimum is not None and minimum.currency != price.currency:
        raise PlanError(f"minimum {minimum} is not in the price currency {price.currency}")
    lines: list[ScheduleLine]
    if isinstance(plan, FullPayment):
        lines = [ScheduleLine(1, "full", start, price)]
    elif isinstance(plan, Installments):
        lines = _installments(plan, price, start, granularity)
    elif isinstance(plan, Subscription):
        if horizon < 1:
            raise PlanError(f"horizon must be at least 1, got {horizon}")
        count = horizon if plan.cycles is None else plan.cycles
        lines = [subscription_line(plan, price, start, seq) for seq in range(1, count + 1)]
    else:
        raise PlanError(f"not a payment plan: {plan!r}")
    for line in lines:
        if line.amount.minor % granularity:
            raise PlanError(f"amount {line.amount} is not a multiple of {granularity} minor units")
        if line.amount.minor <= 0 or (minimum is not None and line.amount < minimum):
            floor = minimum if minimum is not None else Money(1, price.currency)
            raise PlanError(
                f"payment {line.seq} of {line.amount} is below the minimum charge {floor}"
            )
    return tuple(lines)


def _installments(
    plan: Installments, price: Money, start: date, granularity: int
) -> list[ScheduleLine]:
    if plan.deposit is None:
        parts = price.allocate(plan.count, granularity=granularity)
        return [
            ScheduleLine(i + 1, "installment", due_date(start, plan.interval, i), amount)
            for i, amount in enumerate(parts)
        ]
    deposit = plan.deposit.amount_for(price, granularity=granularity)
    parts = (price - deposit).allocate(plan.count, granularity=granularity)
    lines = [ScheduleLine(1, "deposit", start, deposit)]
    lines.extend(
        ScheduleLine(i + 2, "installment", due_date(start, plan.interval, i + 1), amount)
        for i, amount in enumerate(parts)
    )
    return lines


def subscription_line(plan: Subscription, price: Money, start: date, seq: int) -> ScheduleLine:
    """Period ``seq`` (1-based) of a subscription that started on ``start``."""
    if seq < 1 or (plan.cycles is not None and seq > plan.cycles):
        raise PlanError(f"subscription has no period {seq}")
    amount = plan.amount if plan.amount is not None else price
    if amount.currency != price.currency:
        raise PlanError(f"subscription amount {amount} is not in {price.currency}")
    anchor = start + timedelta(days=plan.trial_days)
    return ScheduleLine(seq, "period", due_date(anchor, plan.interval, seq - 1), amount)


class _DueItem(Protocol):
    @property
    def due(self) -> date: ...

    @property
    def status(self) -> ItemStatus: ...


#: An item in one of these is no longer owed: it counts towards ``paid_through``.
SETTLED = frozenset({ItemStatus.PAID, ItemStatus.WAIVED})


def paid_through(items: Iterable[_DueItem]) -> date | None:
    """The date through which an enrollment is paid: the last due date with nothing owed up to it.

    Precisely: the latest due date ``D`` of a settled item (paid or waived)
    such that every item due on or before ``D`` is settled. Taken in due
    order, that is the due date of the last item of the unbroken run of
    settled items from the first. ``None`` when the earliest item is not
    settled (or there are none). Any other status breaks the run: open,
    failed, partly paid, and cancelled items (a cancelled item was not paid).
    With items due Jan 1, Feb 1 and Mar 1, the first two paid:
    ``paid_through`` is Feb 1, the period starting then is paid for.
    Items a plan change superseded are no longer part of the schedule
    and are left out (the items that replaced them count instead).
    """
    current = (item for item in items if item.status != ItemStatus.SUPERSEDED)
    ordered = sorted(current, key=lambda item: item.due)
    first_owed = next((i.due for i in ordered if i.status not in SETTLED), None)
    settled = [i.due for i in ordered if first_owed is None or i.due < first_owed]
    return settled[-1] if settled else None
