"""How a discounted price is laid over a plan's payments (the spreading policy).

Two policies:

- ``"pro_rata"`` (the default): the schedule is built for the list price,
  then the discount is split over its payments in proportion to their
  amounts, through the one allocator
  (:meth:`~enrollpay.domain.money.Money.allocate`). The allocator floors
  each share to the granularity and hands the leftover out one step at a
  time; the payments are given to it last first, so the leftover lands on
  the last payments (the last one first). A 20% deposit stays 20% of what
  the student pays.
- ``"reprice"``: the schedule is built for the discounted price, as if it
  were the list price: a percent deposit is taken of the discounted price,
  a fixed deposit stays as it is and the installments absorb the discount.

Either way the payments add up to the discounted price, each is a multiple
of the granularity and at least the gateway's minimum charge; a discount
that would push a payment below it is refused
(:class:`~enrollpay.errors_discounts.DiscountSpreadError` for
``pro_rata``, :class:`~enrollpay.errors.PlanError` for ``reprice``) rather
than charged. A free enrollment (a 100% discount) has one ``full`` line of
zero, which the service waives: nothing is charged, the enrollment is
complete at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal, get_args

import attrs

from enrollpay.domain.discounts import AppliedDiscount
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.schedule import DEFAULT_HORIZON, ScheduleLine, build_schedule
from enrollpay.errors_discounts import DiscountError, DiscountSpreadError

__all__ = ["SPREAD_POLICIES", "SpreadPolicy", "discounted_schedule", "spread_discount"]

SpreadPolicy = Literal["pro_rata", "reprice"]
SPREAD_POLICIES: tuple[SpreadPolicy, ...] = get_args(SpreadPolicy)


def spread_discount(
    lines: Sequence[ScheduleLine],
    discount: Money,
    *,
    granularity: int = 1,
    minimum: Money | None = None,
) -> tuple[ScheduleLine, ...]:
    """Take ``discount`` off ``lines`` pro rata, the leftover on the last lines.

    ``share_i = discount.allocate(amounts, granularity)`` with the lines in
    reverse order, so the shares add up to ``discount`` exactly and no share
    is more than one granularity step above ``discount * amount_i / total``.
    """
    if not lines:
        raise DiscountError("there is no payment to spread a discount over")
    if discount.minor < 0:
        raise DiscountError(f"a discount must not be negative, got {discount}")
    ratios = [line.amount.minor for line in reversed(lines)]
    shares = discount.allocate(ratios, granularity=granularity)[::-1]
    spread = tuple(
        attrs.evolve(line, amount=line.amount - share)
        for line, share in zip(lines, shares, strict=True)
    )
    for line in spread:
        floor = minimum if minimum is not None else Money(1, discount.currency)
        if line.amount < floor:
            raise DiscountSpreadError(
                f"with {discount} off, payment {line.seq} would be {line.amount}, "
                f"below the minimum charge {floor}: choose a plan with fewer payments"
            )
    return spread


def discounted_schedule(
    plan: PaymentPlan,
    applied: AppliedDiscount,
    start: date,
    *,
    granularity: int = 1,
    minimum: Money | None = None,
    horizon: int = DEFAULT_HORIZON,
    policy: SpreadPolicy = "pro_rata",
) -> tuple[ScheduleLine, ...]:
    """The schedule of ``plan`` for the discounted price (see the module for the policies)."""
    if policy not in SPREAD_POLICIES:
        raise DiscountError(f"spread policy must be one of {SPREAD_POLICIES}, got {policy!r}")
    if applied.discount.minor == 0:
        return build_schedule(
            plan,
            applied.list_price,
            start,
            granularity=granularity,
            minimum=minimum,
            horizon=horizon,
        )
    if applied.free:
        return (ScheduleLine(1, "full", start, applied.price),)
    if policy == "reprice":
        return build_schedule(
            plan, applied.price, start, granularity=granularity, minimum=minimum, horizon=horizon
        )
    lines = build_schedule(
        plan, applied.list_price, start, granularity=granularity, horizon=horizon
    )
    return spread_discount(lines, applied.discount, granularity=granularity, minimum=minimum)
