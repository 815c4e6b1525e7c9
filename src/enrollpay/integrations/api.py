"""The JSON of the read-only API the framework integrations serve, and its two answers.

Framework-free, like :mod:`enrollpay.integrations`: the FastAPI, Flask and
Django adapters route ``GET {prefix}/plans?product=...`` to
:func:`plans_answer` and ``GET {prefix}/enrollments/{id}/payment`` to
:func:`payment_details_answer` (through the one route table of
:mod:`.routes`, with the other routes of the API), so the three serve the same JSON.

Money is always ``{"amount": "299.99", "currency": "USD", "minor": 29999}``:
the string for people and decimal libraries, the integer for code that
counts in minor units; no float is ever produced. Dates are ISO 8601.

``GET /plans?product=ID`` lists the plans a checkout page may offer for the
product (:meth:`~enrollpay.PaymentSystem.eligible_plans`, the default
first), each with the schedule it would give from ``start`` (an ISO date,
default today). ``product`` is the product's enrollpay id, or the host
app's own id when ``product_type`` is given too; ``coupon`` (a code) prices
each plan with that coupon (404 for an unknown code); ``currency`` (an ISO
code) prices it at the product's explicit price in that currency (see
:mod:`enrollpay.domain.price_lists`; default: the product's price). A
product's JSON lists its ``prices`` in other currencies. Answers: 200; 422
when ``product`` is missing, a parameter is malformed or the product has no
price in ``currency``; 404 for an unknown product.

``GET /enrollments/{id}/payment`` is :func:`payment_details` of
:meth:`~enrollpay.PaymentSystem.payment_details`: the schedule, attempts,
payments, refunds, disputes and balances, with ``has_access`` and ``paid_through``
(:func:`~enrollpay.domain.schedule.paid_through`) at the top level.
Answers: 200, or 404 for an unknown enrollment. Neither route checks who
asks: put them behind the application's own authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment, Installments, PaymentPlan, describe_plan
from enrollpay.domain.price_lists import price_in
from enrollpay.domain.records import (
    Dispute,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
)
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import InvalidInputError, NotFoundError
from enrollpay.errors_discounts import DiscountError
from enrollpay.service.results import PaymentDetails
from enrollpay.service.system import PaymentSystem

__all__ = [
    "ApiAnswer",
    "attempt",
    "dispute",
    "enrollment",
    "item",
    "money",
    "payment",
    "payment_details",
    "payment_details_answer",
    "plan",
    "plan_options",
    "plans_answer",
    "product",
    "refund",
    "schedule_line",
]

JSON = dict[str, Any]


@attrs.frozen
class ApiAnswer:
    """What an API route answers: an HTTP status and a JSON body."""

    status: int
    body: Mapping[str, Any] = attrs.field(hash=False)


def _when(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def money(value: Money) -> JSON:
    """``{"amount": "299.99", "currency": "USD", "minor": 29999}``."""
    return {
        "amount": f"{value.amount:.{value.exponent}f}",
        "currency": value.currency,
        "minor": value.minor,
    }


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
        "prices": [money(p) for p in value.prices],
        "active": value.active,
        "auto_assign_payment_plan": value.auto_assign_payment_plan,
        "payment_plan": None if value.payment_plan is None else plan(value.payment_plan),
        "offered_plans": [plan(p) for p in value.offered_plans],
    }


def schedule_line(value: ScheduleLine) -> JSON:
    """One planned payment of a schedule preview."""
    return {
        "seq": value.seq,
        "kind": value.kind,
        "due_date": value.due.isoformat(),
        "amount": money(value.amount),
    }


def item(value: ScheduleItem) -> JSON:
    """One payment schedule item (with ``tax``, net, rate and tax, when it was taxed)."""
    shown: JSON = {
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
        # The payer who owes it (None: the student).
        "payer_id": value.payer_id,
        "schedule_version": value.schedule_version,
    }
    if value.tax is not None:
        shown["tax"] = {
            "net": money(value.tax.net),
            "tax": money(value.tax.tax),
            "gross": money(value.tax.gross),
            "rate": value.tax.rate,
            "rate_ppm": value.tax.ppm,
            "jurisdiction": value.tax.jurisdiction,
            "mode": value.tax.mode,
        }
    return shown


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
        # A trial waiting for its card: show the card form (``start_setup`` gives its secret).
        "awaiting_payment_method": value.awaiting_payment_method,
        # What a coupon or scholarship took off (None: no discount); price is what is paid.
        "discount": None
        if value.list_price is None
        else {
            "list_price": money(value.list_price),
            "amount": money(value.discount),
            "coupon_code": value.coupon_code,
            "scholarship_id": value.scholarship_id,
        },
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


def dispute(value: Dispute) -> JSON:
    """A cardholder's dispute of one payment, its stage and evidence due date."""
    return {
        "id": value.id,
        "payment_id": value.payment_id,
        "amount": money(value.amount),
        "status": str(value.status),
        "gateway_status": value.gateway_status,
        "reason": value.reason,
        "evidence_due_by": _when(value.evidence_due_by),
        "opened_at": _when(value.opened_at),
        "closed_at": _when(value.closed_at),
    }


def payment_details(value: PaymentDetails) -> JSON:
    """An enrollment's money: schedule, attempts, payments, refunds, balances and access."""
    return {
        "enrollment": enrollment(value.enrollment, has_access=value.has_access),
        "has_access": value.has_access,
        "paid_through": _when(value.paid_through),
        "product": product(value.product),
        "schedules": [item(i) for i in value.items],
        "attempts": [attempt(a) for a in value.attempts],
        "payments": [payment(p) for p in value.payments],
        "refunds": [refund(r) for r in value.refunds],
        "disputes": [dispute(d) for d in value.disputes],
        "paid": money(value.paid),
        "refunded": money(value.refunded),
        "disputed": money(value.disputed),
        "outstanding": money(value.outstanding),
        "overdue": money(value.overdue),
        "next_due": None if value.next_due is None else item(value.next_due),
    }


def plan_options(
    system: PaymentSystem,
    chosen: Product,
    *,
    start: date | None = None,
    coupon: str | None = None,
    currency: str | None = None,
) -> JSON:
    """The plans a checkout may offer for ``chosen``, the default first, each with its schedule.

    With ``coupon`` each plan's schedule is for the discounted price, and
    ``discount`` says what came off, or why the coupon does not apply to
    that plan (then the schedule is the undiscounted one). ``currency``
    prices everything at the product's explicit price in it (None: the
    default price); ``price`` in the answer is that price.
    """
    first = start or system.today()
    price = price_in(chosen, currency)
    options = []
    for index, offered in enumerate(system.eligible_plans(chosen.id, currency=currency)):
        lines = system.preview_schedule(chosen.id, offered, start=first, currency=currency)
        option: JSON = {"default": index == 0, "plan": plan(offered)}
        if coupon is not None:
            try:
                preview = system.preview_discount(
                    chosen.id, coupon=coupon, plan=offered, start=first, currency=currency
                )
            except DiscountError as exc:
                option["discount"] = {"applies": False, "message": str(exc)}
            else:
                lines = preview.schedule
                option["discount"] = {
                    "applies": True,
                    "coupon_code": preview.applied.coupon_code,
                    "list_price": money(preview.applied.list_price),
                    "amount": money(preview.applied.discount),
                }
        option["schedule"] = [schedule_line(line) for line in lines]
        option["total"] = money(sum((line.amount for line in lines), Money.zero(price.currency)))
        options.append(option)
    return {
        "product": product(chosen),
        "currency": price.currency,
        "price": money(price),
        "start_date": first.isoformat(),
        "plans": options,
    }


def _error(status: int, code: str, message: str) -> ApiAnswer:
    return ApiAnswer(status, {"error": code, "message": message})


_MISSING_PRODUCT: Final = _error(422, "invalid_input", "the product query parameter is required")


def plans_answer(system: PaymentSystem, query: Mapping[str, str]) -> ApiAnswer:
    """Answer ``GET /plans`` (query: product, product_type, start, coupon, currency)."""
    wanted = (query.get("product") or "").strip()
    if not wanted:
        return _MISSING_PRODUCT
    kind = (query.get("product_type") or "").strip()
    try:
        start = date.fromisoformat(query["start"]) if query.get("start") else None
    except ValueError:
        return _error(422, "invalid_input", "start must be an ISO date (YYYY-MM-DD)")
    try:
        chosen = system.find_product(kind, wanted) if kind else system.get_product(wanted)
        coupon = (query.get("coupon") or "").strip() or None
        currency = (query.get("currency") or "").strip() or None
        return ApiAnswer(
            200, plan_options(system, chosen, start=start, coupon=coupon, currency=currency)
        )
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    except InvalidInputError as exc:
        return _error(422, "invalid_input", str(exc))


def payment_details_answer(system: PaymentSystem, enrollment_id: str) -> ApiAnswer:
    """Answer ``GET /enrollments/{id}/payment``."""
    try:
        return ApiAnswer(200, payment_details(system.payment_details(enrollment_id)))
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
