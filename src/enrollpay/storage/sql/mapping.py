"""Explicit mapping between table rows and the frozen domain records.

Frozen, slotted attrs classes cannot be ORM-mapped, and they should not be:
each function here turns one record into the column values of its table, or
one row back into an equal record. Money is split into integer minor units
and a currency; plans, refund policies and intervals become JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, PlanRule, plan_from_data, plan_to_data
from enrollpay.domain.records import (
    AuditEntry,
    Customer,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import DeclineClass
from enrollpay.errors import CurrencyMismatchError

__all__ = [
    "attempt_from_row",
    "attempt_to_row",
    "audit_from_row",
    "audit_to_row",
    "customer_from_row",
    "customer_to_row",
    "enrollment_from_row",
    "enrollment_to_row",
    "item_from_row",
    "item_to_row",
    "payment_from_row",
    "payment_to_row",
    "product_from_row",
    "product_to_row",
    "receipt_from_row",
    "receipt_to_row",
    "refund_from_row",
    "refund_to_row",
    "rule_from_row",
    "rule_to_row",
]

Row = Mapping[Any, Any]


# --- value objects -------------------------------------------------------------


def _money_data(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor": value.minor, "currency": value.currency}


def _money_from(data: Any) -> Money | None:
    return None if data is None else Money(int(data["minor"]), str(data["currency"]))


def _interval_data(value: Interval) -> dict[str, Any]:
    return {"unit": value.unit, "count": value.count}


def _interval_from(data: Any) -> Interval:
    return Interval(data["unit"], int(data["count"]))


def _policy_data(policy: RefundPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "cooling_off_days": policy.cooling_off_days,
        "proration": policy.proration,
        "non_refundable": _money_data(policy.non_refundable),
        "admin_fee": _money_data(policy.admin_fee),
    }


def _policy_from(data: Any) -> RefundPolicy | None:
    if data is None:
        return None
    return RefundPolicy(
        cooling_off_days=int(data["cooling_off_days"]),
        proration=data["proration"],
        non_refundable=_money_from(data.get("non_refundable")),
        admin_fee=_money_from(data.get("admin_fee")),
    )


def _plan_from(data: Any) -> PaymentPlan:
    return plan_from_data(dict(data))


def _same_currency(*amounts: Money) -> str:
    currency = amounts[0].currency
    for other in amounts[1:]:
        if other.currency != currency:
            raise CurrencyMismatchError(currency, other.currency)
    return currency


# --- products and rules -----------------------------------------------------------


def product_to_row(p: Product) -> dict[str, Any]:
    """Column values of a product."""
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
        "refund_policy": _policy_data(p.refund_policy),
        "service_period": _interval_data(p.service_period),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def product_from_row(r: Row) -> Product:
    """The product a row holds."""
    return Product(
        id=r["id"],
        product_type=r["product_type"],
        product_id=r["product_id"],
        name=r["name"],
        price=Money(r["price_minor"], r["currency"]),
        active=bool(r["active"]),
        auto_assign_payment_plan=bool(r["auto_assign_payment_plan"]),
        payment_plan=None if r["payment_plan"] is None else _plan_from(r["payment_plan"]),
        offered_plans=tuple(_plan_from(d) for d in r["offered_plans"]),
        refund_policy=_policy_from(r["refund_policy"]),
        service_period=_interval_from(r["service_period"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
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
        "min_price": _money_data(rule.min_price),
        "max_price": _money_data(rule.max_price),
        "currency": rule.currency,
        "product_ids": _names(rule.product_ids),
        "active": rule.active,
    }


def rule_from_row(r: Row) -> PlanRule:
    """The plan rule a row holds."""
    types, ids = r["product_types"], r["product_ids"]
    return PlanRule(
        plan=_plan_from(r["plan"]),
        name=r["name"],
        priority=r["priority"],
        product_types=None if types is None else frozenset(types),
        min_price=_money_from(r["min_price"]),
        max_price=_money_from(r["max_price"]),
        currency=r["currency"],
        product_ids=None if ids is None else frozenset(ids),
        active=bool(r["active"]),
    )


# --- customers and enrollments ------------------------------------------------------


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


def enrollment_to_row(e: Enrollment) -> dict[str, Any]:
    """Column values of an enrollment."""
    return {
        "id": e.id,
        "user_id": e.user_id,
        "product_id": e.product_id,
        "status": e.status.value,
        "plan": plan_to_data(e.plan),
        "price_minor": e.price.minor,
        "currency": e.price.currency,
        "start_date": e.start_date,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "paused_on": e.paused_on,
        "cancelled_at": e.cancelled_at,
        "cancel_reason": e.cancel_reason,
        "gateway_subscription_id": e.gateway_subscription_id,
        "meta": dict(e.metadata),
    }


def enrollment_from_row(r: Row) -> Enrollment:
    """The enrollment a row holds."""
    return Enrollment(
        id=r["id"],
        user_id=r["user_id"],
        product_id=r["product_id"],
        status=r["status"],
        plan=_plan_from(r["plan"]),
        price=Money(r["price_minor"], r["currency"]),
        start_date=r["start_date"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        paused_on=r["paused_on"],
        cancelled_at=r["cancelled_at"],
        cancel_reason=r["cancel_reason"],
        gateway_subscription_id=r["gateway_subscription_id"],
        metadata=r["meta"],
    )


# --- schedule items and attempts --------------------------------------------------------


def item_to_row(i: ScheduleItem) -> dict[str, Any]:
    """Column values of a schedule item (amount and amount paid share one currency)."""
    return {
        "id": i.id,
        "enrollment_id": i.enrollment_id,
        "seq": i.seq,
        "kind": i.kind,
        "due": i.due,
        "amount_minor": i.amount.minor,
        "amount_paid_minor": i.amount_paid.minor,
        "currency": _same_currency(i.amount, i.amount_paid),
        "status": i.status.value,
        "failures": i.failures,
        "next_attempt_at": i.next_attempt_at,
        "lease_until": i.lease_until,
        "last_decline_code": i.last_decline_code,
        "paid_at": i.paid_at,
        "updated_at": i.updated_at,
    }


def item_from_row(r: Row) -> ScheduleItem:
    """The schedule item a row holds."""
    return ScheduleItem(
        id=r["id"],
        enrollment_id=r["enrollment_id"],
        seq=r["seq"],
        kind=r["kind"],
        due=r["due"],
        amount=Money(r["amount_minor"], r["currency"]),
        status=r["status"],
        amount_paid=Money(r["amount_paid_minor"], r["currency"]),
        failures=r["failures"],
        next_attempt_at=r["next_attempt_at"],
        lease_until=r["lease_until"],
        last_decline_code=r["last_decline_code"],
        paid_at=r["paid_at"],
        updated_at=r["updated_at"],
    )


def attempt_to_row(a: PaymentAttempt) -> dict[str, Any]:
    """Column values of a payment attempt."""
    return {
        "id": a.id,
        "item_id": a.item_id,
        "enrollment_id": a.enrollment_id,
        "number": a.number,
        "idempotency_key": a.idempotency_key,
        "status": a.status.value,
        "amount_minor": a.amount.minor,
        "currency": a.amount.currency,
        "mode": a.mode,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "gateway_payment_id": a.gateway_payment_id,
        "payment_method_id": a.payment_method_id,
        "decline_code": a.decline_code,
        "decline_class": None if a.decline_class is None else a.decline_class.value,
        "message": a.message,
    }


def attempt_from_row(r: Row) -> PaymentAttempt:
    """The payment attempt a row holds."""
    decline_class = r["decline_class"]
    return PaymentAttempt(
        id=r["id"],
        item_id=r["item_id"],
        enrollment_id=r["enrollment_id"],
        number=r["number"],
        idempotency_key=r["idempotency_key"],
        status=r["status"],
        amount=Money(r["amount_minor"], r["currency"]),
        mode=r["mode"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        gateway_payment_id=r["gateway_payment_id"],
        payment_method_id=r["payment_method_id"],
        decline_code=r["decline_code"],
        decline_class=None if decline_class is None else DeclineClass(decline_class),
        message=r["message"],
    )


# --- money in and out -------------------------------------------------------------------


def payment_to_row(p: Payment) -> dict[str, Any]:
    """Column values of a payment."""
    return {
        "id": p.id,
        "enrollment_id": p.enrollment_id,
        "item_id": p.item_id,
        "amount_minor": p.amount.minor,
        "currency": p.amount.currency,
        "method": p.method,
        "received_at": p.received_at,
        "gateway_payment_id": p.gateway_payment_id,
        "attempt_id": p.attempt_id,
        "reference": p.reference,
        "notes": p.notes,
        "actor": p.actor,
    }


def payment_from_row(r: Row) -> Payment:
    """The payment a row holds."""
    return Payment(
        id=r["id"],
        enrollment_id=r["enrollment_id"],
        item_id=r["item_id"],
        amount=Money(r["amount_minor"], r["currency"]),
        method=r["method"],
        received_at=r["received_at"],
        gateway_payment_id=r["gateway_payment_id"],
        attempt_id=r["attempt_id"],
        reference=r["reference"],
        notes=r["notes"],
        actor=r["actor"],
    )


def refund_to_row(f: Refund) -> dict[str, Any]:
    """Column values of a refund."""
    return {
        "id": f.id,
        "payment_id": f.payment_id,
        "enrollment_id": f.enrollment_id,
        "amount_minor": f.amount.minor,
        "currency": f.amount.currency,
        "method": f.method,
        "created_at": f.created_at,
        "status": f.status,
        "idempotency_key": f.idempotency_key,
        "gateway_refund_id": f.gateway_refund_id,
        "reason": f.reason,
        "actor": f.actor,
    }


def refund_from_row(r: Row) -> Refund:
    """The refund a row holds."""
    return Refund(
        id=r["id"],
        payment_id=r["payment_id"],
        enrollment_id=r["enrollment_id"],
        amount=Money(r["amount_minor"], r["currency"]),
        method=r["method"],
        created_at=r["created_at"],
        status=r["status"],
        idempotency_key=r["idempotency_key"],
        gateway_refund_id=r["gateway_refund_id"],
        reason=r["reason"],
        actor=r["actor"],
    )


# --- webhooks and audit ------------------------------------------------------------------


def receipt_to_row(w: WebhookReceipt) -> dict[str, Any]:
    """Column values of a webhook receipt."""
    return {
        "event_id": w.event_id,
        "event_type": w.event_type,
        "received_at": w.received_at,
        "outcome": w.outcome,
    }


def receipt_from_row(r: Row) -> WebhookReceipt:
    """The webhook receipt a row holds."""
    return WebhookReceipt(r["event_id"], r["event_type"], r["received_at"], r["outcome"])


def audit_to_row(e: AuditEntry) -> dict[str, Any]:
    """Column values of an audit entry (its data is already plain JSON)."""
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "data": dict(e.data),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def audit_from_row(r: Row) -> AuditEntry:
    """The audit entry a row holds."""
    return AuditEntry(
        seq=r["seq"],
        at=r["at"],
        actor=r["actor"],
        action=r["action"],
        entity_type=r["entity_type"],
        entity_id=r["entity_id"],
        data=r["data"],
        prev_hash=r["prev_hash"],
        hash=r["hash"],
    )
