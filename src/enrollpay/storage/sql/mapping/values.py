"""Values inside rows: money as minor units and a currency; plans, policies, intervals as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, plan_from_data
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.errors import CurrencyMismatchError

__all__ = [
    "Row",
    "interval_data",
    "interval_from",
    "money_data",
    "money_from",
    "plan_from",
    "policy_data",
    "policy_from",
    "same_currency",
]


Row = Mapping[Any, Any]


def money_data(value: Money | None) -> dict[str, Any] | None:
    """Money as JSON (None stays None)."""
    return None if value is None else {"minor": value.minor, "currency": value.currency}


def money_from(data: Any) -> Money | None:
    """Money from its JSON (None stays None)."""
    return None if data is None else Money(int(data["minor"]), str(data["currency"]))


def interval_data(value: Interval) -> dict[str, Any]:
    """An interval as JSON."""
    return {"unit": value.unit, "count": value.count}


def interval_from(data: Any) -> Interval:
    """An interval from its JSON."""
    return Interval(data["unit"], int(data["count"]))


def policy_data(policy: RefundPolicy | None) -> dict[str, Any] | None:
    """A refund policy as JSON (None stays None)."""
    if policy is None:
        return None
    return {
        "cooling_off_days": policy.cooling_off_days,
        "proration": policy.proration,
        "non_refundable": money_data(policy.non_refundable),
        "admin_fee": money_data(policy.admin_fee),
    }


def policy_from(data: Any) -> RefundPolicy | None:
    """A refund policy from its JSON (None stays None)."""
    if data is None:
        return None
    return RefundPolicy(
        cooling_off_days=int(data["cooling_off_days"]),
        proration=data["proration"],
        non_refundable=money_from(data.get("non_refundable")),
        admin_fee=money_from(data.get("admin_fee")),
    )


def plan_from(data: Any) -> PaymentPlan:
    """A payment plan from its JSON."""
    return plan_from_data(dict(data))


def same_currency(*amounts: Money) -> str:
    """The one currency of ``amounts`` (``CurrencyMismatchError`` if they differ)."""
    currency = amounts[0].currency
    for other in amounts[1:]:
        if other.currency != currency:
            raise CurrencyMismatchError(currency, other.currency)
    return currency
