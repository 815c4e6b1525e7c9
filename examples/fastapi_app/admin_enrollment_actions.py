"""Admin actions on one enrollment: pause, resume, cancel with a refund.

Each is a form (``GET /admin/enrollments/{id}/{action}``) posted back with a
confirm checkbox; the cancel form shows the refund quote line by line. Once
it validates, the action is made with the signed-in admin as the actor and
the admin goes back to the enrollment's page. The plan change, which shows
a preview before its confirm step, is in :mod:`.admin_plan_change_pages`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import PaymentSystem
from enrollpay.errors import EnrollpayError, NotFoundError, RefundExceedsPaidError

from .admin_forms import Admin, Field, Form, System, action_page, parse_amount, show_library_error
from .web import flash, redirect

__all__ = ["ENROLLMENT_ACTIONS", "enrollment_subject", "router"]

ENROLLMENT_ACTIONS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "pause": ("Pause collection", (Field("reason", "Reason"),)),
    "resume": ("Resume collection", ()),
    "cancel": (
        "Cancel the enrollment",
        (
            Field("reason", "Reason"),
            Field("refund_amount", "Refund amount", hint="blank: the quoted refund"),
        ),
    ),
}

router = APIRouter(prefix="/admin")


def enrollment_subject(system: PaymentSystem, enrollment_id: str) -> str:
    """One line naming the enrollment: its student, product and status."""
    enrollment = system.get_enrollment(enrollment_id)
    product = system.get_product(enrollment.product_id)
    return f"{enrollment.user_id} in {product.name} ({enrollment.status})"


@router.get("/enrollments/{enrollment_id}/{action}", response_class=HTMLResponse)
def enrollment_action_form(
    request: Request, system: System, _admin: Admin, enrollment_id: str, action: str
) -> Response:
    """The form of an enrollment action; the cancel form shows the refund quote."""
    if action not in ENROLLMENT_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    title, fields = ENROLLMENT_ACTIONS[action]
    return action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/enrollments/{enrollment_id}/{action}",
        back=f"/admin/enrollments/{enrollment_id}",
        subject=enrollment_subject(system, enrollment_id),
        values={},
        errors={},
        quote=system.quote_cancellation(enrollment_id) if action == "cancel" else None,
    )


def _run_enrollment_action(
    system: PaymentSystem, actor: str, enrollment_id: str, action: str, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    confirmed = form.get("confirm") == "yes"
    if not confirmed:
        errors["confirm"] = "Tick the box to confirm."
    reason = form.get("reason") or None
    if action == "cancel":
        if reason is None:
            errors["reason"] = "Say why the enrollment is cancelled."
        currency = system.get_enrollment(enrollment_id).price.currency
        refund = parse_amount(form.get("refund_amount", ""), currency, "refund_amount", errors)
        if errors:
            return errors, ""
        try:
            result = system.cancel_enrollment(
                enrollment_id, reason=reason or "", actor=actor, refund_amount=refund
            )
        except EnrollpayError as exc:
            show_library_error(exc, errors, {RefundExceedsPaidError: "refund_amount"})
            return errors, ""
        return errors, f"Enrollment cancelled; refunded {result.refund_total.format('en_US')}."
    if errors:
        return errors, ""
    try:
        if action == "pause":
            system.pause(enrollment_id, actor=actor, reason=reason)
        else:
            system.resume(enrollment_id, actor=actor)
    except EnrollpayError as exc:
        show_library_error(exc, errors, {})
        return errors, ""
    return errors, "Enrollment paused." if action == "pause" else "Enrollment resumed."


@router.post("/enrollments/{enrollment_id}/{action}", response_class=HTMLResponse)
def enrollment_action(
    request: Request,
    *,
    system: System,
    admin: Admin,
    form: Form,
    enrollment_id: str,
    action: str,
) -> Response:
    """Perform pause, resume or cancel once it validates and is confirmed."""
    if action not in ENROLLMENT_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    errors, message = _run_enrollment_action(system, admin, enrollment_id, action, form)
    back = f"/admin/enrollments/{enrollment_id}"
    if not errors:
        flash(request, message)
        return redirect(back)
    title, fields = ENROLLMENT_ACTIONS[action]
    return action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/enrollments/{enrollment_id}/{action}",
        back=back,
        subject=enrollment_subject(system, enrollment_id),
        values=form,
        errors=errors,
        quote=system.quote_cancellation(enrollment_id) if action == "cancel" else None,
        status=422,
    )
