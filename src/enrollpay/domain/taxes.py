"""Sales tax on a schedule: rates by jurisdiction, inclusive or exclusive prices, the tax lines.

Pure values and arithmetic; who knows the rate (a table, Stripe Tax) is a
port (:class:`~enrollpay.ports.taxes.TaxCalculator`). Money stays integer
minor units and a rate is an integer too: **parts per million** of the net
amount (19% is ``190_000``, New York City's 8.875% is ``88_750``), so no
float or decimal ever takes part in a sum.

Rounding (:func:`quote_at_rate`): the tax of the whole schedule is computed
once, rounded half up to the minor unit, then spread over the items in
proportion to their amounts through the one allocator
(:meth:`~enrollpay.domain.money.Money.allocate`), the leftover units on the
last items (the last one first), like a discount. So the items' taxes
always add up to the tax of the total price, and a schedule of one item
taxes exactly like a single sale.

- ``exclusive``: the amounts are net; ``tax = round(total * rate)`` and
  each item is charged ``net + tax``.
- ``inclusive``: the amounts are gross (what is charged, unchanged);
  ``tax = round(total * rate / (1 + rate))`` and each item's net is its
  amount less its tax.

Money given back or received in parts (:func:`tax_of_part`): the tax in
the first ``p`` of an item's gross ``G`` is ``round(T * p / G)``; the tax
of a payment or refund is that figure after it less that figure before it.
The parts of an item therefore carry exactly its tax between them, and a
refund, never more than the money paid, never gives back more tax than the
payments it returns collected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

import attrs

from enrollpay.domain.money import Money, round_half_up
from enrollpay.errors_taxes import TaxError

__all__ = [
    "MILLION",
    "TAX_MODES",
    "TaxAddress",
    "TaxLine",
    "TaxMode",
    "TaxQuote",
    "TaxRate",
    "format_rate",
    "percent",
    "quote_at_rate",
    "tax_of_part",
]

TaxMode = Literal["inclusive", "exclusive"]
#: How a price relates to its tax: it includes it, or the tax is added on top.
TAX_MODES: Final[tuple[TaxMode, ...]] = get_args(TaxMode)
#: A rate of ``MILLION`` parts per million is 100%.
MILLION: Final = 1_000_000
_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def _jurisdiction(value: object) -> str:
    if not isinstance(value, str):
        raise TaxError(f"a jurisdiction is text such as 'DE' or 'US-CA', got {value!r}")
    code = value.strip().upper()
    if not _JURISDICTION.fullmatch(code):
        raise TaxError(f"a jurisdiction is a country code and an optional region, got {value!r}")
    return code


def _check_ppm(_instance: object, _attribute: attrs.Attribute[Any] | None, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MILLION:
        raise TaxError(f"a tax rate is whole parts per million from 0 to {MILLION}, got {value!r}")


def _check_mode(_instance: object, _attribute: attrs.Attribute[Any] | None, value: object) -> None:
    if value not in TAX_MODES:
        raise TaxError(f"tax mode must be one of {list(TAX_MODES)}, got {value!r}")


_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,4}))?%?")


def percent(text: str) -> int:
    """``"8.875%"`` (or ``"8.875"``) as parts per million: ``88750``; exact, or a TaxError."""
    found = _PERCENT.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise TaxError(f"a percentage has at most 4 decimals, such as '8.875%', got {text!r}")
    whole, decimals = found.group(1), found.group(2) or ""
    ppm = int(whole) * 10_000 + int(decimals.ljust(4, "0"))
    _check_ppm(None, None, ppm)
    return ppm


def format_rate(ppm: int) -> str:
    """``190000`` -> ``"19%"``, ``88750`` -> ``"8.875%"`` (exact, trailing zeros dropped)."""
    whole, rest = divmod(ppm, 10_000)
    if not rest:
        return f"{whole}%"
    return f"{whole}.{rest:04d}".rstrip("0") + "%"


@attrs.frozen
class TaxRate:
    """The rate of one jurisdiction: ``TaxRate("DE", 190_000)`` is Germany's 19%."""

    jurisdiction: str = attrs.field(converter=_jurisdiction)
    ppm: int = attrs.field(validator=_check_ppm)

    def __str__(self) -> str:
        return f"{self.jurisdiction} {format_rate(self.ppm)}"


@attrs.frozen
class TaxAddress:
    """Where the buyer is taxed: a country, and a state or province and postal code if known.

    The table adapter looks up ``country-state`` (``US-CA``) and then the
    country; Stripe Tax is sent the whole address.
    """

    country: str = attrs.field(converter=_jurisdiction)
    state: str | None = None
    postal_code: str | None = None
    city: str | None = None
    line1: str | None = None

    def __attrs_post_init__(self) -> None:
        if "-" in self.country:
            raise TaxError(f"country must be a two-letter code, got {self.country!r}")
        for name in ("state", "postal_code", "city", "line1"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, str) or not value.strip() or not value.isprintable()
            ):
                raise TaxError(f"{name} must be non-empty printable text, got {value!r}")
        if self.state is not None:
            _jurisdiction(f"{self.country}-{self.state}")

    @classmethod
    def of(cls, jurisdiction: str) -> TaxAddress:
        """The address a jurisdiction code names: ``"US-CA"`` is California, ``"DE"`` Germany."""
        code = _jurisdiction(jurisdiction)
        country, _, state = code.partition("-")
        return cls(country, state or None)

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        """The codes to look up, most precise first (``("US-CA", "US")``)."""
        if self.state is None:
            return (self.country,)
        return (f"{self.country}-{self.state.strip().upper()}", self.country)


@attrs.frozen
class TaxLine:
    """The tax of one schedule item: ``net + tax == gross``, at ``ppm`` of ``jurisdiction``.

    ``gross`` is what the item charges. A calculator that knows better
    than one rate (Stripe Tax) may report any tax; the line only checks
    that its parts agree.
    """

    net: Money
    tax: Money
    ppm: int = attrs.field(validator=_check_ppm)
    jurisdiction: str = attrs.field(converter=_jurisdiction)
    mode: TaxMode = attrs.field(validator=_check_mode)

    def __attrs_post_init__(self) -> None:
        if self.net.currency != self.tax.currency:
            raise TaxError(f"net {self.net} and tax {self.tax} differ in currency")
        if self.net.minor < 0 or self.tax.minor < 0:
            raise TaxError(f"net {self.net} and tax {self.tax} must not be negative")

    @property
    def gross(self) -> Money:
        """What the item charges: its net and its tax."""
        return self.net + self.tax

    @property
    def rate(self) -> str:
        """The rate as people read it (``"19%"``)."""
        return format_rate(self.ppm)


@attrs.frozen
class TaxQuote:
    """The tax of a schedule: one :class:`TaxLine` per item, in order, and their totals."""

    lines: tuple[TaxLine, ...]
    mode: TaxMode = attrs.field(validator=_check_mode)

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise TaxError("a tax quote has at least one line")
        if any(line.mode != self.mode for line in self.lines):
            raise TaxError(f"every line of a {self.mode} quote must be {self.mode}")
        if len({line.net.currency for line in self.lines}) != 1:
            raise TaxError("the lines of a tax quote share one currency")

    def _sum(self, parts: Sequence[Money]) -> Money:
        return Money(sum(part.minor for part in parts), self.lines[0].net.currency)

    @property
    def total_net(self) -> Money:
        """The net of every item."""
        return self._sum([line.net for line in self.lines])

    @property
    def total_tax(self) -> Money:
        """The tax of every item: the sum of the lines' taxes."""
        return self._sum([line.tax for line in self.lines])

    @property
    def total_gross(self) -> Money:
        """What the schedule charges in all."""
        return self._sum([line.gross for line in self.lines])

    def check_prices(self, prices: Sequence[Money]) -> TaxQuote:
        """This quote, if it fits ``prices`` (its nets if exclusive, its grosses if inclusive)."""
        if len(prices) != len(self.lines):
            raise TaxError(f"{len(self.lines)} tax lines for {len(prices)} prices")
        for price, line in zip(prices, self.lines, strict=True):
            own = line.gross if self.mode == "inclusive" else line.net
            if own != price:
                raise TaxError(f"a {self.mode} tax line of {own} does not match the price {price}")
        return self


def quote_at_rate(prices: Sequence[Money], rate: TaxRate, mode: TaxMode) -> TaxQuote:
    """The tax lines of ``prices`` at one ``rate`` (see the module for the rounding rule)."""
    _check_mode(None, None, mode)
    if not prices:
        raise TaxError("there is no price to tax")
    currency = prices[0].currency
    if any(price.currency != currency or price.minor < 0 for price in prices):
        raise TaxError("the prices to tax share one currency and are not negative")
    total = Money(sum(price.minor for price in prices), currency)
    if mode == "exclusive":
        tax = round_half_up(total.minor * rate.ppm, MILLION)
    else:
        tax = round_half_up(total.minor * rate.ppm, MILLION + rate.ppm)
    if total.minor == 0:
        shares = [Money.zero(total.currency)] * len(prices)
    else:
        ratios = [price.minor for price in reversed(prices)]
        shares = list(Money(tax, total.currency).allocate(ratios))[::-1]
    lines = tuple(
        TaxLine(
            net=price if mode == "exclusive" else price - share,
            tax=share,
            ppm=rate.ppm,
            jurisdiction=rate.jurisdiction,
            mode=mode,
        )
        for price, share in zip(prices, shares, strict=True)
    )
    return TaxQuote(lines, mode)


def tax_of_part(line: TaxLine, *, before: Money, amount: Money) -> Money:
    """The tax in ``amount`` of ``line``'s gross, after ``before`` of it was counted already.

    ``before + amount`` is capped at the gross, so no part carries tax the
    line does not have; a part of zero carries none.
    """
    gross = line.gross

    def upto(part: Money) -> int:
        if gross.minor == 0:
            return 0
        capped = max(0, min(part.minor, gross.minor))
        return round_half_up(line.tax.minor * capped, gross.minor)

    return Money(upto(before + amount) - upto(before), gross.currency)
