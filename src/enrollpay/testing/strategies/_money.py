"""Strategies for currencies and money."""

from __future__ import annotations

from collections.abc import Collection
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Final

import attrs
from hypothesis import strategies as st

from enrollpay.domain.money import Money, currency_exponent, known_currencies

CURRENCIES: Final[tuple[str, ...]] = tuple(sorted(known_currencies()))
_DEFAULT_MINOR_BOUND: Final = 10**12
_WIDE: Final = Context(prec=200)  # exact scaling of any bound a test would write


def currencies(*, exponents: Collection[int] | None = None) -> st.SearchStrategy[str]:
    """Every currency code babel knows, current and historic, in alphabetical order.

    ``exponents`` keeps only currencies whose minor unit has that many
    decimals (``{0}`` for JPY and friends, ``{3}`` for KWD, BHD, ...).
    """
    if exponents is None:
        return st.sampled_from(CURRENCIES)
    codes = [code for code in CURRENCIES if currency_exponent(code) in exponents]
    if not codes:
        raise ValueError(f"no known currency has an exponent in {sorted(exponents)}")
    return st.sampled_from(codes)


def granularities() -> st.SearchStrategy[int]:
    """Amount steps in minor units, as gateways impose them: mostly 1, else 5 to 100."""
    return st.sampled_from((1, 1, 1, 5, 10, 25, 50, 100))


def _scaled(value: Decimal | str | int, currency: str, rounding: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"money bounds are Decimal, str or int, got {type(value).__name__}")
    scaled = Decimal(value).scaleb(currency_exponent(currency), context=_WIDE)
    return int(scaled.to_integral_value(rounding=rounding, context=_WIDE))


@attrs.frozen
class _MoneyRange:
    """Bounds of :func:`money`, resolved per currency into a range of steps."""

    min_value: Decimal | str | int | None
    max_value: Decimal | str | int | None
    min_minor: int | None
    max_minor: int | None
    granularity: int

    def steps(self, currency: str) -> tuple[int, int]:
        """The lowest and highest multiple of the granularity, in steps."""
        low = -_DEFAULT_MINOR_BOUND if self.min_minor is None else self.min_minor
        high = _DEFAULT_MINOR_BOUND if self.max_minor is None else self.max_minor
        if self.min_value is not None:
            low = _scaled(self.min_value, currency, ROUND_CEILING)
        if self.max_value is not None:
            high = _scaled(self.max_value, currency, ROUND_FLOOR)
        return -(-low // self.granularity), high // self.granularity

    def fits(self, currency: str) -> bool:
        """True when some amount in ``currency`` lies within the bounds."""
        low, high = self.steps(currency)
        return low <= high

    def draw(self, currency: str) -> st.SearchStrategy[Money]:
        """Money in ``currency`` within the bounds."""
        low, high = self.steps(currency)
        step = self.granularity
        return st.integers(low, high).map(lambda units: Money(units * step, currency))


def money(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    min_value: Decimal | str | int | None = None,
    max_value: Decimal | str | int | None = None,
    min_minor: int | None = None,
    max_minor: int | None = None,
    granularity: int = 1,
) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (a code, a strategy of codes, or any of :func:`currencies`).

    Bounds are inclusive, either in major units (``min_value="0.50"``, read
    as :meth:`Money.of <enrollpay.Money.of>` reads amounts, then rounded
    inwards to the currency's minor unit: 0.50 JPY becomes 1 yen) or in minor
    units (``min_minor=50``); not both for one side. Unbounded sides stop at
    +/-10**12 minor units. Every amount is a multiple of ``granularity``
    minor units. Currencies in which the range holds no amount are skipped.
    """
    if min_value is not None and min_minor is not None:
        raise ValueError("give min_value or min_minor, not both")
    if max_value is not None and max_minor is not None:
        raise ValueError("give max_value or max_minor, not both")
    if isinstance(granularity, bool) or not isinstance(granularity, int) or granularity < 1:
        raise ValueError(f"granularity must be a positive int, got {granularity!r}")
    bounds = _MoneyRange(min_value, max_value, min_minor, max_minor, granularity)
    if isinstance(currency, str):
        code = Money.zero(currency).currency
        if not bounds.fits(code):
            raise ValueError(f"no amount in {code} lies within the bounds")
        return bounds.draw(code)
    codes = currencies() if currency is None else currency
    return codes.filter(bounds.fits).flatmap(bounds.draw)
