"""Stripe's amount units, granularities and minimums (pure; no server)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay import FullPayment, Installments, Money, build_schedule
from enrollpay.errors import AmountPrecisionError, InvalidAmountError, PlanError
from enrollpay.gateways.stripe.amounts import (
    STRIPE_MINIMUM_CHARGES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    amount_granularity,
    from_stripe_amount,
    minimum_charge,
    stripe_exponent,
    to_stripe_amount,
)

START = date(2027, 1, 4)


@pytest.mark.parametrize("code", sorted(ZERO_DECIMAL_CURRENCIES - {"MGA"}))
def test_zero_decimal_currencies_are_sent_as_they_are(code: str) -> None:
    """An ISO zero-exponent, Stripe zero-decimal currency goes out unchanged, granularity 1."""
    assert stripe_exponent(code) == 0
    assert amount_granularity(code) == 1
    assert to_stripe_amount(Money(12345, code)) == 12345


def test_mga_is_whole_ariary() -> None:
    """MGA has two ISO decimals but Stripe counts whole ariary: granularity 100."""
    assert amount_granularity("MGA") == 100
    assert to_stripe_amount(Money.of("123.00", "MGA")) == 123
    with pytest.raises(InvalidAmountError, match="multiples of 100"):
        to_stripe_amount(Money.of("123.50", "MGA"))
    assert from_stripe_amount(123, "mga") == Money.of("123", "MGA")


@pytest.mark.parametrize("code", sorted(THREE_DECIMAL_CURRENCIES))
def test_three_decimal_currencies_end_in_zero(code: str) -> None:
    """BHD JOD KWD OMR TND: three decimals, the last one 0, so granularity 10."""
    assert stripe_exponent(code) == 3
    assert amount_granularity(code) == 10
    assert to_stripe_amount(Money(33340, code)) == 33340
    with pytest.raises(InvalidAmountError, match="multiples of 10"):
        to_stripe_amount(Money(33335, code))


def test_isk_is_sent_as_two_decimals_of_whole_kronur() -> None:
    """50,000 ISK (exponent 0) goes out as 5000000; every ISK amount is chargeable."""
    assert stripe_exponent("ISK") == 2
    assert amount_granularity("ISK") == 1
    assert to_stripe_amount(Money.of("50000", "ISK")) == 5_000_000
    assert from_stripe_amount(5_000_000, "isk") == Money.of("50000", "ISK")


def test_isk_amount_finer_than_a_krona_is_refused() -> None:
    """A Stripe ISK amount that is not whole krónur is never rounded."""
    with pytest.raises(AmountPrecisionError):
        from_stripe_amount(5_000_050, "isk")


def test_huf_is_two_decimals_with_granularity_one() -> None:
    """HUF (ISO exponent 2) is sent as is; charges may use fillér."""
    assert stripe_exponent("HUF") == 2
    assert amount_granularity("huf") == 1
    assert to_stripe_amount(Money.of("175.50", "HUF")) == 17550


def test_two_decimal_currencies_are_identity() -> None:
    """USD, EUR and friends are sent in cents."""
    assert amount_granularity("USD") == 1
    assert to_stripe_amount(Money.of("299.99", "USD")) == 29999
    assert from_stripe_amount(29999, "usd") == Money.of("299.99", "USD")


def test_conversion_refuses_non_money_and_bools() -> None:
    """Only Money goes out and only ints come in."""
    with pytest.raises(TypeError):
        to_stripe_amount(100)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_stripe_amount(True, "usd")


@given(
    code=st.sampled_from(["USD", "JPY", "KWD", "ISK", "HUF", "MGA", "BHD", "CLP", "EUR"]),
    units=st.integers(min_value=1, max_value=10**9),
)
def test_round_trip_for_chargeable_amounts(code: str, units: int) -> None:
    """from_stripe_amount inverts to_stripe_amount on every multiple of the granularity."""
    money = Money(units * amount_granularity(code), code)
    assert from_stripe_amount(to_stripe_amount(money), code) == money


@pytest.mark.parametrize(
    ("code", "amount"),
    [("USD", "0.50"), ("EUR", "0.50"), ("GBP", "0.30"), ("JPY", "50"), ("HUF", "175.00"),
     ("MXN", "10"), ("THB", "10"), ("HKD", "4.00")],
)  # fmt: skip
def test_minimum_charge_follows_stripes_table(code: str, amount: str) -> None:
    """The documented per-currency minimums come back as Money."""
    assert minimum_charge(code.lower()) == Money.of(amount, code)
    assert STRIPE_MINIMUM_CHARGES[code] == Money.of(amount, code)


def test_unlisted_currency_has_no_minimum_and_overrides_win() -> None:
    """Stripe lists no KWD minimum; overrides replace the table's entries."""
    assert minimum_charge("KWD") is None
    assert minimum_charge("USD", {"USD": Money.of("1.00", "USD")}) == Money.of("1.00", "USD")


def test_kwd_installments_follow_the_granularity() -> None:
    """100.000 KWD in 3 installments with granularity 10: 33.340, 33.330, 33.330."""
    lines = build_schedule(
        Installments(3), Money.of("100.000", "KWD"), START, granularity=amount_granularity("KWD")
    )
    assert [to_stripe_amount(line.amount) for line in lines] == [33340, 33330, 33330]


def test_yen_installments() -> None:
    """¥10,000 in 3 installments: 3334, 3333, 3333."""
    lines = build_schedule(Installments(3), Money.of("10000", "JPY"), START,
                           granularity=amount_granularity("JPY"))  # fmt: skip
    assert [to_stripe_amount(line.amount) for line in lines] == [3334, 3333, 3333]


def test_schedule_refuses_installments_below_stripes_minimum() -> None:
    """A plan whose installment would be under Stripe's minimum is refused."""
    with pytest.raises(PlanError):
        build_schedule(Installments(3), Money.of("1.00", "USD"), START,
                       minimum=minimum_charge("USD"))  # fmt: skip
    lines = build_schedule(FullPayment(), Money.of("1.00", "USD"), START,
                           minimum=minimum_charge("USD"))  # fmt: skip
    assert [line.amount for line in lines] == [Money.of("1.00", "USD")]
