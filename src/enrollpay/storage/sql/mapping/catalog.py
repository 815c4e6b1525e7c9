"""Rows of products, plan rules and gateway customers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from enrollpay.domain.money import Money
from enrollpay.domain.plans import PlanRule, plan_to_data
from enrollpay.domain.records import (
    Customer,
    Product,
)
from enrollpay.storage.sql.mapping.values import (
    Row,
    interval_data,
    interval_from,
    money_data,
    money_from,
    plan_from,
    policy_data,
    policy_from,
)

__all__ = [
    "customer_from_row",
    "customer_to_row",
    "product_from_row",
    "product_to_row",
    "rule_from_row",
    "rule_to_row",
]


def product_to_row(p: Product) -> dict[str, Any]:
    """Column values of a product (not its seat limit: only ``set_seat_limit`` writes that)."""
    return {
        "id": p.id,
        "product_type": p.product_type,
        "product_id": p.product_id,
        "name": p.name,
        "price_minor": p.price.minor,
        "currency": p.price.currency,
        "active": p.active,
        "auto_assign_payment_plan": p.auto_assign_payment_plan,
        "payment_plan": None if p.payment_plan is None else plan_to_data(p.payment_plan),
        "offered_plans": [plan_to_data(plan) for plan in p.offered_plans],
        "refund_policy": policy_data(p.refund_policy),
        "service_period": interval_data(p.service_period),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def product_from_row(r: Row, prices: Iterable[Money] = ()) -> Product:
    """The product a row holds, with its price list (rows of its own table)."""
    return Product(
        id=r["id"],
        product_type=r["product_type"],
        product_id=r["product_id"],
        name=r["name"],
        price=Money(r["price_minor"], r["currency"]),
        active=bool(r["active"]),
        auto_assign_payment_plan=bool(r["auto_assign_payment_plan"]),
        payment_plan=None if r["payment_plan"] is None else plan_from(r["payment_plan"]),
        offered_plans=tuple(plan_from(d) for d in r["offered_plans"]),
        refund_policy=policy_from(r["refund_policy"]),
        service_period=interval_from(r["service_period"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        seat_limit=r["seat_limit"],
        prices=tuple(prices),
    )


def _names(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def rule_to_row(position: int, rule: PlanRule) -> dict[str, Any]:
    """Column values of the plan rule at ``position``."""
    return {
        "position": position,
        "name": rule.name,
        "priority": rule.priority,
        "plan": plan_to_data(rule.plan),
        "product_types": _names(rule.product_types),
        "min_price": money_data(rule.min_price),
        "max_price": money_data(rule.max_price),
        "currency": rule.currency,
        "product_ids": _names(rule.product_ids),
        "active": rule.active,
    }


def rule_from_row(r: Row) -> PlanRule:
    """The plan rule a row holds."""
    types, ids = r["product_types"], r["product_ids"]
    return PlanRule(
        plan=plan_from(r["plan"]),
        name=r["name"],
        priority=r["priority"],
        product_types=None if types is None else frozenset(types),
        min_price=money_from(r["min_price"]),
        max_price=money_from(r["max_price"]),
        currency=r["currency"],
        product_ids=None if ids is None else frozenset(ids),
        active=bool(r["active"]),
    )


def customer_to_row(c: Customer) -> dict[str, Any]:
    """Column values of a customer."""
    return {
        "user_id": c.user_id,
        "gateway_customer_id": c.gateway_customer_id,
        "payment_method_id": c.payment_method_id,
    }


def customer_from_row(r: Row) -> Customer:
    """The customer a row holds."""
    return Customer(r["user_id"], r["gateway_customer_id"], r["payment_method_id"])
