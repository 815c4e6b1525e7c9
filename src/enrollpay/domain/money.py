"""Money in integer minor units, and the one allocator every split goes through."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from functools import lru_cache
from typing import Any, Final

import attrs
from babel.numbers import format_currency, get_currency_precision, list_currencies

from enrollpay.errors import (
    AmountPrecisionError,
    CurrencyMismatchError,
    InvalidAmountError,
    MoneyTypeError,
    UnknownCurrencyError,
)

__all__ = ["Money", "currency_exponent", "known_currencies", "round_half_up"]

# babel's precision comes from CLDR's "digits", which is the number of decimals
# in everyday use. For these current currencies ISO 4217 defines a different
# minor unit, and the minor unit is what banks and gateways count in, so the
# ISO exponent wins (figures from the ISO 4217 list).
_ISO_EXPONENT_OVERRIDES: Final = {
    "AFN": 2,
    "ALL": 2,
    "COP": 2,
    "HUF": 2,
    "IDR": 2,
    "IQD": 3,
    "IRR": 2,
    "KPW": 2,
    "LAK": 2,
    "LBP": 2,
    "MGA": 2,
    "MMK": 2,
    "SLL": 2,
    "SOS": 2,
    "SYP": 2,
    "YER": 2,
}


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """Every ISO 4217 code babel knows, current and historic."""
    return frozenset(list_currencies())


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (USD 2, JPY 0, KWD 3)."""
    if currency not in known_currencies():
        raise UnknownCurrencyError(currency)
    override = _ISO_EXPONENT_OVERRIDES.get(currency)
    return override if override is not None else get_currency_precision(currency)


def _normalise_currency(value: object) -> str:
    if type(value) is str and value in known_currencies():  # canonical already (the usual)
        return value
    if not isinstance(value, str):
        raise UnknownCurrencyError(value)
    code = value.strip().upper()
    if code not in known_currencies():
        raise UnknownCurrencyError(value)
    return code


def _check_minor(_instance: object, _attribute: object, value: int) -> None:
    # bool is an int subclass; True dollars is certainly a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            raise MoneyTypeError(f"money must be integer minor units, got float {value!r}")
        raise MoneyTypeError(f"money must be integer minor units, got {type(value).__name__}")


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in exact integers."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


@attrs.frozen(order=False)
class Money:
    """An exact amount: integer ``minor`` units of an ISO 4217 ``currency``.

    >>> Money.of("299.99", "usd")
    Money(minor=29999, currency='USD')
    >>> [str(part) for part in Money.of("100.00", "USD").allocate(3)]
    ['33.34 USD', '33.33 USD', '33.33 USD']
    """

    minor: int = attrs.field(validator=_check_minor)
    currency: str = attrs.field(converter=_normalise_currency)

    # -- construction -------------------------------------------------------

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        """Build from major units (``"12.50"``), refusing floats and extra precision."""
        code = _normalise_currency(currency)
        exponent = currency_exponent(code)
        value = _to_decimal(amount)
        try:
            scaled = _shift(value, exponent)
        except Overflow:  # a subclass of Inexact, so it goes first
            raise InvalidAmountError(f"amount out of range: {amount!r}") from None
        except Inexact:
            # Only reachable below Decimal's exponent range (1e-1000000 and smaller).
            raise AmountPrecisionError(amount, code, exponent) from None
        if scaled != scaled.to_integral_value():
            raise AmountPrecisionError(amount, code, exponent)
        return cls(int(scaled), code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``."""
        return cls(0, currency)

    # -- views --------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Decimal places of this currency's minor unit."""
        return currency_exponent(self.currency)

    @property
    def amount(self) -> Decimal:
        """The amount in major units, exact (``Decimal("299.99")``)."""
        return _shift(Decimal(self.minor), -self.exponent)

    def format(self, locale: str = "en_US") -> str:
        """Format for humans with babel (``$299.99``, ``299,99 $``, ...)."""
        return format_currency(self.amount, self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.amount:.{self.exponent}f} {self.currency}"

    def is_zero(self) -> bool:
        """True for an amount of zero."""
        return self.minor == 0

    # -- arithmetic ---------------------------------------------------------

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            if isinstance(other, float):
                raise MoneyTypeError(f"cannot combine Money with float {other!r}")
            raise MoneyTypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(self.currency, other.currency)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other).minor

    def min(self, other: Money) -> Money:
        """The smaller of two amounts in the same currency."""
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        """The larger of two amounts in the same currency."""
        return self if self >= other else other

    # -- splitting ------------------------------------------------------------

    def allocate(self, parts: int | Sequence[int], *, granularity: int = 1) -> tuple[Money, ...]:
        """Split exactly into ``parts`` equal shares or shares proportional to ratios.

        Each share is first floored to a multiple of ``granularity``; the
        leftover is then handed out one ``granularity`` at a time from the
        first share onward (shares with a zero ratio get nothing). The shares
        always add back to the whole::

            share_i = floor(whole * r_i / sum(r) / g) * g  (+ g for the first k)

        The whole must be a multiple of ``granularity``.
        """
        ratios = _ratios(parts)
        if isinstance(granularity, bool) or not isinstance(granularity, int) or granularity < 1:
            raise InvalidAmountError(f"granularity must be a positive int, got {granularity!r}")
        if self.minor % granularity:
            raise InvalidAmountError(
                f"{self} is not a multiple of the granularity {granularity} minor units"
            )
        sign = -1 if self.minor < 0 else 1
        units = abs(self.minor) // granularity
        total = sum(ratios)
        shares = [units * r // total for r in ratios]
        leftover = units - sum(shares)
        # Flooring loses less than one unit per non-zero ratio, so the leftover
        # is smaller than their count and one pass over them hands it all out.
        receivers = [index for index, ratio in enumerate(ratios) if ratio]
        for index in receivers[:leftover]:
            shares[index] += 1
        # The shares are plain ints computed here and the currency is this Money's
        # (already checked), so the shares skip the constructor's validators.
        return tuple(_checked_already(sign * s * granularity, self.currency) for s in shares)


def _checked_already(minor: int, currency: str) -> Money:
    """A Money from values known valid (an int, a canonical code), without re-validating.

    Only for values derived inside this module from a validated Money; every
    outside value goes through ``Money(...)`` and its validators.
    """
    money = object.__new__(Money)
    object.__setattr__(money, "minor", minor)
    object.__setattr__(money, "currency", currency)
    return money


def _shift(value: Decimal, places: int) -> Decimal:
    """``value * 10**places`` exactly, or :class:`decimal.Inexact` / :class:`decimal.Overflow`.

    Decimal arithmetic rounds to its context's precision (28 digits by
    default), which would silently round large amounts; a context as wide as
    the coefficient that traps inexact results keeps the shift exact.
    """
    context = Context(
        prec=max(len(value.as_tuple().digits), 1), traps=[Inexact, Overflow, InvalidOperation]
    )
    return value.scaleb(places, context)


def _ratios(parts: int | Sequence[int]) -> list[int]:
    if isinstance(parts, int) and not isinstance(parts, bool):
        if parts < 1:
            raise InvalidAmountError(f"cannot allocate into {parts} parts")
        return [1] * parts
    if not isinstance(parts, Sequence):
        raise MoneyTypeError(f"parts is a count or a sequence of int ratios, got {parts!r}")
    ratios = list(parts)
    if not ratios:
        raise InvalidAmountError("cannot allocate into zero parts")
    for ratio in ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, int):
            raise MoneyTypeError(f"allocation ratios must be ints, got {ratio!r}")
        if ratio < 0:
            raise InvalidAmountError(f"allocation ratios must not be negative, got {ratio}")
    if sum(ratios) == 0:
        raise InvalidAmountError("allocation ratios must not all be zero")
    return ratios


def _to_decimal(amount: Any) -> Decimal:
    if isinstance(amount, float):
        raise MoneyTypeError(f"floats are not accepted for money, got {amount!r}; use a str")
    if isinstance(amount, bool):
        raise MoneyTypeError("a bool is not an amount")
    if isinstance(amount, int):
        return Decimal(amount)
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise InvalidAmountError(f"not an amount: {amount!r}") from None
    else:
        raise MoneyTypeError(f"amounts are Decimal, str or int, got {type(amount).__name__}")
    if not value.is_finite():
        raise InvalidAmountError(f"amount must be finite, got {amount!r}")
    return value
