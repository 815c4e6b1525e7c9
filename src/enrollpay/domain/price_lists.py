"""Price lists: a product's explicit prices in more than one currency.

A product has its ``price``, in its default currency, and a price list:
further explicit prices, at most one per currency, each positive integer
minor units, none in the default currency (that one is ``price``). A
student pays in one of these currencies, chosen at checkout. Nothing is
ever converted: :func:`price_in` answers the explicit price in the
requested currency or raises
:class:`~enrollpay.errors_prices.CurrencyNotOffered`.

Plans are currency-neutral unless they hold fixed money: a fixed deposit
or a fixed subscription amount is in one currency, and such a plan can
only be used in it (:func:`check_plan_currency` raises
:class:`~enrollpay.errors_prices.PlanCurrencyError` otherwise). A
percentage deposit or an installment plan fits every currency. Plan
detection runs on :class:`PricedProduct`, the product seen at the chosen
price, so rules with a currency or price bounds judge that price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.plans import (
    Installments,
    PaymentPlan,
    PlanRule,
    Subscription,
    describe_plan,
    detect_plan,
    eligible_plans,
)
from enrollpay.errors_prices import CurrencyNotOffered, PlanCurrencyError, PriceListError

__all__ = [
    "Priced",
    "PricedProduct",
    "check_plan_currency",
    "check_price_list",
    "currencies",
    "plan_currency",
    "plan_for",
    "plans_for",
    "price_in",
    "price_tuple",
    "priced",
]


class Priced(Protocol):
    """What choosing a price needs of a product."""

    @property
    def id(self) -> str: ...  # noqa: D102
    @property
    def price(self) -> Money: ...  # noqa: D102
    @property
    def prices(self) -> tuple[Money, ...]: ...  # noqa: D102


def price_tuple(value: Iterable[object]) -> tuple[object, ...]:
    """A price list as a tuple, ordered by currency when every entry is Money.

    Entries that are not Money are kept as given, for
    :func:`check_price_list` to refuse by name.
    """
    items = tuple(value)
    monies = [item for item in items if isinstance(item, Money)]
    if len(monies) == len(items):
        return tuple(sorted(monies, key=lambda m: m.currency))
    return items


def check_price_list(default: Money, prices: Sequence[object]) -> None:
    """Refuse a malformed price list with :class:`PriceListError`.

    Every entry is Money with a positive amount, in a currency other than
    ``default``'s, and no two in one currency.
    """
    seen: set[str] = {default.currency}
    for entry in prices:
        if not isinstance(entry, Money):
            raise PriceListError(f"a price list holds Money, got {type(entry).__name__}")
        if entry.minor <= 0:
            raise PriceListError(f"a listed price must be positive, got {entry}")
        if entry.currency == default.currency:
            raise PriceListError(
                f"{entry} repeats the default currency {default.currency}: that price is `price`"
            )
        if entry.currency in seen:
            raise PriceListError(f"a price list has one price per currency; {entry.currency} twice")
        seen.add(entry.currency)


def currencies(product: Priced) -> tuple[str, ...]:
    """The currencies a product is sold in, the default first, then the list's in order."""
    return (product.price.currency, *(p.currency for p in product.prices))


def price_in(product: Priced, currency: str | None = None) -> Money:
    """The product's explicit price in ``currency`` (None: its default price).

    ``currency`` is an ISO 4217 code in any case (``"eur"`` is ``"EUR"``);
    an unknown code raises :class:`~enrollpay.errors.UnknownCurrencyError`,
    a known one the product has no price in :class:`CurrencyNotOffered`.
    """
    if currency is None:
        return product.price
    code = Money.zero(currency).currency
    if code == product.price.currency:
        return product.price
    for listed in product.prices:
        if listed.currency == code:
            return listed
    raise CurrencyNotOffered(product.id, code, currencies(product))


def plan_currency(plan: PaymentPlan) -> str | None:
    """The currency of a plan's fixed money (None: the plan fits any currency)."""
    if isinstance(plan, Installments):
        deposit = plan.deposit
        if deposit is not None and deposit.fixed_amount is not None:
            return deposit.fixed_amount.currency
    elif isinstance(plan, Subscription) and plan.amount is not None:
        return plan.amount.currency
    return None


def check_plan_currency(plan: PaymentPlan, currency: str) -> None:
    """Refuse (:class:`PlanCurrencyError`) a plan whose fixed money is not in ``currency``."""
    fixed = plan_currency(plan)
    if fixed is not None and fixed != currency:
        raise PlanCurrencyError(fixed, currency, describe_plan(plan))


class _Subject(Priced, Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def product_type(self) -> str: ...
    @property
    def payment_plan(self) -> PaymentPlan | None: ...
    @property
    def offered_plans(self) -> tuple[PaymentPlan, ...]: ...
    @property
    def auto_assign_payment_plan(self) -> bool: ...


@attrs.frozen
class PricedProduct:
    """A product seen at the price in one currency: what plan detection and discounts judge.

    It has everything :class:`~enrollpay.domain.plans.PlanSubject` asks
    for; ``price`` is the chosen price, not the product's default.
    """

    product: _Subject
    price: Money

    @property
    def id(self) -> str:
        """The product's internal id."""
        return self.product.id

    @property
    def product_id(self) -> str:
        """The host app's id of the product."""
        return self.product.product_id

    @property
    def product_type(self) -> str:
        """The host app's type of the product."""
        return self.product.product_type

    @property
    def payment_plan(self) -> PaymentPlan | None:
        """The product's pinned plan, if any."""
        return self.product.payment_plan

    @property
    def offered_plans(self) -> tuple[PaymentPlan, ...]:
        """The plans the product offers besides its default."""
        return self.product.offered_plans

    @property
    def auto_assign_payment_plan(self) -> bool:
        """Whether plan rules choose the product's plan."""
        return self.product.auto_assign_payment_plan


def priced(product: _Subject, currency: str | None = None) -> PricedProduct:
    """``product`` at its price in ``currency`` (None: the default); see :func:`price_in`."""
    return PricedProduct(product, price_in(product, currency))


def plan_for(
    product: _Subject,
    rules: Sequence[PlanRule],
    *,
    currency: str | None = None,
    requested: PaymentPlan | None = None,
) -> tuple[PricedProduct, PaymentPlan]:
    """The product at the chosen price and the plan a new enrollment gets in that currency.

    :func:`~enrollpay.domain.plans.detect_plan` at the chosen price; a plan
    (requested or detected) with fixed money in another currency raises
    :class:`PlanCurrencyError`.
    """
    view = priced(product, currency)
    if requested is not None:
        check_plan_currency(requested, view.price.currency)
    plan = detect_plan(view, rules, requested)
    check_plan_currency(plan, view.price.currency)
    return view, plan


def plans_for(
    product: _Subject, rules: Sequence[PlanRule], *, currency: str | None = None
) -> tuple[PaymentPlan, ...]:
    """:func:`~enrollpay.domain.plans.eligible_plans` at the chosen price, in its currency only.

    Plans with fixed money in another currency are left out; full payment
    is always among them.
    """
    view = priced(product, currency)
    code = view.price.currency
    return tuple(p for p in eligible_plans(view, rules) if plan_currency(p) in (None, code))
