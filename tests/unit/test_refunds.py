from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment
from enrollpay.domain.records import Enrollment
from enrollpay.domain.refunds import RefundLine, RefundPolicy, RefundQuote, quote_refund
from enrollpay.errors import CurrencyMismatchError, InvalidInputError
from enrollpay.testing.strategies import currencies, dates, refund_policies

START, END = date(2027, 1, 1), date(2028, 1, 1)
AT = datetime(2027, 1, 1, 9, tzinfo=UTC)


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def quote(
    policy: RefundPolicy,
    cancelled_on: date,
    *,
    price: Money | None = None,
    paid: Money | None = None,
    paused_days: int = 0,
) -> RefundQuote:
    """Quote for a 1200.00 USD year (2027) with 600.00 paid, unless told otherwise."""
    return quote_refund(
        policy,
        price=usd("1200.00") if price is None else price,
        paid=usd("600.00") if paid is None else paid,
        service_start=START,
        service_end=END,
        cancelled_on=cancelled_on,
        paused_days=paused_days,
    )


def line_codes(result: RefundQuote) -> list[str]:
    """The machine codes of a quote's lines, in order."""
    return [line.code for line in result.lines]


# --- policy values --------------------------------------------------------------------


def test_policy_defaults() -> None:
    """14 cooling-off days, time proration, no minimum, no fee."""
    policy = RefundPolicy()
    assert (policy.cooling_off_days, policy.proration) == (14, "time")
    assert (policy.non_refundable, policy.admin_fee) == (None, None)


@pytest.mark.parametrize("days", [-1, True, 1.5, "14"])
def test_cooling_off_days_is_a_non_negative_int(days: Any) -> None:
    """Negative or non-int windows are InvalidInputError."""
    with pytest.raises(InvalidInputError, match="cooling_off_days"):
        RefundPolicy(cooling_off_days=days)


def test_proration_is_time_or_none() -> None:
    """Any other proration mode is refused."""
    with pytest.raises(InvalidInputError, match="proration"):
        RefundPolicy(proration="daily")  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize("field", ["non_refundable", "admin_fee"])
def test_fee_fields_are_non_negative_money(field: str) -> None:
    """non_refundable and admin_fee must be Money and not negative."""
    not_money: dict[str, Any] = {field: 100}
    negative: dict[str, Any] = {field: usd("-1.00")}
    zero: dict[str, Any] = {field: usd("0.00")}
    with pytest.raises(InvalidInputError, match=f"{field} must be Money"):
        RefundPolicy(**not_money)
    with pytest.raises(InvalidInputError, match=f"{field} must not be negative"):
        RefundPolicy(**negative)
    assert getattr(RefundPolicy(**zero), field) == usd("0.00")


# --- examples -------------------------------------------------------------------------


def test_time_proration_keeps_what_the_elapsed_days_earned() -> None:
    """1200.00 over 365 days, cancelled after 90: 295.89 earned, 304.11 back of 600.00."""
    result = quote(RefundPolicy(), date(2027, 4, 1))
    assert result.refund == usd("304.11")
    assert result.earned == usd("295.89")
    assert result.retained == usd("295.89")
    assert result.paid == usd("600.00")
    assert (result.basis, result.used_days, result.total_days) == ("prorated", 90, 365)
    assert result.lines == (
        RefundLine("paid", "Paid so far", usd("600.00")),
        RefundLine("earned", "Used 90 of 365 days", usd("295.89")),
        RefundLine("retained", "Retained", usd("295.89")),
        RefundLine("refund", "Refund", usd("304.11")),
    )
    assert (result.paused_days, result.service_end) == (0, END)


def test_paused_days_are_not_used_days_and_move_the_service_end() -> None:
    """Cancelled 2027-04-21 after 20 paused days: 90 used, as on 04-01; the end moves 20 days."""
    result = quote(RefundPolicy(), date(2027, 4, 21), paused_days=20)
    assert result.refund == usd("304.11")
    assert (result.basis, result.used_days, result.total_days) == ("prorated", 90, 365)
    assert (result.paused_days, result.service_end) == (20, date(2028, 1, 21))
    assert result.lines == (
        RefundLine("paid", "Paid so far", usd("600.00")),
        RefundLine(
            "paused",
            "Paused 20 days, not counted as used: service ends 2028-01-21",
            usd("0.00"),
        ),
        RefundLine("earned", "Used 90 of 365 days", usd("295.89")),
        RefundLine("retained", "Retained", usd("295.89")),
        RefundLine("refund", "Refund", usd("304.11")),
    )
    # Without the pause the same day counts 110 used days: 361.64 earned, 238.36 back.
    assert quote(RefundPolicy(), date(2027, 4, 21)).refund == usd("238.36")


def test_paused_days_do_not_use_up_the_cooling_off_window() -> None:
    """Day 30 with 20 of them paused is day 10 of service: inside 14 days, all back."""
    result = quote(RefundPolicy(cooling_off_days=14), START + timedelta(days=30), paused_days=20)
    assert (result.basis, result.refund, result.used_days) == ("cooling_off", usd("600.00"), 10)
    assert line_codes(result) == ["paid", "paused", "cooling_off", "refund"]
    late = quote(RefundPolicy(cooling_off_days=14), START + timedelta(days=35), paused_days=20)
    assert late.basis == "prorated"


def test_no_proration_quotes_say_the_paused_days_too() -> None:
    """proration='none' after the window still lists the pause and the moved end."""
    result = quote(RefundPolicy(proration="none"), date(2027, 6, 1), paused_days=3)
    assert line_codes(result) == ["paid", "paused", "no_proration", "refund"]
    assert result.lines[1].label == "Paused 3 days, not counted as used: service ends 2028-01-04"
    assert (result.refund, result.service_end) == (usd("0.00"), date(2028, 1, 4))


def test_cooling_off_refunds_everything_paid() -> None:
    """Cancelled on 2027-01-10 with 14 cooling-off days: all 600.00 back."""
    result = quote(RefundPolicy(cooling_off_days=14), date(2027, 1, 10))
    assert result.refund == usd("600.00")
    assert result.retained == usd("0.00")
    assert (result.basis, result.used_days) == ("cooling_off", 9)
    assert line_codes(result) == ["paid", "cooling_off", "refund"]
    assert result.lines[1].label == "Cancelled within 14 days: full refund"


def test_cooling_off_window_is_inclusive() -> None:
    """Day 14 is still inside a 14-day window; day 15 is not."""
    policy = RefundPolicy(cooling_off_days=14)
    assert quote(policy, START + timedelta(days=14)).basis == "cooling_off"
    assert quote(policy, START + timedelta(days=15)).basis == "prorated"


def test_cancelling_before_the_service_starts_refunds_everything() -> None:
    """Even without a window, cancelling before the start uses nothing."""
    result = quote(RefundPolicy(cooling_off_days=0), START - timedelta(days=30))
    assert result.refund == usd("600.00")
    assert result.used_days == 0


def test_no_proration_refunds_nothing_after_the_window() -> None:
    """proration='none' keeps everything paid once the window has passed."""
    result = quote(RefundPolicy(proration="none"), date(2027, 4, 1))
    assert result.refund == usd("0.00")
    assert result.retained == usd("600.00")
    assert result.basis == "no_proration"
    assert line_codes(result) == ["paid", "no_proration", "refund"]
    assert quote(RefundPolicy(proration="none"), date(2027, 1, 5)).refund == usd("600.00")


def test_non_refundable_minimum_is_kept_when_above_what_was_earned() -> None:
    """A 500.00 non-refundable part beats 295.89 earned: 100.00 back."""
    result = quote(RefundPolicy(non_refundable=usd("500.00")), date(2027, 4, 1))
    assert result.retained == usd("500.00")
    assert result.refund == usd("100.00")
    assert line_codes(result) == ["paid", "earned", "non_refundable", "retained", "refund"]


def test_non_refundable_minimum_below_earned_changes_nothing() -> None:
    """A 100.00 minimum under 295.89 earned is not listed and not applied."""
    result = quote(RefundPolicy(non_refundable=usd("100.00")), date(2027, 4, 1))
    assert result.refund == usd("304.11")
    assert "non_refundable" not in line_codes(result)


def test_admin_fee_is_added_to_what_is_retained() -> None:
    """A 50.00 fee on top of 295.89 earned: 254.11 back."""
    result = quote(RefundPolicy(admin_fee=usd("50.00")), date(2027, 4, 1))
    assert result.retained == usd("345.89")
    assert result.refund == usd("254.11")
    assert line_codes(result) == ["paid", "earned", "admin_fee", "retained", "refund"]


def test_zero_admin_fee_is_not_listed() -> None:
    """A fee of 0.00 adds no line."""
    result = quote(RefundPolicy(admin_fee=usd("0.00")), date(2027, 4, 1))
    assert "admin_fee" not in line_codes(result)
    assert result.refund == usd("304.11")


def test_fee_and_minimum_together() -> None:
    """The school retains max(earned, non_refundable) + admin_fee."""
    policy = RefundPolicy(non_refundable=usd("400.00"), admin_fee=usd("25.00"))
    result = quote(policy, date(2027, 4, 1))
    assert result.retained == usd("425.00")
    assert result.refund == usd("175.00")


def test_retained_never_exceeds_the_price() -> None:
    """A fee that would push retention over the price is capped at the price."""
    policy = RefundPolicy(non_refundable=usd("1200.00"), admin_fee=usd("100.00"))
    result = quote(policy, date(2027, 4, 1), paid=usd("1500.00"))
    assert result.retained == usd("1200.00")
    assert result.refund == usd("300.00")


def test_refund_is_never_negative() -> None:
    """When more was earned than paid, the refund is zero, not negative."""
    result = quote(RefundPolicy(), date(2027, 10, 1), paid=usd("100.00"))
    assert result.refund == usd("0.00")


def test_cancelling_after_the_service_ended_uses_all_days() -> None:
    """used_days is clamped to the service length; the whole price is earned."""
    result = quote(RefundPolicy(), date(2029, 1, 1), paid=usd("1200.00"))
    assert (result.used_days, result.earned, result.refund) == (365, usd("1200.00"), usd("0.00"))


def test_earned_rounds_half_up() -> None:
    """0.03 over 2 days, 1 day used: 0.015 earned rounds to 0.02."""
    result = quote_refund(
        RefundPolicy(cooling_off_days=0),
        price=usd("0.03"),
        paid=usd("0.03"),
        service_start=START,
        service_end=START + timedelta(days=2),
        cancelled_on=START + timedelta(days=1),
    )
    assert result.earned == usd("0.02")
    assert result.refund == usd("0.01")


# --- refusals -------------------------------------------------------------------------


def test_amounts_must_share_the_price_currency() -> None:
    """paid, non_refundable and admin_fee in another currency are mismatches."""
    with pytest.raises(CurrencyMismatchError):
        quote(RefundPolicy(), date(2027, 4, 1), paid=Money.of("600", "EUR"))
    with pytest.raises(CurrencyMismatchError):
        quote(RefundPolicy(non_refundable=Money.of("1", "EUR")), date(2027, 4, 1))
    with pytest.raises(CurrencyMismatchError):
        quote(RefundPolicy(admin_fee=Money.of("1", "EUR")), date(2027, 4, 1))


def test_paid_must_not_be_negative() -> None:
    """A negative amount paid is an InvalidInputError."""
    with pytest.raises(InvalidInputError, match="paid must not be negative"):
        quote(RefundPolicy(), date(2027, 4, 1), paid=usd("-1.00"))


@pytest.mark.parametrize("price", [Money(0, "USD"), Money(-1, "USD")])
def test_price_must_be_positive(price: Money) -> None:
    """A free or negative price has nothing to prorate."""
    with pytest.raises(InvalidInputError, match="price must be positive"):
        quote(RefundPolicy(), date(2027, 4, 1), price=price)


@pytest.mark.parametrize("days", [-1, True, 1.5, "3", None])
def test_paused_days_is_a_non_negative_int(days: Any) -> None:
    """Negative or non-int paused days are InvalidInputError."""
    with pytest.raises(InvalidInputError, match="paused_days must be a non-negative int"):
        quote(RefundPolicy(), date(2027, 4, 1), paused_days=days)


@pytest.mark.parametrize("end", [START, START - timedelta(days=1)])
def test_service_must_last_at_least_a_day(end: date) -> None:
    """An empty or inverted service period is refused."""
    with pytest.raises(InvalidInputError, match="must be after service_start"):
        quote_refund(
            RefundPolicy(),
            price=usd("1.00"),
            paid=usd("1.00"),
            service_start=START,
            service_end=end,
            cancelled_on=START,
        )


# --- properties -----------------------------------------------------------------------


@st.composite
def refund_cases(draw: st.DrawFn) -> tuple[RefundPolicy, Money, Money, date, date]:
    """A policy, price, amount paid and service period in one drawn currency."""
    currency = draw(currencies())

    def amount(low: int, high: int) -> Money:
        return Money(draw(st.integers(min_value=low, max_value=high)), currency)

    price = amount(1, 10**9)
    paid = amount(0, 2 * price.minor)
    # fees from nothing up to twice the price: past the price, retained is capped
    policy = draw(refund_policies(currency, max_fee_minor=2 * price.minor))
    start = draw(dates())
    end = start + timedelta(days=draw(st.integers(min_value=1, max_value=3 * 366)))
    return policy, price, paid, start, end


@given(
    refund_cases(),
    st.integers(min_value=-100, max_value=1200),
    st.integers(min_value=0, max_value=1200),
)
def test_refunds_stay_within_paid_and_never_grow_later(
    case: tuple[RefundPolicy, Money, Money, date, date], offset: int, delay: int
) -> None:
    """0 <= refund <= paid, and cancelling later never refunds more."""
    policy, price, paid, start, end = case

    def at(day: date) -> RefundQuote:
        return quote_refund(
            policy, price=price, paid=paid, service_start=start, service_end=end, cancelled_on=day
        )

    earlier = at(start + timedelta(days=offset))
    later = at(start + timedelta(days=offset + delay))
    for result in (earlier, later):
        assert 0 <= result.refund.minor <= paid.minor
        assert result.lines[-1] == RefundLine("refund", "Refund", result.refund)
        assert 0 <= result.used_days <= result.total_days
        assert 0 <= result.earned.minor <= price.minor
    assert later.refund <= earlier.refund
    if earlier.basis == "prorated":
        assert earlier.refund.minor == max(paid.minor - earlier.retained.minor, 0)
        assert earlier.retained <= price


@given(
    refund_cases(),
    st.integers(min_value=-100, max_value=1200),
    st.integers(min_value=0, max_value=400),
    st.data(),
)
def test_pausing_then_cancelling_never_refunds_less_than_cancelling_on_the_pause_date(
    case: tuple[RefundPolicy, Money, Money, date, date],
    offset: int,
    length: int,
    data: st.DataObject,
) -> None:
    """Cancelled ``length`` days into a pause: at least the refund of the pause date.

    The paused days come from :meth:`Enrollment.days_paused` (earlier pauses
    plus the one in progress), as the cancellation passes them.
    """
    policy, price, paid, start, end = case
    paused_on = start + timedelta(days=offset)
    earlier = data.draw(st.integers(min_value=0, max_value=max(offset, 0)), label="earlier")
    enrollment = Enrollment(
        id="enr_1",
        user_id="u-1",
        product_id="prod_1",
        status="paused",
        plan=FullPayment(),
        price=price,
        start_date=start,
        created_at=AT,
        updated_at=AT,
        paused_on=paused_on,
        paused_days=earlier,
    )

    def at(day: date) -> RefundQuote:
        return quote_refund(
            policy,
            price=price,
            paid=paid,
            service_start=start,
            service_end=end,
            cancelled_on=day,
            paused_days=enrollment.days_paused(day),
        )

    on_pause_date = at(paused_on)
    cancelled = at(paused_on + timedelta(days=length))
    assert cancelled.refund >= on_pause_date.refund
    assert (cancelled.used_days, cancelled.basis) == (on_pause_date.used_days, on_pause_date.basis)
    assert cancelled.service_end == end + timedelta(days=cancelled.paused_days)
    assert "paused" in line_codes(cancelled) or cancelled.paused_days == 0


@given(
    refund_cases(),
    st.integers(min_value=-100, max_value=1200),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
)
def test_more_paused_days_never_refund_less(
    case: tuple[RefundPolicy, Money, Money, date, date], offset: int, fewer: int, more: int
) -> None:
    """On the same day, a quote with more paused days refunds at least as much."""
    policy, price, paid, start, end = case
    fewer, more = sorted((fewer, more))

    def with_paused(days: int) -> RefundQuote:
        return quote_refund(
            policy,
            price=price,
            paid=paid,
            service_start=start,
            service_end=end,
            cancelled_on=start + timedelta(days=offset),
            paused_days=days,
        )

    assert with_paused(more).refund >= with_paused(fewer).refund
    assert with_paused(more).used_days <= with_paused(fewer).used_days
