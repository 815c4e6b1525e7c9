"""Products and the plan rules that pick their payment plans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import attrs

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import (
    FullPayment,
    Installments,
    PaymentPlan,
    PlanRule,
    Subscription,
    describe_plan,
)
from enrollpay.domain.price_lists import (
    check_plan_currency,
    check_price_list,
    plan_currency,
    plans_for,
    price_tuple,
    priced,
)
from enrollpay.domain.records import Product
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.errors import InvalidInputError, PlanError, ProductNotFoundError
from enrollpay.errors_prices import PlanCurrencyError, PriceListError
from enrollpay.service.base import check_money, check_text
from enrollpay.service.context import Context

__all__ = [
    "deactivate_product",
    "eligible_plans",
    "find_product",
    "get_product",
    "list_plan_rules",
    "list_products",
    "preview_schedule",
    "register_product",
    "set_plan_rules",
]


def register_product(
    ctx: Context,
    *,
    product_type: str,
    product_id: str,
    name: str,
    price: Money,
    auto_assign_payment_plan: bool = False,
    payment_plan: PaymentPlan | None = None,
    offered_plans: Sequence[PaymentPlan] = (),
    refund_policy: RefundPolicy | None = None,
    service_period: Interval | None = None,
    active: bool = True,
    actor: str = "system",
    prices: Sequence[Money] = (),
) -> Product:
    """Create or update the product the host app knows as ``(product_type, product_id)``.

    ``prices`` is the price list: explicit prices in other currencies, one
    per currency (see :mod:`enrollpay.domain.price_lists`). Every plan must
    fit the price in each currency it can be used in, and a plan with fixed
    money must be in a currency the product is sold in.
    """
    check_text(product_type, "product_type")
    check_text(product_id, "product_id")
    check_text(name, "name", limit=500)
    check_money(price, "price")
    if isinstance(prices, str | bytes | Money) or not isinstance(prices, Iterable):
        raise PriceListError(f"prices is a list of Money, got {type(prices).__name__}")
    listed = price_tuple(prices)
    check_price_list(price, listed)
    all_prices = (price, *(p for p in listed if isinstance(p, Money)))
    for plan in (payment_plan, *offered_plans):
        if plan is not None:
            _check_plan_prices(ctx, plan, all_prices)
    now = ctx.now()
    with ctx.unit() as tx:
        existing = tx.find_product(product_type, product_id)
        fields: dict[str, Any] = {
            "name": name,
            "price": price,
            "prices": listed,
            "active": active,
            "auto_assign_payment_plan": auto_assign_payment_plan,
            "payment_plan": payment_plan,
            "offered_plans": tuple(offered_plans),
            "refund_policy": refund_policy,
            "service_period": service_period or Interval.years(1),
        }
        if existing is None:
            product = Product(
                id=ctx.new_id("prod"),
                product_type=product_type,
                product_id=product_id,
                created_at=now,
                updated_at=now,
                **fields,
            )
            action = "product.registered"
        else:
            candidate = attrs.evolve(existing, **fields)
            if candidate == existing:
                return existing
            product = attrs.evolve(candidate, updated_at=now)
            action = "product.updated"
        tx.put_product(product)
        ctx.audit(
            tx,
            actor=actor,
            action=action,
            entity_type="product",
            entity_id=product.id,
            data={
                "product_type": product_type,
                "product_id": product_id,
                "name": name,
                "price": price,
                "prices": list(listed),
                "active": active,
            },
        )
    return product


def _check_plan_prices(ctx: Context, plan: PaymentPlan, all_prices: Sequence[Money]) -> None:
    """The plan fits the price in every currency it can be used in, and there is one."""
    if not isinstance(plan, (FullPayment, Installments, Subscription)):
        raise PlanError(f"not a payment plan: {plan!r}")
    fixed = plan_currency(plan)
    usable = [p for p in all_prices if fixed is None or p.currency == fixed]
    if not usable:
        sold_in = ", ".join(p.currency for p in all_prices)
        raise PlanCurrencyError(fixed or "", sold_in, describe_plan(plan))
    for price in usable:
        _check_plan(ctx, plan, price)


def _check_plan(ctx: Context, plan: PaymentPlan, price: Money) -> None:
    gateway = ctx.gateway
    build_schedule(
        plan,
        price,
        date(2000, 1, 1),  # any date: this only proves the plan fits the price
        granularity=1 if gateway is None else gateway.amount_granularity(price.currency),
        minimum=None if gateway is None else gateway.minimum_charge(price.currency),
        horizon=1,
    )


def get_product(ctx: Context, product_id: str) -> Product:
    """A product by its internal id."""
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
    if product is None:
        raise ProductNotFoundError(product_id)
    return product


def find_product(ctx: Context, product_type: str, product_id: str) -> Product:
    """A product by the host app's ``(product_type, product_id)``."""
    with ctx.unit() as tx:
        product = tx.find_product(product_type, product_id)
    if product is None:
        raise ProductNotFoundError(f"{product_type}:{product_id}")
    return product


def list_products(ctx: Context, *, active: bool | None = None) -> list[Product]:
    """Products by name."""
    with ctx.store.reader() as view:
        return view.list_products(active=active)


def deactivate_product(ctx: Context, product_id: str, *, actor: str = "system") -> Product:
    """Stop selling a product (existing enrollments are untouched)."""
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        if not product.active:
            return product
        product = attrs.evolve(product, active=False, updated_at=ctx.now())
        tx.put_product(product)
        ctx.audit(
            tx,
            actor=actor,
            action="product.deactivated",
            entity_type="product",
            entity_id=product_id,
        )
    return product


def set_plan_rules(ctx: Context, rules: Sequence[PlanRule], *, actor: str = "system") -> None:
    """Replace the automatic plan rules (tried by ascending priority)."""
    for rule in rules:
        if not isinstance(rule, PlanRule):
            raise InvalidInputError(f"expected PlanRule, got {type(rule).__name__}")
    with ctx.unit() as tx:
        tx.replace_plan_rules(list(rules))
        ctx.audit(
            tx,
            actor=actor,
            action="plan_rules.replaced",
            entity_type="plan_rules",
            entity_id="*",
            data={"rules": [r.name or describe_plan(r.plan) for r in rules]},
        )


def list_plan_rules(ctx: Context) -> list[PlanRule]:
    """The plan rules in the order given."""
    with ctx.store.reader() as view:
        return view.list_plan_rules()


def eligible_plans(
    ctx: Context, product_id: str, *, currency: str | None = None
) -> tuple[PaymentPlan, ...]:
    """Every plan a checkout page may offer for a product, the default first.

    ``currency`` (None: the product's default) judges plan rules at the
    price in that currency and leaves out plans fixed in another one;
    ``CurrencyNotOffered`` if the product has no price in it.
    """
    product = get_product(ctx, product_id)
    return plans_for(product, list_plan_rules(ctx), currency=currency)


def preview_schedule(
    ctx: Context,
    product_id: str,
    plan: PaymentPlan,
    *,
    start: date | None = None,
    currency: str | None = None,
) -> tuple[ScheduleLine, ...]:
    """The schedule ``plan`` would give for a product, starting ``start`` (default today).

    At the product's price in ``currency`` (None: its default price);
    ``CurrencyNotOffered`` or ``PlanCurrencyError`` when it cannot be.
    """
    view = priced(get_product(ctx, product_id), currency)
    gateway = ctx.gateway
    currency = view.price.currency
    check_plan_currency(plan, currency)
    return build_schedule(
        plan,
        view.price,
        start or ctx.today(),
        granularity=1 if gateway is None else gateway.amount_granularity(currency),
        minimum=None if gateway is None else gateway.minimum_charge(currency),
        horizon=ctx.config.subscription_horizon,
    )
