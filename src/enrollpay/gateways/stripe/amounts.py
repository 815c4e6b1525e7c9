"""Stripe's amount units, granularities and minimum charges.

:class:`~enrollpay.Money` counts ISO 4217 minor units. Stripe counts in its
own units, which agree with ISO for most currencies but not all:

- zero-decimal currencies (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND
  VUV XAF XOF XPF) are sent in whole units. MGA has an ISO exponent of 2, so
  an MGA charge must be a whole number of ariary: granularity 100 of our
  minor units;
- three-decimal currencies (BHD JOD KWD OMR TND) are sent with three
  decimals, but the last digit must be 0: granularity 10;
- ISK (ISO exponent 0) is sent as a two-decimal amount that must be
  divisible by 100, i.e. whole krónur. Every ``Money`` in ISK is whole
  krónur already, so ``500 ISK`` goes out as ``50000`` and the granularity in
  our units is 1;
- HUF (ISO exponent 2, as in :mod:`enrollpay.domain.money`) is sent as a
  two-decimal amount too; charges may use fillér (only payouts must be
  whole forints), so the granularity is 1;
- every other currency is sent with two decimals.

With ``e`` our exponent and ``s`` Stripe's, the Stripe amount is
``minor * 10**(s - e)``, and Stripe wants it divisible by ``d`` (10 for the
three-decimal currencies, 100 for ISK, else 1). The granularity in our
minor units is the smallest ``g`` with ``g * 10**(s - e)`` a whole multiple
of ``d``: the numerator of ``d / 10**(s - e)`` in lowest terms.

This module is pure: it does not import the Stripe SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from enrollpay.domain.money import Money, currency_exponent
from enrollpay.errors import AmountPrecisionError, InvalidAmountError, MoneyTypeError

__all__ = [
    "STRIPE_MINIMUM_CHARGES",
    "THREE_DECIMAL_CURRENCIES",
    "ZERO_DECIMAL_CURRENCIES",
    "amount_granularity",
    "from_stripe_amount",
    "minimum_charge",
    "stripe_exponent",
    "to_stripe_amount",
]

#: Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES: Final = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
#: Currencies Stripe counts in thousandths, with a last digit of 0.
THREE_DECIMAL_CURRENCIES: Final = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# What a Stripe amount must be divisible by, in Stripe's units.
_STRIPE_DIVISOR: Final = {
    **dict.fromkeys(THREE_DECIMAL_CURRENCIES, 10),
    "ISK": 100,
}

#: Stripe's documented minimum charge per currency
#: (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
#: Stripe applies the minimum in the *settlement* currency; the figures
#: hold for an account that settles in the charge currency.
STRIPE_MINIMUM_CHARGES: Final[Mapping[str, Money]] = MappingProxyType(
    {
        code: Money.of(amount, code)
        for code, amount in {
            "USD": "0.50",
            "AED": "2.00",
            "AUD": "0.50",
            "BGN": "1.00",
            "BRL": "0.50",
            "CAD": "0.50",
            "CHF": "0.50",
            "CZK": "15.00",
            "DKK": "2.50",
            "EUR": "0.50",
            "GBP": "0.30",
            "HKD": "4.00",
            "HUF": "175.00",
            "INR": "0.50",
            "JPY": "50",
            "MXN": "10",
            "MYR": "2",
            "NOK": "3.00",
            "NZD": "0.50",
            "PLN": "2.00",
            "RON": "2.00",
            "SEK": "3.00",
            "SGD": "0.50",
            "THB": "10",
        }.items()
    }
)


def _code(currency: str) -> str:
    return Money.zero(currency).currency  # validates and upper-cases


def stripe_exponent(currency: str) -> int:
    """Decimal places of Stripe's unit for ``currency`` (JPY 0, KWD 3, USD/ISK/HUF 2)."""
    code = _code(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def _scale(code: str) -> Fraction:
    """Stripe units per minor unit of ours: ``10**(s - e)``."""
    return Fraction(10) ** (stripe_exponent(code) - currency_exponent(code))


def amount_granularity(currency: str) -> int:
    """Minor units (ours) every Stripe amount in ``currency`` must be a multiple of.

    ``KWD`` 10, ``MGA`` 100, ``JPY``/``USD``/``ISK``/``HUF`` 1.
    """
    code = _code(currency)
    ratio = Fraction(_STRIPE_DIVISOR.get(code, 1)) / _scale(code)
    return ratio.numerator


def to_stripe_amount(money: Money) -> int:
    """The integer ``amount`` Stripe expects for ``money``.

    Raises :class:`~enrollpay.errors.InvalidAmountError` when ``money`` is
    not a multiple of :func:`amount_granularity` (Stripe would refuse it).
    """
    if not isinstance(money, Money):
        raise MoneyTypeError(f"expected Money, got {type(money).__name__}")
    granularity = amount_granularity(money.currency)
    if money.minor % granularity:
        raise InvalidAmountError(
            f"{money} cannot be charged through Stripe: amounts in {money.currency} "
            f"must be multiples of {granularity} minor units"
        )
    scaled = money.minor * _scale(money.currency)
    assert scaled.denominator == 1  # noqa: S101 - guaranteed by the granularity check
    return scaled.numerator


def from_stripe_amount(amount: int, currency: str) -> Money:
    """The :class:`~enrollpay.Money` for a Stripe ``amount`` in ``currency``.

    Raises :class:`~enrollpay.errors.AmountPrecisionError` if Stripe's amount
    is finer than the currency's ISO minor unit (never rounded silently).
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyTypeError(f"Stripe amounts are ints, got {type(amount).__name__}")
    code = _code(currency)
    minor = amount / _scale(code)
    if minor.denominator != 1:
        raise AmountPrecisionError(f"{amount} (Stripe units)", code, currency_exponent(code))
    return Money(minor.numerator, code)


def minimum_charge(currency: str, overrides: Mapping[str, Money] | None = None) -> Money | None:
    """Stripe's minimum charge in ``currency``, or ``None`` when Stripe lists none.

    ``overrides`` (by upper-case code) win over the built-in table.
    """
    code = _code(currency)
    if overrides and code in overrides:
        return overrides[code]
    return STRIPE_MINIMUM_CHARGES.get(code)
