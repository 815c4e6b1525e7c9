"""The JSON shapes of the API: snake_case fields, money as exact strings plus minor units.

Money is always ``{"amount": "299.99", "currency": "USD", "minor": 29999}``:
the string for people and decimal libraries, the integer for code that
counts in minor units. No float is ever produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from enrollpay import (
    CancellationResult,
    FullPayment,
    Installments,
    Money,
    PaymentDetails,
    PaymentPlan,
    RefundQuote,
    Stats,
)
from enrollpay.domain.plans import describe_plan
from enrollpay.domain.records import (
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
)
from enrollpay.reports import StatusBreakdown

__all__ = [
    "cancellation",
    "details",
    "enrollment",
    "item",
    "money",
    "payment",
    "plan",
    "product",
    "refund",
    "report_rows",
    "stats",
    "status_breakdown",
]

JSON = dict[str, Any]


def money(value: Money) -> JSON:
    """``{"amount": "299.99", "currency": "USD", "minor": 29999}``."""
    return {
        "amount": f"{value.amount:.{value.exponent}f}",
        "currency": value.currency,
        "minor": value.minor,
    }


def money_map(values: Mapping[str, Money]) -> JSON:
    """Amounts per currency (never summed across currencies)."""
    return {currency: money(value) for currency, value in values.items()}


def _when(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def plan(value: PaymentPlan) -> JSON:
    """A plan's kind, a human description and its parameters."""
    data: JSON = {"kind": value.kind, "description": describe_plan(value)}
    if isinstance(value, FullPayment):
        return data
    data["interval"] = str(value.interval)
    if isinstance(value, Installments):
        data["count"] = value.count
        deposit = value.deposit
        data["deposit"] = (
            None
            if deposit is None
            else {
                "percent": None if deposit.percent_value is None else str(deposit.percent_value),
                "fixed": None if deposit.fixed_amount is None else money(deposit.fixed_amount),
            }
        )
        return data
    data["amount"] = None if value.amount is None else money(value.amount)
    data["cycles"] = value.cycles
    data["trial_days"] = value.trial_days
    return data


def product(value: Product) -> JSON:
    """A registered product."""
    return {
        "id": value.id,
        "product_type": value.product_type,
        "product_id": value.product_id,
        "product_name": value.name,
        "price": money(value.price),
        "active": value.active,
        "auto_assign_payment_plan": value.auto_assign_payment_plan,
        "payment_plan": None if value.payment_plan is None else plan(value.payment_plan),
        "offered_plans": [plan(p) for p in value.offered_plans],
    }


def item(value: ScheduleItem) -> JSON:
    """One payment schedule item."""
    return {
        "id": value.id,
        "enrollment_id": value.enrollment_id,
        "seq": value.seq,
        "kind": value.kind,
        "due_date": value.due.isoformat(),
        "amount": money(value.amount),
        "amount_paid": money(value.amount_paid),
        "outstanding": money(value.outstanding),
        "status": str(value.status),
        "failures": value.failures,
        "next_attempt_at": _when(value.next_attempt_at),
        "last_decline_code": value.last_decline_code,
        "paid_at": _when(value.paid_at),
    }


def enrollment(value: Enrollment, *, has_access: bool | None = None) -> JSON:
    """An enrollment (``has_access`` when the caller knows it)."""
    data: JSON = {
        "id": value.id,
        "user_id": value.user_id,
        "product_id": value.product_id,
        "status": str(value.status),
        "payment_plan": plan(value.plan),
        "price": money(value.price),
        "start_date": value.start_date.isoformat(),
        "created_at": _when(value.created_at),
        "paused_on": _when(value.paused_on),
        "cancelled_at": _when(value.cancelled_at),
        "cancel_reason": value.cancel_reason,
    }
    if has_access is not None:
        data["has_access"] = has_access
    return data


def attempt(value: PaymentAttempt) -> JSON:
    """One collection attempt (its idempotency key stays internal)."""
    return {
        "id": value.id,
        "schedule_id": value.item_id,
        "number": value.number,
        "mode": value.mode,
        "status": str(value.status),
        "amount": money(value.amount),
        "decline_code": value.decline_code,
        "created_at": _when(value.created_at),
    }


def payment(value: Payment) -> JSON:
    """Money received, through the gateway or recorded by an admin."""
    return {
        "id": value.id,
        "enrollment_id": value.enrollment_id,
        "schedule_id": value.item_id,
        "amount": money(value.amount),
        "payment_method": value.method,
        "transaction_reference": value.reference,
        "notes": value.notes,
        "received_at": _when(value.received_at),
        "recorded_by": value.actor,
    }


def refund(value: Refund) -> JSON:
    """Money given back against one payment."""
    return {
        "id": value.id,
        "payment_id": value.payment_id,
        "amount": money(value.amount),
        "method": value.method,
        "status": value.status,
        "reason": value.reason,
        "created_at": _when(value.created_at),
    }


def details(value: PaymentDetails) -> JSON:
    """``GET /api/enrollments/{id}/payment``."""
    return {
        "enrollment": enrollment(value.enrollment, has_access=value.has_access),
        "product": product(value.product),
        "schedules": [item(i) for i in value.items],
        "attempts": [attempt(a) for a in value.attempts],
        "payments": [payment(p) for p in value.payments],
        "refunds": [refund(r) for r in value.refunds],
        "paid": money(value.paid),
        "refunded": money(value.refunded),
        "outstanding": money(value.outstanding),
        "overdue": money(value.overdue),
        "next_due": None if value.next_due is None else item(value.next_due),
    }


def quote(value: RefundQuote) -> JSON:
    """A refund quote with the lines that explain it."""
    return {
        "refund": money(value.refund),
        "retained": money(value.retained),
        "earned": money(value.earned),
        "paid": money(value.paid),
        "basis": value.basis,
        "used_days": value.used_days,
        "total_days": value.total_days,
        "lines": [
            {"code": line.code, "label": line.label, "amount": money(line.amount)}
            for line in value.lines
        ],
    }


def cancellation(value: CancellationResult) -> JSON:
    """``POST /api/admin/enrollments/{id}/cancel``."""
    return {
        "enrollment": enrollment(value.enrollment),
        "refund_total": money(value.refund_total),
        "refunds": [refund(r) for r in value.refunds],
        "quote": None if value.quote is None else quote(value.quote),
        "cancelled_schedules": value.cancelled_items,
    }


def stats(value: Stats) -> JSON:
    """``GET /api/admin/payments/stats``."""
    return {
        "today": value.today.isoformat(),
        "collected": money_map(value.collected),
        "refunded": money_map(value.refunded),
        "net": money_map(value.net),
        "outstanding": money_map(value.outstanding),
        "overdue": money_map(value.overdue),
        "enrollments_by_status": {str(k): n for k, n in value.enrollments_by_status.items()},
        "schedules_by_status": dict(value.items_by_status),
    }


def _value(value: Any) -> Any:
    """A report cell as JSON: Money as money, Decimal as a string, mappings recursively."""
    if isinstance(value, Money):
        return money(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


def report_rows(rows: Iterable[Any]) -> list[JSON]:
    """Report rows (frozen attrs classes) as JSON objects, field by field."""
    return [{k: _value(v) for k, v in attrs.asdict(row, recurse=False).items()} for row in rows]


def status_breakdown(value: StatusBreakdown) -> JSON:
    """The status report: enrollments per status, schedules per status and currency."""
    return {
        "enrollments": {str(k): n for k, n in value.enrollments.items()},
        "schedules": report_rows(value.items),
    }
