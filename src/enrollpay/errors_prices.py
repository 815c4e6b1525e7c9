"""The errors of price lists (see :mod:`enrollpay.domain.price_lists`).

Kept apart from :mod:`enrollpay.errors` (which is near the module size
limit); every class derives from the same roots, so ``except ValueError``
and ``except EnrollpayError`` catch them as usual.
"""

from __future__ import annotations

from collections.abc import Iterable

from enrollpay.errors import InvalidInputError, PlanError

__all__ = ["CurrencyNotOffered", "CurrencyNotOfferedError", "PlanCurrencyError", "PriceListError"]


class PriceListError(InvalidInputError):
    """A product's price list is malformed (a non-Money, a repeated or non-positive price)."""


class CurrencyNotOffered(InvalidInputError):  # noqa: N818 - named like PlanNotOffered
    """The product has no price in the requested currency (prices are never converted).

    ``product_id`` names the product, ``currency`` what was asked for and
    ``offered`` the currencies it is sold in, its default first.
    """

    def __init__(self, product_id: str, currency: str, offered: Iterable[str]) -> None:
        self.product_id = product_id
        self.currency = currency
        self.offered = tuple(offered)
        super().__init__(
            f"product {product_id!r} has no price in {currency}; "
            f"it is offered in {', '.join(self.offered)}"
        )


CurrencyNotOfferedError = CurrencyNotOffered


class PlanCurrencyError(PlanError):
    """A plan's fixed amount (a deposit, a subscription amount) is in another currency.

    ``plan_currency`` is the currency of the plan's fixed money and
    ``currency`` the one the student pays in.
    """

    def __init__(self, plan_currency: str, currency: str, description: str) -> None:
        self.plan_currency = plan_currency
        self.currency = currency
        super().__init__(f"{description} has fixed amounts in {plan_currency}, not in {currency}")
