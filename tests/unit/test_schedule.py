from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import Deposit, FullPayment, Installments, Subscription
from enrollpay.domain.schedule import (
    DEFAULT_HORIZON,
    ScheduleLine,
    build_schedule,
    subscription_line,
)
from enrollpay.errors import PlanError
from enrollpay.testing.strategies import (
    ScheduleCase,
    currencies,
    dates,
    granularities,
    schedule_cases,
)

from .helpers import UNITS, relative_steps

START = date(2027, 3, 15)


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def dues(lines: tuple[ScheduleLine, ...]) -> list[date]:
    """The due dates of a schedule."""
    return [line.due for line in lines]


# --- examples -------------------------------------------------------------------------


def test_full_payment_is_one_line_on_the_start_date() -> None:
    """FullPayment: the whole price, due at enrollment."""
    assert build_schedule(FullPayment(), usd("299.99"), START) == (
        ScheduleLine(1, "full", START, usd("299.99")),
    )


def test_installments_start_on_the_enrollment_date_and_clamp_month_ends() -> None:
    """Installments(4) from Jan 31 is due Jan 31, Feb 28, Mar 31, Apr 30."""
    lines = build_schedule(Installments(4), usd("100.00"), date(2027, 1, 31))
    assert dues(lines) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert [line.amount for line in lines] == [usd("25.00")] * 4
    assert [line.seq for line in lines] == [1, 2, 3, 4]
    assert {line.kind for line in lines} == {"installment"}


def test_installments_from_jan_31_of_a_leap_year_hit_feb_29() -> None:
    """Starting 2028-01-31 the second date is 2028-02-29."""
    lines = build_schedule(Installments(4), usd("100.00"), date(2028, 1, 31))
    assert dues(lines)[1] == date(2028, 2, 29)
    assert dues(lines)[2] == date(2028, 3, 31)


def test_installments_split_with_the_leftover_first() -> None:
    """100.00 in three monthly installments: 33.34, 33.33, 33.33."""
    lines = build_schedule(Installments(3), usd("100.00"), START)
    assert [line.amount for line in lines] == [usd("33.34"), usd("33.33"), usd("33.33")]


def test_percent_deposit_then_monthly_installments() -> None:
    """299.99 with a 20% deposit and 3 monthly installments from 2027-03-15."""
    plan = Installments(3, Interval.months(1), Deposit.percent(20))
    assert build_schedule(plan, usd("299.99"), START) == (
        ScheduleLine(1, "deposit", date(2027, 3, 15), usd("60.00")),
        ScheduleLine(2, "installment", date(2027, 4, 15), usd("80.00")),
        ScheduleLine(3, "installment", date(2027, 5, 15), usd("80.00")),
        ScheduleLine(4, "installment", date(2027, 6, 15), usd("79.99")),
    )


def test_fixed_deposit_then_weekly_installments() -> None:
    """A fixed 100.00 deposit, then 2 installments one and two weeks later."""
    plan = Installments(2, Interval.weeks(1), Deposit.fixed(usd("100.00")))
    assert build_schedule(plan, usd("300.00"), START) == (
        ScheduleLine(1, "deposit", START, usd("100.00")),
        ScheduleLine(2, "installment", date(2027, 3, 22), usd("100.00")),
        ScheduleLine(3, "installment", date(2027, 3, 29), usd("100.00")),
    )


def test_granularity_applies_to_deposit_and_installments() -> None:
    """With whole-dollar granularity every line is a whole dollar."""
    plan = Installments(3, Interval.months(1), Deposit.percent(20))
    lines = build_schedule(plan, usd("299.00"), START, granularity=100)
    assert [line.amount for line in lines] == [
        usd("60.00"),
        usd("80.00"),
        usd("80.00"),
        usd("79.00"),
    ]


def test_subscription_holds_the_next_periods_after_the_trial() -> None:
    """An open-ended subscription lists `horizon` periods from start + trial."""
    plan = Subscription(Interval.months(1), amount=usd("49.00"), trial_days=17)
    lines = build_schedule(plan, usd("500.00"), date(2027, 1, 14), horizon=3)
    assert lines == (
        ScheduleLine(1, "period", date(2027, 1, 31), usd("49.00")),
        ScheduleLine(2, "period", date(2027, 2, 28), usd("49.00")),
        ScheduleLine(3, "period", date(2027, 3, 31), usd("49.00")),
    )


def test_open_ended_subscription_defaults_to_the_horizon_and_the_price() -> None:
    """Without amount or cycles: DEFAULT_HORIZON periods of the product price."""
    lines = build_schedule(Subscription(Interval.weeks(1)), usd("10.00"), START)
    assert len(lines) == DEFAULT_HORIZON
    assert {line.amount for line in lines} == {usd("10.00")}
    assert lines[-1].due == START + timedelta(weeks=DEFAULT_HORIZON - 1)


def test_finite_subscription_has_exactly_its_cycles() -> None:
    """cycles=3 gives three periods whatever the horizon."""
    plan = Subscription(Interval.years(1), cycles=3)
    lines = build_schedule(plan, usd("100.00"), date(2028, 2, 29), horizon=1)
    assert dues(lines) == [date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28)]


def test_subscription_line_computes_any_period_from_the_anchor() -> None:
    """Period 25 of a monthly subscription anchored Jan 31 is Jan 31 two years on."""
    plan = Subscription(Interval.months(1))
    line = subscription_line(plan, usd("10.00"), date(2027, 1, 31), 25)
    assert line == ScheduleLine(25, "period", date(2029, 1, 31), usd("10.00"))


@pytest.mark.parametrize("seq", [0, -1, 4])
def test_subscription_line_refuses_periods_outside_the_plan(seq: int) -> None:
    """Period 0 never exists; period 4 of a 3-cycle plan neither."""
    with pytest.raises(PlanError, match=f"no period {seq}"):
        subscription_line(Subscription(Interval.months(1), cycles=3), usd("1.00"), START, seq)


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", [0, -1, True, 1.0])
def test_granularity_must_be_a_positive_int(granularity: Any) -> None:
    """A bad granularity is a PlanError."""
    with pytest.raises(PlanError, match="granularity"):
        build_schedule(FullPayment(), usd("1.00"), START, granularity=granularity)


@pytest.mark.parametrize("price", [Money(0, "USD"), Money(-100, "USD")])
def test_price_must_be_positive(price: Money) -> None:
    """Nothing to schedule for a free or negative price."""
    with pytest.raises(PlanError, match="price must be positive"):
        build_schedule(FullPayment(), price, START)


def test_price_must_be_a_multiple_of_the_granularity() -> None:
    """299.99 cannot be collected in whole dollars."""
    with pytest.raises(PlanError, match="not a multiple"):
        build_schedule(Installments(3), usd("299.99"), START, granularity=100)


def test_minimum_must_be_in_the_price_currency() -> None:
    """A EUR minimum for a USD price is a PlanError."""
    with pytest.raises(PlanError, match="minimum"):
        build_schedule(FullPayment(), usd("10.00"), START, minimum=Money.of("1", "EUR"))


def test_no_line_may_fall_below_the_minimum_charge() -> None:
    """Twelve installments of 0.25 are refused when the gateway minimum is 0.50."""
    minimum = usd("0.50")
    assert build_schedule(Installments(6), usd("3.00"), START, minimum=minimum)
    with pytest.raises(PlanError, match=r"below the minimum charge 0\.50 USD"):
        build_schedule(Installments(12), usd("3.00"), START, minimum=minimum)


def test_more_installments_than_minor_units_is_refused() -> None:
    """0.02 USD cannot be paid in three installments of at least one cent."""
    with pytest.raises(PlanError, match=r"below the minimum charge 0\.01 USD"):
        build_schedule(Installments(3), usd("0.02"), START)


def test_horizon_must_be_positive_for_subscriptions() -> None:
    """horizon=0 would schedule nothing."""
    with pytest.raises(PlanError, match="horizon"):
        build_schedule(Subscription(Interval.months(1)), usd("1.00"), START, horizon=0)


def test_subscription_amount_must_fit_currency_granularity_and_minimum() -> None:
    """The period amount is checked like any other line."""
    with pytest.raises(PlanError, match="not in USD"):
        build_schedule(
            Subscription(Interval.months(1), amount=Money.of("5", "EUR")), usd("5"), START
        )
    odd = Subscription(Interval.months(1), amount=usd("4.99"))
    with pytest.raises(PlanError, match="not a multiple of 100"):
        build_schedule(odd, usd("5.00"), START, granularity=100)
    free = Subscription(Interval.months(1), amount=usd("0.00"))
    with pytest.raises(PlanError, match="below the minimum"):
        build_schedule(free, usd("5.00"), START)


def test_non_plans_are_refused() -> None:
    """Something that is not a plan is a PlanError, not a crash."""
    with pytest.raises(PlanError, match="not a payment plan"):
        build_schedule("full", usd("1.00"), START)  # type: ignore[arg-type]  # the point


def test_deposit_errors_surface_from_build_schedule() -> None:
    """A deposit as large as the price cannot be scheduled."""
    plan = Installments(2, deposit=Deposit.fixed(usd("10.00")))
    with pytest.raises(PlanError, match="below the price"):
        build_schedule(plan, usd("10.00"), START)


# --- properties -----------------------------------------------------------------------


@given(schedule_cases(kinds={"full", "installments"}))
def test_finite_schedules_sum_to_the_price_on_non_decreasing_dates(case: ScheduleCase) -> None:
    """Amounts sum to the price, are positive multiples of g; dates never go back."""
    plan, price, start, granularity = case.plan, case.price, case.start, case.granularity
    lines = build_schedule(plan, price, start, granularity=granularity)
    assert sum(line.amount.minor for line in lines) == price.minor
    assert all(line.amount.currency == price.currency for line in lines)
    assert all(line.amount.minor > 0 for line in lines)
    assert all(line.amount.minor % granularity == 0 for line in lines)
    assert dues(lines) == sorted(dues(lines))
    assert lines[0].due == start
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))


@given(dates(), st.sampled_from(UNITS), st.integers(min_value=1, max_value=3), st.booleans())
def test_installment_dates_are_anchored_over_120_periods(
    start: date, unit: str, count: int, with_deposit: bool
) -> None:
    """Due date i is start + relativedelta(i intervals), computed directly: no drift."""
    interval = Interval(unit, count)  # type: ignore[arg-type]  # unit is drawn from UNITS
    deposit = Deposit.fixed(Money(1, "USD")) if with_deposit else None
    lines = build_schedule(Installments(120, interval, deposit), Money(10**6, "USD"), start)
    assert len(lines) == 120 + with_deposit
    for i, line in enumerate(lines):
        assert line.due == start + relative_steps(unit, count * i)


@given(dates(), st.integers(min_value=0, max_value=60))
def test_monthly_subscription_dates_are_anchored_over_120_periods(start: date, trial: int) -> None:
    """Period i is (start + trial) + relativedelta(months=i), never built step by step."""
    plan = Subscription(Interval.months(1), cycles=120, trial_days=trial)
    lines = build_schedule(plan, Money(100, "EUR"), start)
    anchor = start + timedelta(days=trial)
    assert dues(lines) == [anchor + relativedelta(months=i) for i in range(120)]
    assert sum(line.amount.minor for line in lines) == 120 * 100


@given(
    currencies(),
    granularities(),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=40),
    dates(),
)
def test_subscription_lines_are_whole_periods_of_the_amount(
    currency: str, granularity: int, units: int, cycles: int, start: date
) -> None:
    """A finite subscription charges `amount` each period: cycles x amount in all."""
    amount = Money(units * granularity, currency)
    plan = Subscription(Interval.weeks(2), amount=amount, cycles=cycles)
    lines = build_schedule(plan, amount, start, granularity=granularity)
    assert [line.amount for line in lines] == [amount] * cycles
    assert dues(lines) == sorted(dues(lines))
    assert all(later - earlier == timedelta(weeks=2) for earlier, later in pairwise(dues(lines)))
