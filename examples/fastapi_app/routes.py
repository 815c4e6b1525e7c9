"""The seed's REST API: products, enrollments, admin operations, stats and reports.

Every route is a plain ``def``: the library's calls block on the database,
so FastAPI runs them in its thread pool. Bodies are read by
:func:`~.payloads.json_body` (no floats); errors become JSON answers in
:mod:`.errors`.

Admin routes take the acting admin from the ``X-Actor`` header. That keeps
the example short; a real application authenticates the admin (session,
token) and passes *that* identity as ``actor`` -- never trust a header the
client sets. The library's ``authorize`` hook then decides what the actor
may do (refusals are 403).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from enrollpay import Money, PaymentSystem
from enrollpay.domain.plans import parse_plan
from enrollpay.domain.records import ManualMethod
from enrollpay.errors import ScheduleItemNotFoundError
from enrollpay.integrations.api import plans_answer
from enrollpay.integrations.fastapi import get_system
from enrollpay.reports import Period

from . import render
from .payloads import (
    ApiError,
    amount_field,
    bool_field,
    check_fields,
    date_field,
    int_param,
    json_body,
    optional_text,
    parse_date,
    text_field,
)

__all__ = ["router"]

System = Annotated[PaymentSystem, Depends(get_system)]
Body = Annotated[dict[str, Any], Depends(json_body)]
REPORTS = ("revenue", "status", "products", "aging", "forecast", "recovery")


def admin_actor(x_actor: Annotated[str | None, Header()] = None) -> str:
    """The acting admin (see the module docstring: authenticate it in a real app)."""
    if x_actor is None or not x_actor.strip():
        raise ApiError(401, "unauthenticated", "admin routes need an X-Actor header")
    return x_actor.strip()


Actor = Annotated[str, Depends(admin_actor)]

router = APIRouter(prefix="/api")


def _ok(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)


# -- products -------------------------------------------------------------------


@router.post("/admin/payments/products")
def register_product(system: System, body: Body, actor: Actor) -> JSONResponse:
    """Register (or update: idempotent by type and id) a product with its price."""
    check_fields(
        body,
        (
            "product_type",
            "product_id",
            "product_name",
            "price",
            "currency",
            "auto_assign_payment_plan",
            "payment_plan",
            "offered_plans",
            "active",
        ),
    )
    currency = optional_text(body, "currency") or "USD"
    price = amount_field(body, "price")
    if price is None:
        raise ApiError(422, "invalid_input", "price is required")
    amount = Money.of(price, currency)
    spec = optional_text(body, "payment_plan")
    offered = body.get("offered_plans") or []
    if not isinstance(offered, list) or not all(isinstance(s, str) for s in offered):
        raise ApiError(422, "invalid_input", "offered_plans must be a list of plan specs")
    product = system.register_product(
        product_type=text_field(body, "product_type"),
        product_id=text_field(body, "product_id"),
        name=text_field(body, "product_name"),
        price=amount,
        auto_assign_payment_plan=bool_field(body, "auto_assign_payment_plan", default=False),
        payment_plan=None if spec is None else parse_plan(spec, amount.currency),
        offered_plans=[parse_plan(s, amount.currency) for s in offered],
        active=bool_field(body, "active", default=True),
        actor=actor,
    )
    return _ok(render.product(product))


@router.get("/plans")
def plans(system: System, request: Request) -> JSONResponse:
    """``?product=ID``: the plans it may be bought on, the default first, with schedules."""
    answer = plans_answer(system, dict(request.query_params.items()))
    return _ok(dict(answer.body), answer.status)


# -- enrollments (student side) ------------------------------------------------------


@router.post("/enrollments")
def create_enrollment(system: System, body: Body) -> JSONResponse:
    """Enroll: plan detected, schedule generated, first payment opened."""
    check_fields(body, ("product_id", "user_id", "payment_plan", "start_date"))
    product_id = text_field(body, "product_id")
    spec = optional_text(body, "payment_plan")
    plan = None
    if spec is not None:
        plan = parse_plan(spec, system.get_product(product_id).price.currency)
    result = system.enroll(
        user_id=text_field(body, "user_id"),
        product_id=product_id,
        plan=plan,
        start=date_field(body, "start_date") if "start_date" in body else None,
    )
    return _ok(
        {
            "enrollment_id": result.enrollment_id,
            "status": str(result.enrollment.status),
            "payment_plan": render.plan(result.payment_plan),
            "schedules": [render.item(i) for i in result.schedule],
            "stripe_client_secret": result.client_secret,
            "requires_immediate_payment": result.requires_immediate_payment,
            "payment_schedule_id": result.payment_item_id,
            "payment_error": result.payment_error,
            # A trial waiting for the student's card: confirm with Stripe.js confirmSetup.
            "setup_client_secret": result.setup_client_secret,
        },
        201,
    )


@router.get("/enrollments")
def list_enrollments(
    system: System, user_id: str | None = None, status: str | None = None
) -> JSONResponse:
    """A user's enrollments, optionally with one status."""
    if not user_id:
        raise ApiError(422, "invalid_input", "user_id is required")
    found = system.list_enrollments(user_id=user_id, status=status)
    return _ok(
        {"enrollments": [render.enrollment(e, has_access=system.has_access(e)) for e in found]}
    )


@router.get("/enrollments/{enrollment_id}/payment")
def payment_details(system: System, enrollment_id: str) -> JSONResponse:
    """Schedule, payments, refunds and balances of one enrollment."""
    return _ok(render.details(system.payment_details(enrollment_id)))


# -- admin: enrollments and schedules ---------------------------------------------------


@router.post("/admin/enrollments/{enrollment_id}/cancel")
def cancel_enrollment(system: System, body: Body, actor: Actor, enrollment_id: str) -> JSONResponse:
    """Cancel, refunding per policy or exactly ``refund_amount``."""
    check_fields(body, ("reason", "refund_amount"))
    raw = amount_field(body, "refund_amount")
    refund = None
    if raw is not None:
        # The amount is in the enrollment's currency, which the body does not repeat.
        currency = system.get_enrollment(enrollment_id).price.currency
        refund = Money.of(raw, currency)
    result = system.cancel_enrollment(
        enrollment_id,
        reason=text_field(body, "reason"),
        actor=actor,
        refund_amount=refund,
    )
    return _ok(render.cancellation(result))


@router.post("/admin/enrollments/{enrollment_id}/pause")
def pause_enrollment(system: System, body: Body, actor: Actor, enrollment_id: str) -> JSONResponse:
    """Stop collection until resumed."""
    check_fields(body, ("reason",))
    paused = system.pause(enrollment_id, actor=actor, reason=optional_text(body, "reason"))
    return _ok(render.enrollment(paused))


@router.post("/admin/enrollments/{enrollment_id}/resume")
def resume_enrollment(system: System, actor: Actor, enrollment_id: str) -> JSONResponse:
    """Restart collection; paused due dates move by the days paused."""
    return _ok(render.enrollment(system.resume(enrollment_id, actor=actor)))


@router.get("/admin/payments/schedules")
def list_schedules(
    system: System,
    _actor: Actor,
    *,
    status: str | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
    product_id: str | None = None,
    user_id: str | None = None,
    enrollment_id: str | None = None,
) -> JSONResponse:
    """Every payment schedule matching the filters."""
    items = system.list_schedule_items(
        status=status,
        due_from=None if due_from is None else parse_date(due_from, "due_from"),
        due_to=None if due_to is None else parse_date(due_to, "due_to"),
        product_id=product_id,
        user_id=user_id,
        enrollment_id=enrollment_id,
    )
    return _ok({"schedules": [render.item(i) for i in items]})


def _item_currency(system: PaymentSystem, item_id: str) -> str:
    # The facade has no get_schedule_item(); read the item through the store port.
    with system.store.transaction() as tx:
        item = tx.get_item(item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item.amount.currency


@router.post("/admin/payments/schedules/{schedule_id}/record-payment")
def record_payment(system: System, body: Body, actor: Actor, schedule_id: str) -> JSONResponse:
    """Record cash, a check or a bank transfer (default: what is outstanding)."""
    check_fields(body, ("payment_method", "transaction_reference", "notes", "amount"))
    raw = amount_field(body, "amount")
    amount = None if raw is None else Money.of(raw, _item_currency(system, schedule_id))
    payment = system.record_manual_payment(
        schedule_id,
        method=cast("ManualMethod", text_field(body, "payment_method")),
        reference=optional_text(body, "transaction_reference"),
        notes=optional_text(body, "notes"),
        actor=actor,
        amount=amount,
    )
    return _ok(render.payment(payment), 201)


@router.post("/admin/payments/schedules/{schedule_id}/reschedule")
def reschedule(system: System, body: Body, actor: Actor, schedule_id: str) -> JSONResponse:
    """Move an unpaid schedule's due date (not into the past)."""
    check_fields(body, ("due_date",))
    item = system.reschedule(schedule_id, date_field(body, "due_date"), actor=actor)
    return _ok(render.item(item))


# -- admin: figures --------------------------------------------------------------------


@router.get("/admin/payments/stats")
def stats(system: System, _actor: Actor) -> JSONResponse:
    """Dashboard figures per currency and counts per status."""
    return _ok(render.stats(system.stats()))


@router.get("/admin/payments/reports/{name}")
def report(
    system: System,
    _actor: Actor,
    name: str,
    *,
    by: str = "month",
    date_from: str | None = None,
    date_to: str | None = None,
    as_of: str | None = None,
    months: str | None = None,
) -> JSONResponse:
    """One report: revenue, status, products, aging, forecast or recovery."""
    start = None if date_from is None else parse_date(date_from, "date_from")
    if name == "revenue":
        end = None if date_to is None else parse_date(date_to, "date_to")
        # The library refuses a period other than day, week or month (422).
        revenue = system.revenue_report(by=cast("Period", by), date_from=start, date_to=end)
        return _ok({"report": name, "rows": render.report_rows(revenue)})
    if name == "status":
        return _ok({"report": name, **render.status_breakdown(system.status_report())})
    if name == "products":
        return _ok({"report": name, "rows": render.report_rows(system.product_report())})
    if name == "aging":
        day = None if as_of is None else parse_date(as_of, "as_of")
        return _ok({"report": name, "rows": render.report_rows(system.aging_report(as_of=day))})
    if name == "forecast":
        count = int_param(months, "months", default=12)
        forecast = system.forecast_report(date_from=start, months=count)
        return _ok({"report": name, "rows": render.report_rows(forecast)})
    if name == "recovery":
        return _ok({"report": name, "rows": render.report_rows(system.recovery_report())})
    raise ApiError(404, "not_found", f"no report {name!r}; reports: {', '.join(REPORTS)}")
