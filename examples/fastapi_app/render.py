"""The JSON shapes of the API: snake_case fields, money as exact strings plus minor units.

Money is always ``{"amount": "299.99", "currency": "USD", "minor": 29999}``:
the string for people and decimal libraries, the integer for code that
counts in minor units. No float is ever produced. The shapes the library's
own read-only API serves too (money, plans, products, enrollments, items,
payments, refunds, payment details) come from
:mod:`enrollpay.integrations.api`, so both APIs answer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from enrollpay import (
    CancellationResult,
    Money,
    RefundQuote,
    Stats,
)
from enrollpay.integrations.api import (
    enrollment,
    item,
    money,
    payment,
    plan,
    product,
    refund,
)
from enrollpay.integrations.api import payment_details as details
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


def money_map(values: Mapping[str, Money]) -> JSON:
    """Amounts per currency (never summed across currencies)."""
    return {currency: money(value) for currency, value in values.items()}


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
