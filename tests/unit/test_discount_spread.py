"""Spreading a discount over a schedule, and refunds of discounted enrollments (properties)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from enrollpay.domain.discount_spread import discounted_schedule, spread_discount
from enrollpay.domain.discounts import BASIS_POINTS, AppliedDiscount, Coupon, apply_discounts
from enrollpay.domain.money import Money
from enrollpay.domain.plans import Deposit, FullPayment, Installments
from enrollpay.domain.refunds import RefundPolicy, quote_refund
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.errors import PlanError
from enrollpay.errors_discounts import DiscountError, DiscountSpreadError
from enrollpay.testing.strategies import ScheduleCase, dates, refund_policies, schedule_cases

START = date(2027, 1, 1)
AT = datetime(2027, 1, 1, 9, tzinfo=UTC)
FINITE = ("full", "installments")


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def off(list_price: Money, discount: Money) -> AppliedDiscount:
    """``discount`` taken off ``list_price`` by a coupon."""
    zero = Money.zero(list_price.currency)
    return AppliedDiscount(list_price, discount, zero, coupon_code="C")


def total(lines: tuple[ScheduleLine, ...]) -> int:
    """The sum of a schedule, in minor units."""
    return sum(line.amount.minor for line in lines)


# --- examples ------------------------------------------------------------------------------


def test_pro_rata_keeps_the_deposit_share_and_puts_the_leftover_last() -> None:
    """20% deposit + 3 of 1000.00, 100.01 off: every payment loses ~10%, the last the extra cent."""
    plan = Installments(3, deposit=Deposit.percent(20))
    lines = discounted_schedule(plan, off(usd("1000"), usd("100.01")), START)
    assert [line.amount for line in lines] == [
        usd("180.00"),
        usd("240.00"),
        usd("240.00"),
        usd("239.99"),
    ]
    assert [line.kind for line in lines] == ["deposit", "installment", "installment", "installment"]


def test_reprice_builds_the_plan_on_the_discounted_price() -> None:
    """The reprice policy keeps a fixed deposit and spreads the rest over the installments."""
    plan = Installments(2, deposit=Deposit.fixed(usd("100")))
    lines = discounted_schedule(plan, off(usd("1000"), usd("200")), START, policy="reprice")
    assert [line.amount for line in lines] == [usd("100"), usd("350"), usd("350")]


def test_unknown_policy_is_refused() -> None:
    """Only the documented policies exist."""
    with pytest.raises(DiscountError, match="spread policy"):
        discounted_schedule(FullPayment(), off(usd("10"), usd("1")), START, policy="front")  # type: ignore[arg-type]


def test_no_discount_is_the_plain_schedule() -> None:
    """A zero discount builds exactly what build_schedule builds, minimum checks included."""
    plan = Installments(4)
    applied = off(usd("100"), usd("0"))
    assert discounted_schedule(plan, applied, START) == build_schedule(plan, usd("100"), START)
    with pytest.raises(PlanError, match="below the minimum"):
        discounted_schedule(plan, applied, START, minimum=usd("30"))


def test_free_is_one_zero_line() -> None:
    """A 100% discount: one full line of zero, due at the start, whatever the plan."""
    lines = discounted_schedule(Installments(6), off(usd("600"), usd("600")), START)
    assert lines == (ScheduleLine(1, "full", START, usd("0")),)


def test_a_payment_pushed_below_the_minimum_is_refused() -> None:
    """90% off 12 x 10.00 leaves 1.00 each: above a 0.50 minimum, not above 2.00."""
    plan = Installments(12)
    applied = off(usd("120"), usd("108"))
    assert {
        line.amount for line in discounted_schedule(plan, applied, START, minimum=usd("0.50"))
    } == {usd("1")}
    with pytest.raises(DiscountSpreadError, match=r"below the minimum charge 2\.00 USD"):
        discounted_schedule(plan, applied, START, minimum=usd("2"))


def test_spread_needs_lines_and_a_non_negative_discount() -> None:
    """Nothing to spread over, or a negative discount, is a typed error."""
    with pytest.raises(DiscountError, match="no payment"):
        spread_discount((), usd("1"))
    lines = build_schedule(FullPayment(), usd("10"), START)
    with pytest.raises(DiscountError, match="must not be negative"):
        spread_discount(lines, usd("-1"))


def test_spread_without_a_minimum_keeps_every_payment_above_zero() -> None:
    """Without a gateway minimum a payment still may not reach zero: 3 x 1.00, 2.99 off."""
    lines = build_schedule(Installments(3), usd("3"), START)
    with pytest.raises(DiscountSpreadError, match=r"below the minimum charge 0\.01 USD"):
        spread_discount(lines, usd("2.99"))


# --- properties -----------------------------------------------------------------------------


@st.composite
def discounted_cases(draw: st.DrawFn) -> tuple[ScheduleCase, AppliedDiscount, Money]:
    """A finite plan's schedule, a coupon of any size for it, and a gateway minimum."""
    case = draw(schedule_cases(kinds=FINITE, max_count=24, max_price_units=10**7))
    bp = draw(st.integers(1, BASIS_POINTS))
    applied = apply_discounts(
        case.price,
        user_id="u",
        product_ids={"p"},
        plan=case.plan,
        at=AT,
        coupon=Coupon("C", percent_off=bp),
        granularity=case.granularity,
    )
    minimum = Money(draw(st.integers(1, 100)) * case.granularity, case.price.currency)
    return case, applied, minimum


@given(discounted_cases(), st.sampled_from(("pro_rata", "reprice")))
def test_discounted_schedules_sum_to_the_discounted_price(
    drawn: tuple[ScheduleCase, AppliedDiscount, Money], policy: str
) -> None:
    """A built discounted schedule sums to the discounted price, at the step and minimum.

    Free: one zero line. Otherwise every payment is a multiple of the step and
    at least the minimum, or the discount is refused with a typed error.
    """
    case, applied, minimum = drawn
    try:
        lines = discounted_schedule(
            case.plan,
            applied,
            case.start,
            granularity=case.granularity,
            minimum=minimum,
            policy=policy,  # type: ignore[arg-type]
        )
    except PlanError:
        assume(False)
    assert total(lines) == applied.price.minor
    if applied.free:
        assert [line.amount.minor for line in lines] == [0]
        return
    for line in lines:
        assert line.amount.minor % case.granularity == 0
        assert line.amount >= minimum


@given(discounted_cases())
def test_pro_rata_shares_stay_within_a_step_of_the_exact_share(
    drawn: tuple[ScheduleCase, AppliedDiscount, Money],
) -> None:
    """Each payment loses its exact share floored to the step, plus at most one step.

    The exact share is ``discount * amount / list price``; the leftover steps
    land on the last payments; the sequence and due dates stay.
    """
    case, applied, _ = drawn
    assume(not applied.free)
    try:
        lines = spread_discount(case.lines, applied.discount, granularity=case.granularity)
    except DiscountSpreadError:
        assume(False)
    step, whole, discount = case.granularity, case.price.minor, applied.discount.minor
    extra = []
    for before, after in zip(case.lines, lines, strict=True):
        share = before.amount.minor - after.amount.minor
        floor = discount * before.amount.minor // (whole * step) * step
        assert floor <= share <= floor + step
        extra.append(share > floor)
        assert (after.seq, after.kind, after.due) == (before.seq, before.kind, before.due)
    # Once a payment took an extra step, every later one did too.
    assert extra == sorted(extra)


@given(
    case=schedule_cases(kinds=FINITE, max_count=12, max_price_units=10**6, granularity=1),
    bp=st.integers(1, 5000),
)
def test_a_discount_up_to_half_never_fails_where_the_list_price_fits(
    case: ScheduleCase, bp: int
) -> None:
    """With each payment at least twice the minimum plus a cent, up to 50% off always spreads."""
    smallest = min(line.amount.minor for line in case.lines)
    assume(smallest >= 3)
    minimum = Money((smallest - 1) // 2, case.price.currency)
    applied = off(case.price, Money(case.price.minor * bp // BASIS_POINTS, case.price.currency))
    lines = discounted_schedule(case.plan, applied, case.start, minimum=minimum)
    assert total(lines) == applied.price.minor
    assert min(line.amount for line in lines) >= minimum


# --- refunds on discounted prices ------------------------------------------------------------


@given(
    policy=refund_policies(currency="USD", max_fee_minor=500_00),
    list_units=st.integers(100, 10**7),
    bp=st.integers(1, BASIS_POINTS),
    paid_share=st.integers(0, 100),
    on=dates(min_value=START, max_value=date(2028, 6, 1)),
)
def test_refunds_of_discounted_enrollments_never_exceed_what_was_paid(
    policy: RefundPolicy, list_units: int, bp: int, paid_share: int, on: date
) -> None:
    """A refund on a discounted price is within what was paid.

    The school earns and keeps at most the discounted price, and when anything
    comes back, refund + retained is exactly what was paid.
    """
    applied = off(Money(list_units, "USD"), Money(list_units * bp // BASIS_POINTS, "USD"))
    price = applied.price
    paid = Money(price.minor * paid_share // 100, "USD")
    quote = quote_refund(
        policy,
        price=price,
        paid=paid,
        service_start=START,
        service_end=date(2028, 1, 1),
        cancelled_on=on,
    )
    assert 0 <= quote.refund.minor <= paid.minor
    assert quote.earned <= price
    assert quote.retained <= price
    if quote.refund.minor:
        assert quote.refund + quote.retained == paid


def test_a_free_enrollment_quotes_a_zero_refund() -> None:
    """Priced at zero with nothing paid: any cancellation refunds nothing; paid money is refused."""
    for on in (START, date(2027, 12, 1)):
        quote = quote_refund(
            RefundPolicy(),
            price=usd("0"),
            paid=usd("0"),
            service_start=START,
            service_end=date(2028, 1, 1),
            cancelled_on=on,
        )
        assert (quote.refund, quote.retained) == (usd("0"), usd("0"))
    with pytest.raises(ValueError, match="price must be positive"):
        quote_refund(
            RefundPolicy(),
            price=usd("0"),
            paid=usd("1"),
            service_start=START,
            service_end=date(2028, 1, 1),
            cancelled_on=START,
        )


def test_discounted_proration_earns_on_the_paid_price() -> None:
    """1200.00 list, 25% off, paid in full, cancelled half way with no fee: half of 900.00 back."""
    quote = quote_refund(
        RefundPolicy(cooling_off_days=0),
        price=usd("900"),
        paid=usd("900"),
        service_start=START,
        service_end=date(2027, 1, 11),
        cancelled_on=date(2027, 1, 6),
    )
    assert (quote.earned, quote.refund) == (usd("450"), usd("450"))
