"""Tax lines of a schedule and the tax in parts of an item (examples and properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.money import Money, round_half_up
from enrollpay.domain.taxes import (
    MILLION,
    TaxAddress,
    TaxLine,
    TaxQuote,
    TaxRate,
    format_rate,
    percent,
    quote_at_rate,
    tax_of_part,
)
from enrollpay.errors_taxes import TaxError

DE = TaxRate("de", 190_000)


def eur(amount: str) -> Money:
    """Shorthand for euros."""
    return Money.of(amount, "EUR")


prices = st.lists(st.integers(0, 10_000_000), min_size=1, max_size=24).map(
    lambda minors: [Money(m, "EUR") for m in minors]
)
rates = st.builds(TaxRate, st.sampled_from(["DE", "US-CA", "JP"]), st.integers(0, MILLION))
modes = st.sampled_from(["inclusive", "exclusive"])


# --- examples ------------------------------------------------------------------------------


def test_exclusive_adds_the_tax_and_puts_the_leftover_cent_last() -> None:
    """Three payments of 33.33/33.33/33.34 at 19%: 19.00 in all, the odd cent on the last."""
    quote = quote_at_rate([eur("33.34"), eur("33.33"), eur("33.33")], DE, "exclusive")
    assert [line.tax for line in quote.lines] == [eur("6.33"), eur("6.33"), eur("6.34")]
    assert [line.gross for line in quote.lines] == [eur("39.67"), eur("39.66"), eur("39.67")]
    assert quote.total_tax == eur("19.00")
    assert quote.total_net == eur("100.00")
    assert quote.total_gross == eur("119.00")
    assert quote.lines[0].rate == "19%"
    assert quote.lines[0].jurisdiction == "DE"


def test_inclusive_keeps_the_price_and_shows_the_tax_inside() -> None:
    """119.00 including 19% holds 19.00 of tax and 100.00 net."""
    quote = quote_at_rate([eur("119.00")], DE, "inclusive")
    (line,) = quote.lines
    assert (line.net, line.tax, line.gross) == (eur("100.00"), eur("19.00"), eur("119.00"))
    assert quote.check_prices([eur("119.00")]) is quote


def test_rounding_is_half_up_on_the_whole_price() -> None:
    """0.05 at 10%: half a cent rounds up to 0.01 (and 0.04 rounds down to nothing)."""
    ten = TaxRate("FR", 100_000)
    assert quote_at_rate([eur("0.05")], ten, "exclusive").total_tax == eur("0.01")
    assert quote_at_rate([eur("0.04")], ten, "exclusive").total_tax == eur("0.00")


def test_a_free_schedule_has_no_tax() -> None:
    """A zero price (a 100% discount) is taxed zero, without dividing by zero."""
    quote = quote_at_rate([eur("0")], DE, "exclusive")
    assert quote.total_tax == eur("0")


def test_rates_read_as_percentages() -> None:
    """Parts per million print as exact percentages."""
    assert format_rate(88_750) == "8.875%"
    assert format_rate(0) == "0%"
    assert format_rate(MILLION) == "100%"
    assert str(TaxRate("us-ny", 88_750)) == "US-NY 8.875%"


def test_addresses_name_their_jurisdictions() -> None:
    """A state narrows the country; a code gives the address back."""
    assert TaxAddress("us", state="ca").jurisdictions == ("US-CA", "US")
    assert TaxAddress.of("DE").jurisdictions == ("DE",)
    assert TaxAddress.of("us-ca") == TaxAddress("US", "CA")


@pytest.mark.parametrize(
    "build",
    [
        lambda: TaxRate("Germany", 1),
        lambda: TaxRate(42, 1),
        lambda: TaxRate("DE", -1),
        lambda: TaxRate("DE", MILLION + 1),
        lambda: TaxRate("DE", True),
        lambda: TaxAddress("US-CA"),
        lambda: TaxAddress("US", state=""),
        lambda: TaxAddress("US", postal_code="9\n4"),
        lambda: TaxAddress("US", state="CALIFORNIA"),
        lambda: TaxLine(eur("1"), Money(1, "USD"), 1, "DE", "exclusive"),
        lambda: TaxLine(eur("1"), eur("-1"), 1, "DE", "exclusive"),
        lambda: TaxLine(eur("1"), eur("0"), 1, "DE", "sometimes"),  # type: ignore[arg-type]
        lambda: TaxQuote((), "exclusive"),
        lambda: TaxQuote((TaxLine(eur("1"), eur("0"), 1, "DE", "inclusive"),), "exclusive"),
        lambda: TaxQuote(
            (
                TaxLine(eur("1"), eur("0"), 1, "DE", "exclusive"),
                TaxLine(Money(1, "USD"), Money(0, "USD"), 1, "DE", "exclusive"),
            ),
            "exclusive",
        ),
        lambda: quote_at_rate([], DE, "exclusive"),
        lambda: quote_at_rate([eur("1"), Money(1, "USD")], DE, "exclusive"),
        lambda: quote_at_rate([eur("-1")], DE, "exclusive"),
        lambda: quote_at_rate([eur("1")], DE, "net"),  # type: ignore[arg-type]
        lambda: quote_at_rate([eur("1")], DE, "exclusive").check_prices([eur("1"), eur("1")]),
        lambda: quote_at_rate([eur("1")], DE, "exclusive").check_prices([eur("2")]),
    ],
)
def test_malformed_tax_input_is_a_typed_error(build: object) -> None:
    """Bad rates, addresses, lines and quotes raise TaxError (an InvalidInputError)."""
    with pytest.raises(TaxError):
        build()  # type: ignore[operator]


def test_parts_of_an_item_carry_its_tax_exactly() -> None:
    """Paid in three parts, 119.00 with 19.00 of tax: the parts' taxes add up to 19.00."""
    (line,) = quote_at_rate([eur("100")], DE, "exclusive").lines
    first = tax_of_part(line, before=eur("0"), amount=eur("40"))
    second = tax_of_part(line, before=eur("40"), amount=eur("40"))
    third = tax_of_part(line, before=eur("80"), amount=eur("39"))
    assert (first, second, third) == (eur("6.39"), eur("6.38"), eur("6.23"))
    assert first + second + third == line.tax
    assert tax_of_part(line, before=eur("119"), amount=eur("5")) == eur("0")


def test_a_zero_line_has_no_tax_in_any_part() -> None:
    """A free item's parts carry no tax."""
    (line,) = quote_at_rate([eur("0")], DE, "inclusive").lines
    assert tax_of_part(line, before=eur("0"), amount=eur("1")) == eur("0")


# --- properties: tax lines sum ---------------------------------------------------------------


@given(prices, rates, modes)
def test_tax_lines_sum(amounts: list[Money], rate: TaxRate, mode: str) -> None:
    """Per-item tax sums to the total tax; net + tax = gross; inclusive gross is the price."""
    quote = quote_at_rate(amounts, rate, mode)  # type: ignore[arg-type]
    total = sum(a.minor for a in amounts)
    expected = (
        round_half_up(total * rate.ppm, MILLION)
        if mode == "exclusive"
        else round_half_up(total * rate.ppm, MILLION + rate.ppm)
    )
    assert quote.total_tax.minor == expected
    assert sum(line.tax.minor for line in quote.lines) == quote.total_tax.minor
    assert quote.total_net + quote.total_tax == quote.total_gross
    for price, line in zip(amounts, quote.lines, strict=True):
        assert line.net + line.tax == line.gross
        assert line.tax.minor >= 0
        assert line.net.minor >= 0
        if mode == "inclusive":
            assert line.gross == price
        else:
            assert line.net == price
        # Pro rata: no item's share is a whole unit away from its exact share.
        if total:
            assert abs(line.tax.minor * total - expected * price.minor) <= total
    quote.check_prices(amounts)


@given(
    st.integers(0, 10_000_000),
    rates,
    modes,
    st.lists(st.integers(0, 4_000_000), min_size=1, max_size=8),
    st.lists(st.integers(0, 4_000_000), max_size=8),
)
def test_refunded_tax_never_exceeds_the_tax_collected(
    price: int, rate: TaxRate, mode: str, payments: list[int], refunds: list[int]
) -> None:
    """Paid and refunded in parts: refunds give back tax pro rata, never more than was paid."""
    (line,) = quote_at_rate([Money(price, "EUR")], rate, mode).lines  # type: ignore[arg-type]
    gross = line.gross.minor
    paid = collected = 0
    for wanted in payments:
        part = min(wanted, gross - paid)
        collected += tax_of_part(line, before=Money(paid, "EUR"), amount=Money(part, "EUR")).minor
        paid += part
    assert collected == round_half_up(line.tax.minor * paid, gross) if gross else collected == 0
    refunded = given_back = 0
    for wanted in refunds:
        part = min(wanted, paid - refunded)
        tax = tax_of_part(line, before=Money(refunded, "EUR"), amount=Money(part, "EUR")).minor
        assert 0 <= tax <= part
        given_back += tax
        refunded += part
        assert given_back <= collected
    if refunded == paid:
        assert given_back == collected


def test_percentages_parse_exactly() -> None:
    """Text percentages become parts per million without floats; too fine or too big is refused."""
    assert percent("8.875%") == 88_750
    assert percent(" 19 ") == 190_000
    assert percent("0.0001") == 1
    for bad in ("8.87501", "abc", "101%", "-1"):
        with pytest.raises(TaxError):
            percent(bad)
    with pytest.raises(TaxError):
        percent(19)  # type: ignore[arg-type]


@given(st.integers(0, MILLION))
def test_rates_print_and_parse_back(ppm: int) -> None:
    """format_rate and percent are inverse."""
    assert percent(format_rate(ppm)) == ppm
