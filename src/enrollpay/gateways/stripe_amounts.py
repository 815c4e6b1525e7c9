"""Moved to :mod:`enrollpay.gateways.stripe.amounts`; this name keeps working."""

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
