"""Admin actions on one schedule item: record a manual payment, reschedule, waive.

Each is a form (``GET /admin/items/{id}/{action}``) posted back with a
confirm checkbox; once it validates, the action is made with the signed-in
admin as the actor (``admin:<name>`` in the audit log) and the admin goes
back to the enrollment's page.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import PaymentSystem
from enrollpay.domain.records import ManualMethod, ScheduleItem
from enrollpay.errors import (
    EnrollpayError,
    InvalidInputError,
    NotFoundError,
    OverpaymentError,
    ScheduleItemNotFoundError,
)

from .admin_forms import (
    Admin,
    Field,
    Form,
    System,
    action_page,
    date_param,
    parse_amount,
    show_library_error,
)
from .web import flash, redirect

__all__ = ["ITEM_ACTIONS", "MANUAL_METHODS", "router"]

MANUAL_METHODS = {
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "check": "Check",
    "other": "Other",
}
ITEM_ACTIONS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "record-payment": (
        "Record a manual payment",
        (
            Field("method", "Method", "select", tuple(MANUAL_METHODS.items())),
            Field("reference", "Transaction reference", hint="e.g. TXN-12345"),
            Field("amount", "Amount", hint="blank: everything outstanding"),
            Field("notes", "Notes", "textarea"),
        ),
    ),
    "reschedule": ("Reschedule", (Field("due_date", "New due date", "date"),)),
    "waive": ("Waive (forgive) this payment", (Field("reason", "Reason"),)),
}

router = APIRouter(prefix="/admin")


def _item(system: PaymentSystem, item_id: str) -> ScheduleItem:
    # The facade has no get_schedule_item(); read it through the store port (as routes.py does).
    with system.store.transaction() as tx:
        item = tx.get_item(item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item


def _item_subject(system: PaymentSystem, item: ScheduleItem) -> str:
    enrollment = system.get_enrollment(item.enrollment_id)
    return (
        f"Payment {item.seq} of {enrollment.user_id}'s enrollment, due {item.due.isoformat()}, "
        f"status {item.status}, outstanding {item.outstanding.format('en_US')}"
    )


@router.get("/items/{item_id}/{action}", response_class=HTMLResponse)
def item_action_form(
    request: Request, system: System, _admin: Admin, item_id: str, action: str
) -> Response:
    """The form of an item action (record payment, reschedule, waive)."""
    if action not in ITEM_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    item = _item(system, item_id)
    title, fields = ITEM_ACTIONS[action]
    return action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/items/{item_id}/{action}",
        back=f"/admin/enrollments/{item.enrollment_id}",
        subject=_item_subject(system, item),
        values={"method": "bank_transfer"},
        errors={},
    )


def _record_payment(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    method = form.get("method", "")
    if method not in MANUAL_METHODS:
        errors["method"] = "Choose a method."
    if method in ("bank_transfer", "check") and not form.get("reference"):
        errors["reference"] = "A bank transfer or check needs its reference."
    amount = parse_amount(form.get("amount", ""), item.amount.currency, "amount", errors)
    if errors:
        return errors, ""
    try:
        payment = system.record_manual_payment(
            item.id,
            method=cast("ManualMethod", method),
            reference=form.get("reference") or None,
            notes=form.get("notes") or None,
            actor=actor,
            amount=amount,
        )
    except EnrollpayError as exc:
        show_library_error(exc, errors, {OverpaymentError: "amount"})
        return errors, ""
    return errors, f"Recorded {payment.amount.format('en_US')} ({MANUAL_METHODS[method]})."


def _reschedule(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    new_due = date_param(form.get("due_date"), "due_date", errors)
    if new_due is None:
        errors.setdefault("due_date", "Choose the new due date.")
        return errors, ""
    try:
        moved = system.reschedule(item.id, new_due, actor=actor)
    except EnrollpayError as exc:
        show_library_error(exc, errors, {InvalidInputError: "due_date"})
        return errors, ""
    return errors, f"Payment {moved.seq} now due {moved.due.isoformat()}."


def _waive(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    try:
        system.waive_item(item.id, actor=actor, reason=form.get("reason") or None)
    except EnrollpayError as exc:
        show_library_error(exc, errors, {InvalidInputError: "reason"})
        return errors, ""
    return errors, f"Payment {item.seq} waived."


_ITEM_RUNNERS = {"record-payment": _record_payment, "reschedule": _reschedule, "waive": _waive}


def _run_item_action(
    system: PaymentSystem, actor: str, item: ScheduleItem, action: str, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Validate and perform once confirmed; returns (errors by field, success message)."""
    if form.get("confirm") != "yes":
        return {"confirm": "Tick the box to confirm."}, ""
    return _ITEM_RUNNERS[action](system, actor, item, form)


@router.post("/items/{item_id}/{action}", response_class=HTMLResponse)
def item_action(
    request: Request, *, system: System, admin: Admin, form: Form, item_id: str, action: str
) -> Response:
    """Perform an item action once it validates and is confirmed."""
    if action not in ITEM_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    item = _item(system, item_id)
    errors, message = _run_item_action(system, admin, item, action, form)
    back = f"/admin/enrollments/{item.enrollment_id}"
    if not errors:
        flash(request, message)
        return redirect(back)
    title, fields = ITEM_ACTIONS[action]
    return action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/items/{item_id}/{action}",
        back=back,
        subject=_item_subject(system, item),
        values=form,
        errors=errors,
        status=422,
    )
