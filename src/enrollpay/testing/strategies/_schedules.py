"""Strategies for schedules: a plan, a price and a start that fit, and what they build."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from typing import Final

import attrs
from hypothesis import strategies as st

from enrollpay.domain.money import Money
from enrollpay.domain.plans import Deposit, FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.testing.strategies._calendar import dates, intervals
from enrollpay.testing.strategies._money import currencies, granularities

PLAN_KINDS: Final = frozenset({"full", "installments", "subscription"})


@attrs.frozen
class ScheduleCase:
    """Inputs :func:`~enrollpay.build_schedule` accepts, and the ``lines`` it built from them.

    ``lines == build_schedule(plan, price, start, granularity=granularity)``.
    """

    plan: PaymentPlan
    price: Money
    start: date
    granularity: int
    lines: tuple[ScheduleLine, ...]


def _percent_range(units: int, count: int) -> tuple[int, int]:
    """Hundredths of a percent whose deposit on ``units`` steps leaves ``count`` steps or more.

    The deposit is ``round_half_up(hundredths * units / 10000)`` steps: at
    least one needs ``hundredths * units >= 5000``; at most ``units - count``
    needs ``hundredths * units < (units - count + 1/2) * 10000``.
    """
    low = max(1, -(-5000 // units))
    high = min(9999, ((2 * (units - count) + 1) * 5000 - 1) // units)
    return low, high


@st.composite
def _cases(
    draw: st.DrawFn,
    *,
    currency: str | None,
    kinds: frozenset[str],
    granularity: int | None,
    start: st.SearchStrategy[date],
    max_count: int,
    max_price_units: int,
) -> ScheduleCase:
    code = draw(currencies()) if currency is None else currency
    step = draw(granularities()) if granularity is None else granularity
    kind = draw(st.sampled_from(sorted(kinds)))
    plan: PaymentPlan
    if kind == "installments":
        count = draw(st.integers(1, min(max_count, max_price_units - 1)))
        deposit = draw(st.sampled_from(("none", "percent", "fixed")))
        # one step per installment, and one more for a deposit
        units = draw(st.integers(count + (deposit != "none"), max_price_units))
        taken: Deposit | None = None
        if deposit == "percent":
            hundredths = draw(st.integers(*_percent_range(units, count)))
            taken = Deposit.percent(Decimal(hundredths).scaleb(-2))
        elif deposit == "fixed":
            taken = Deposit.fixed(Money(draw(st.integers(1, units - count)) * step, code))
        plan = Installments(count, draw(intervals()), taken)
    else:
        units = draw(st.integers(1, max_price_units))
        plan = FullPayment()
        if kind == "subscription":
            amount = draw(st.none() | st.integers(1, max_price_units))
            plan = Subscription(
                draw(intervals()),
                amount=None if amount is None else Money(amount * step, code),
                cycles=draw(st.none() | st.integers(1, 36)),
                trial_days=draw(st.integers(0, 60)),
            )
    price = Money(units * step, code)
    day = draw(start)
    lines = build_schedule(plan, price, day, granularity=step)
    return ScheduleCase(plan, price, day, step, lines)


def schedule_cases(
    currency: str | None = None,
    *,
    kinds: Collection[str] = PLAN_KINDS,
    granularity: int | None = None,
    start: st.SearchStrategy[date] | None = None,
    max_count: int = 120,
    max_price_units: int = 10**9,
) -> st.SearchStrategy[ScheduleCase]:
    """A plan of one of ``kinds``, a price and a start date, with the schedule built from them.

    The price is 1 to ``max_price_units`` steps of ``granularity`` minor
    units (drawn from :func:`granularities` when ``None``), in ``currency``
    or any. Installments number 1 to ``max_count``, each at least one step;
    deposits (percent or fixed) are above zero and leave that much.
    Subscriptions charge the price or their own amount, 1 to 36 cycles or
    open ended. Start dates come from ``start`` (default :func:`dates`).
    Finite plans other than subscriptions sum exactly to the price.
    """
    chosen = frozenset(kinds)
    if not chosen or not chosen <= PLAN_KINDS:
        raise ValueError(f"kinds must be a non-empty subset of {sorted(PLAN_KINDS)}, got {kinds}")
    if max_price_units < 2 and "installments" in chosen:
        raise ValueError("installments need max_price_units >= 2")
    if max_count < 1 or (granularity is not None and granularity < 1):
        raise ValueError("max_count and granularity must be at least 1")
    code = None if currency is None else Money.zero(currency).currency
    days = dates() if start is None else start
    return _cases(
        currency=code,
        kinds=chosen,
        granularity=granularity,
        start=days,
        max_count=max_count,
        max_price_units=max_price_units,
    )


def schedules(
    currency: str | None = None,
    *,
    kinds: Collection[str] = PLAN_KINDS,
    granularity: int | None = None,
    start: st.SearchStrategy[date] | None = None,
    max_count: int = 120,
    max_price_units: int = 10**9,
) -> st.SearchStrategy[tuple[ScheduleLine, ...]]:
    """Just the built schedules of :func:`schedule_cases` (same arguments)."""
    cases = schedule_cases(
        currency,
        kinds=kinds,
        granularity=granularity,
        start=start,
        max_count=max_count,
        max_price_units=max_price_units,
    )
    return cases.map(lambda case: case.lines)
