from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.money import Money, currency_exponent, known_currencies, round_half_up
from enrollpay.errors import (
    AmountPrecisionError,
    CurrencyMismatchError,
    EnrollpayError,
    InvalidAmountError,
    MoneyTypeError,
    UnknownCurrencyError,
)
from enrollpay.testing.strategies import currencies, granularities, money

CURRENCIES = tuple(sorted(known_currencies()))


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


# --- currencies -----------------------------------------------------------------------


def test_known_currencies_include_the_usual_and_historic_codes() -> None:
    """Babel's list holds current codes and historic ones alike."""
    codes = known_currencies()
    assert {"USD", "EUR", "JPY", "KWD", "CLF", "DEM"} <= codes
    assert "XYZ" not in codes


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_currency_exponent_follows_iso_4217(currency: str, exponent: int) -> None:
    """The minor unit's decimal places come from babel."""
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(("currency", "exponent"), [("IDR", 2), ("HUF", 2), ("IQD", 3)])
def test_iso_exponent_overrides_cldr_digits(currency: str, exponent: int) -> None:
    """Where CLDR's everyday digits differ from the ISO minor unit, ISO wins."""
    assert currency_exponent(currency) == exponent


def test_currency_exponent_refuses_unknown_codes() -> None:
    """An unknown code is an UnknownCurrencyError carrying the code."""
    with pytest.raises(UnknownCurrencyError) as info:
        currency_exponent("XYZ")
    assert info.value.currency == "XYZ"


# --- construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("299.99", "USD", 29999),
        ("12.5", "USD", 1250),
        ("12.500", "USD", 1250),
        (" 7.25 ", "USD", 725),
        ("1e2", "USD", 10000),
        (Decimal("0.01"), "USD", 1),
        (5, "USD", 500),
        (-3, "EUR", -300),
        ("10000", "JPY", 10000),
        ("1.234", "KWD", 1234),
        ("1.2345", "CLF", 12345),
    ],
)
def test_of_converts_major_units_exactly(amount: Any, currency: str, minor: int) -> None:
    """Major units become integer minor units with the currency's exponent."""
    assert Money.of(amount, currency) == Money(minor, currency)


@pytest.mark.parametrize("code", ["usd", " Usd ", "uSD"])
def test_currency_codes_are_normalised(code: str) -> None:
    """Lower-case and padded codes are upper-cased and stripped."""
    assert Money.of("1.00", code).currency == "USD"
    assert Money(100, code) == Money(100, "USD")


@pytest.mark.parametrize(
    ("amount", "currency"), [("10.005", "USD"), ("1.5", "JPY"), ("0.0001", "KWD")]
)
def test_extra_precision_is_refused_not_rounded(amount: str, currency: str) -> None:
    """More decimals than the currency has is an AmountPrecisionError."""
    with pytest.raises(AmountPrecisionError) as info:
        Money.of(amount, currency)
    assert (info.value.amount, info.value.currency) == (amount, currency)
    assert info.value.exponent == currency_exponent(currency)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, EnrollpayError)


def test_amounts_beyond_28_digits_are_neither_rounded_nor_accepted_inexactly() -> None:
    """Decimal's default 28-digit context must not round big amounts silently."""
    big = "12345678901234567890123456789.01"
    assert Money.of(big, "USD").minor == 1234567890123456789012345678901
    assert Money.of(big, "USD").amount == Decimal(big)
    with pytest.raises(AmountPrecisionError):
        Money.of("12345678901234567890123456789.001", "USD")


def test_amounts_below_decimal_range_are_precision_errors() -> None:
    """A vanishingly small amount is refused rather than flushed to zero."""
    with pytest.raises(AmountPrecisionError):
        Money.of("1e-1000005", "USD")


def test_amounts_above_decimal_range_are_invalid() -> None:
    """An amount whose minor units overflow Decimal is an InvalidAmountError."""
    with pytest.raises(InvalidAmountError, match="out of range"):
        Money.of("1e999999", "USD")


def test_float_amounts_are_type_errors() -> None:
    """Floats never become money: MoneyTypeError, which is a TypeError."""
    with pytest.raises(TypeError) as info:
        Money.of(10.5, "USD")  # type: ignore[arg-type]  # the point of the test
    assert isinstance(info.value, MoneyTypeError)


@pytest.mark.parametrize("amount", [True, None, [1], b"1"])
def test_non_amount_types_are_type_errors(amount: Any) -> None:
    """Bools and other types are refused with MoneyTypeError."""
    with pytest.raises(MoneyTypeError):
        Money.of(amount, "USD")


@pytest.mark.parametrize("amount", ["abc", "", "1,00", "NaN", "Infinity", Decimal("-Infinity")])
def test_malformed_or_infinite_amounts_are_invalid(amount: Any) -> None:
    """Text that is not a finite number is an InvalidAmountError (a ValueError)."""
    with pytest.raises(InvalidAmountError):
        Money.of(amount, "USD")


@pytest.mark.parametrize("currency", ["XYZ", "", "US", 840, None])
def test_unknown_currencies_are_refused(currency: Any) -> None:
    """Unknown codes and non-strings are UnknownCurrencyError (a ValueError)."""
    with pytest.raises(UnknownCurrencyError) as info:
        Money.of("1", currency)
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownCurrencyError):
        Money(1, currency)


@pytest.mark.parametrize("minor", [1.0, True, "100", Decimal(100)])
def test_minor_units_must_be_int(minor: Any) -> None:
    """The constructor takes integer minor units only."""
    with pytest.raises(MoneyTypeError):
        Money(minor, "USD")


def test_zero_and_is_zero() -> None:
    """Money.zero is zero in its currency; other amounts are not."""
    assert Money.zero("eur") == Money(0, "EUR")
    assert Money.zero("EUR").is_zero()
    assert not Money(1, "EUR").is_zero()


# --- views ----------------------------------------------------------------------------


def test_views_show_exact_major_units() -> None:
    """amount, str and exponent reflect the currency's minor unit."""
    price = usd("299.99")
    assert price.amount == Decimal("299.99")
    assert price.exponent == 2
    assert str(price) == "299.99 USD"
    assert str(Money(5, "USD")) == "0.05 USD"
    assert str(Money(-5, "KWD")) == "-0.005 KWD"
    assert str(Money(3334, "JPY")) == "3334 JPY"


def test_format_uses_babel_locales() -> None:
    """format() renders with babel in the given locale."""
    assert usd("1299.99").format() == "$1,299.99"
    assert Money.of("1299.99", "EUR").format("de_DE") == "1.299,99\xa0€"
    assert Money.of("1000", "JPY").format("ja_JP") == "￥1,000"


@given(money(min_minor=-(10**40), max_minor=10**40))
def test_of_inverts_amount_for_every_currency(value: Money) -> None:
    """Money.of(str(m.amount)) gives m back, exactly, however large."""
    assert Money.of(str(value.amount), value.currency) == value
    assert Money.of(value.amount, value.currency.lower()) == value


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_known_currency_round_trips_its_smallest_unit(currency: str) -> None:
    """One minor unit of every currency survives str, amount and Money.of."""
    one = Money(1, currency)
    assert Money.of(one.amount, currency) == one
    assert str(one).endswith(f" {currency}")
    assert currency_exponent(currency) in (0, 2, 3, 4)


# --- arithmetic -----------------------------------------------------------------------


def test_addition_and_subtraction_within_a_currency() -> None:
    """+, - and unary - work on minor units of one currency."""
    assert usd("10.50") + usd("0.75") == usd("11.25")
    assert usd("10.50") - usd("0.75") == usd("9.75")
    assert -usd("1.00") == usd("-1.00")


def test_comparisons_within_a_currency() -> None:
    """<, <=, >, >=, min and max compare minor units."""
    small, big = usd("1.00"), usd("2.00")
    assert small < big
    assert small <= usd("1.00")
    assert big > small
    assert big >= usd("2.00")
    assert not big < small
    assert small.min(big) == small
    assert big.min(small) == small
    assert small.max(big) == big
    assert big.max(small) == big


def test_mixing_currencies_is_a_mismatch() -> None:
    """USD and EUR never combine or compare: CurrencyMismatchError, a ValueError."""
    dollars, euros = usd("1.00"), Money.of("1.00", "EUR")
    with pytest.raises(CurrencyMismatchError) as info:
        dollars + euros
    assert (info.value.left, info.value.right) == ("USD", "EUR")
    assert isinstance(info.value, ValueError)
    for operation in (
        lambda: dollars - euros,
        lambda: dollars < euros,
        lambda: dollars <= euros,
        lambda: dollars > euros,
        lambda: dollars >= euros,
        lambda: dollars.min(euros),
    ):
        with pytest.raises(CurrencyMismatchError):
            operation()


def test_money_never_combines_with_plain_numbers() -> None:
    """Adding or comparing a float, int or Decimal is a MoneyTypeError."""
    dollars = usd("1.00")
    with pytest.raises(MoneyTypeError, match="float"):
        dollars + 1.0  # type: ignore[operator]  # the point of the test
    with pytest.raises(MoneyTypeError, match="int"):
        _ = dollars < 1  # type: ignore[operator]  # the point of the test
    with pytest.raises(MoneyTypeError, match="Decimal"):
        dollars - Decimal(1)  # type: ignore[operator]  # the point of the test


def test_equality_and_hash_follow_value() -> None:
    """Equal amounts are equal and hash alike; other currencies and types are not equal."""
    assert usd("1.00") == Money(100, "USD")
    assert hash(usd("1.00")) == hash(Money(100, "usd"))
    assert usd("1.00") != Money.of("1.00", "EUR")
    number: object = 100
    assert usd("1.00") != number


@given(money(currencies()), money(currencies()))
def test_addition_then_subtraction_is_identity(a: Money, b: Money) -> None:
    """(a + b) - b == a for amounts in one currency."""
    b = Money(b.minor, a.currency)
    assert (a + b) - b == a
    assert a + b == b + a


# --- round_half_up --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "result"),
    [(5, 2, 3), (7, 2, 4), (4, 3, 1), (5, 3, 2), (-5, 2, -3), (-4, 3, -1), (0, 7, 0), (6, 3, 2)],
)
def test_round_half_up_rounds_half_away_from_zero(
    numerator: int, denominator: int, result: int
) -> None:
    """Halves round away from zero; everything else to the nearest integer."""
    assert round_half_up(numerator, denominator) == result


@pytest.mark.parametrize("denominator", [0, -2])
def test_round_half_up_needs_a_positive_denominator(denominator: int) -> None:
    """A zero or negative denominator is a ValueError."""
    with pytest.raises(ValueError, match="positive"):
        round_half_up(1, denominator)


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_round_half_up_is_within_half_of_the_quotient(numerator: int, denominator: int) -> None:
    """|q - n/d| <= 1/2, with exact halves rounded away from zero."""
    quotient = round_half_up(numerator, denominator)
    error = 2 * (quotient * denominator - numerator)
    assert -denominator <= error <= denominator
    if abs(error) == denominator:
        assert abs(quotient * denominator) > abs(numerator)


# --- allocation -----------------------------------------------------------------------


def test_allocate_hands_the_leftover_cent_to_the_first_part() -> None:
    """100.00 USD in three is 33.34, 33.33, 33.33."""
    assert Money.of("100.00", "USD").allocate(3) == (usd("33.34"), usd("33.33"), usd("33.33"))


def test_allocate_yen_has_no_minor_unit() -> None:
    """10000 JPY in three is 3334, 3333, 3333 yen."""
    parts = Money.of("10000", "JPY").allocate(3)
    assert parts == tuple(Money.of(yen, "JPY") for yen in ("3334", "3333", "3333"))


def test_allocate_with_granularity() -> None:
    """100.000 KWD in three at 10 fils is 33.340, 33.330, 33.330."""
    parts = Money.of("100.000", "KWD").allocate(3, granularity=10)
    assert parts == tuple(Money.of(a, "KWD") for a in ("33.340", "33.330", "33.330"))


def test_allocate_by_ratios() -> None:
    """Ratios split proportionally; the leftover goes to the first non-zero ratio."""
    assert usd("100.00").allocate([1, 1, 1]) == usd("100.00").allocate(3)
    assert usd("10.00").allocate([70, 30]) == (usd("7.00"), usd("3.00"))
    assert usd("0.05").allocate([1, 3]) == (usd("0.02"), usd("0.03"))
    assert Money(1, "USD").allocate([0, 1, 1]) == (
        Money(0, "USD"),
        Money(1, "USD"),
        Money(0, "USD"),
    )
    assert Money(2, "USD").allocate((0, 1)) == (Money(0, "USD"), Money(2, "USD"))


def test_allocate_negative_amounts_mirror_positive_ones() -> None:
    """A negative whole splits like its absolute value, negated."""
    assert usd("-100.00").allocate(3) == (usd("-33.34"), usd("-33.33"), usd("-33.33"))


def test_allocate_more_parts_than_units_gives_zeros_at_the_end() -> None:
    """Two cents in four parts: 0.01, 0.01, 0.00, 0.00."""
    assert Money(2, "USD").allocate(4) == tuple(Money(m, "USD") for m in (1, 1, 0, 0))


@pytest.mark.parametrize("parts", [0, -1, []])
def test_allocate_needs_at_least_one_part(parts: Any) -> None:
    """Zero parts is an InvalidAmountError."""
    with pytest.raises(InvalidAmountError):
        usd("1.00").allocate(parts)


@pytest.mark.parametrize("parts", [[1, -1], [0, 0]])
def test_allocate_refuses_negative_or_all_zero_ratios(parts: list[int]) -> None:
    """Ratios must be non-negative and not all zero."""
    with pytest.raises(InvalidAmountError):
        usd("1.00").allocate(parts)


@pytest.mark.parametrize("parts", [True, 3.0, None, [1.5, 1], [True, 1], "12"])
def test_allocate_refuses_non_int_parts(parts: Any) -> None:
    """A bool, float or non-int ratio is a MoneyTypeError, never a bare TypeError."""
    with pytest.raises(MoneyTypeError):
        usd("1.00").allocate(parts)


@pytest.mark.parametrize("granularity", [0, -5, True, 2.0])
def test_allocate_refuses_bad_granularity(granularity: Any) -> None:
    """Granularity is a positive int."""
    with pytest.raises(InvalidAmountError, match="granularity"):
        usd("1.00").allocate(2, granularity=granularity)


def test_allocate_refuses_a_whole_off_the_granularity() -> None:
    """1.01 USD cannot be split in steps of 5 cents."""
    with pytest.raises(InvalidAmountError, match="multiple"):
        usd("1.01").allocate(2, granularity=5)


@given(
    money(min_minor=-(10**15), max_minor=10**15),
    st.integers(min_value=1, max_value=50),
    granularities(),
)
def test_equal_allocation_properties(whole: Money, count: int, granularity: int) -> None:
    """Parts sum exactly, differ by at most one step, and the larger ones come first."""
    whole = Money(whole.minor - whole.minor % granularity, whole.currency)
    parts = whole.allocate(count, granularity=granularity)
    assert len(parts) == count
    assert sum(p.minor for p in parts) == whole.minor
    assert all(p.currency == whole.currency for p in parts)
    assert all(p.minor % granularity == 0 for p in parts)
    sizes = [abs(p.minor) for p in parts]
    assert max(sizes) - min(sizes) <= granularity
    assert sizes == sorted(sizes, reverse=True)


@given(
    money(min_minor=0, max_minor=10**15),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(any),
    granularities(),
)
def test_ratio_allocation_properties(whole: Money, ratios: list[int], granularity: int) -> None:
    """Parts sum exactly; each is its floored share or one step more, extras on a prefix."""
    whole = Money(whole.minor - whole.minor % granularity, whole.currency)
    parts = whole.allocate(ratios, granularity=granularity)
    assert sum(p.minor for p in parts) == whole.minor
    units, total = whole.minor // granularity, sum(ratios)
    extras = [
        p.minor // granularity - units * r // total for p, r in zip(parts, ratios, strict=True)
    ]
    assert set(extras) <= {0, 1}
    assert all(e == 0 for e, r in zip(extras, ratios, strict=True) if r == 0)
    receiving = [e for e, r in zip(extras, ratios, strict=True) if r]
    assert receiving == sorted(receiving, reverse=True)


@given(
    money(min_minor=-(10**15), max_minor=10**15),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(any),
)
def test_allocated_shares_are_ordinary_money(whole: Money, ratios: list[int]) -> None:
    """Shares equal, hash like and are as frozen as Money built through the constructor."""
    parts = whole.allocate(ratios)
    rebuilt = tuple(Money(p.minor, p.currency) for p in parts)
    assert parts == rebuilt
    assert [hash(p) for p in parts] == [hash(r) for r in rebuilt]
    assert all(type(p) is Money and type(p.minor) is int for p in parts)
    assert all(p.currency == whole.currency for p in parts)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        parts[0].minor = 1  # type: ignore[misc]  # the point of the test
