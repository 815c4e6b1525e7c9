"""Rows of enrollments and their schedule items."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from enrollpay.domain.money import Money
from enrollpay.domain.plans import plan_to_data
from enrollpay.domain.records import (
    Enrollment,
    ScheduleItem,
)
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.storage.sql.mapping.values import (
    Row,
    plan_from,
    same_currency,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["enrollment_from_row", "enrollment_to_row", "item_from_row", "item_to_row"]


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
        "access_granted_at": e.access_granted_at,
        "paused_days": e.paused_days,
        "awaiting_payment_method": e.awaiting_payment_method,
        "dispute_hold": e.dispute_hold,
        "list_price_minor": None if e.list_price is None else e.list_price.minor,
        "coupon_code": e.coupon_code,
        "scholarship_id": e.scholarship_id,
        **_subscription_to_row(e.subscription),
    }


def _subscription_to_row(state: SubscriptionState | None) -> dict[str, Any]:
    if state is None:
        return dict.fromkeys(_SUBSCRIPTION_COLUMNS)
    return {
        "subscription_status": state.status,
        "subscription_as_of": state.as_of,
        "subscription_period_start": state.current_period_start,
        "subscription_period_end": state.current_period_end,
        "subscription_cancel_at_period_end": state.cancel_at_period_end,
        "subscription_trial_end": state.trial_end,
    }


_SUBSCRIPTION_COLUMNS = tuple(_subscription_to_row(SubscriptionState("", as_of=_EPOCH)))


def _subscription_from_row(r: Row) -> SubscriptionState | None:
    if r["subscription_status"] is None:
        return None
    return SubscriptionState(
        status=r["subscription_status"],
        as_of=r["subscription_as_of"],
        current_period_start=r["subscription_period_start"],
        current_period_end=r["subscription_period_end"],
        cancel_at_period_end=bool(r["subscription_cancel_at_period_end"]),
        trial_end=r["subscription_trial_end"],
    )


def enrollment_from_row(r: Row) -> Enrollment:
    """The enrollment a row holds."""
    return Enrollment(
        id=r["id"],
        user_id=r["user_id"],
        product_id=r["product_id"],
        status=r["status"],
        plan=plan_from(r["plan"]),
        price=Money(r["price_minor"], r["currency"]),
        start_date=r["start_date"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        paused_on=r["paused_on"],
        cancelled_at=r["cancelled_at"],
        cancel_reason=r["cancel_reason"],
        gateway_subscription_id=r["gateway_subscription_id"],
        metadata=r["meta"],
        access_granted_at=r["access_granted_at"],
        paused_days=r["paused_days"],
        awaiting_payment_method=bool(r["awaiting_payment_method"]),
        dispute_hold=bool(r["dispute_hold"]),
        list_price=None
        if r["list_price_minor"] is None
        else Money(r["list_price_minor"], r["currency"]),
        coupon_code=r["coupon_code"],
        scholarship_id=r["scholarship_id"],
        subscription=_subscription_from_row(r),
    )


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
        "currency": same_currency(i.amount, i.amount_paid),
        "status": i.status.value,
        "failures": i.failures,
        "next_attempt_at": i.next_attempt_at,
        "lease_until": i.lease_until,
        "last_decline_code": i.last_decline_code,
        "paid_at": i.paid_at,
        "updated_at": i.updated_at,
        "overdue_at": i.overdue_at,
        "reminded_at": i.reminded_at,
        "gateway_invoice_id": i.gateway_invoice_id,
        "hosted_invoice_url": i.hosted_invoice_url,
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
        overdue_at=r["overdue_at"],
        reminded_at=r["reminded_at"],
        gateway_invoice_id=r["gateway_invoice_id"],
        hosted_invoice_url=r["hosted_invoice_url"],
    )
