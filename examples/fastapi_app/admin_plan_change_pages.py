"""Admin action "change plan": pick another plan, see the diff, confirm, and it is made.

``GET /admin/enrollments/{id}/change-plan`` is the form: the plans the
product offers in the enrollment's currency (not the one it is on, nor a
subscription, which is billed by the period and has no balance to
re-plan) and the day the new plan starts (blank: today). Choosing one asks
the same page again with ``?plan=...&at=...``, which shows
:meth:`~enrollpay.PaymentSystem.preview_plan_change`'s diff (what was due,
what is due now, the balance before and after) and writes nothing.

Only that page has the confirm step: a ``POST`` carrying the previewed
choice, a fingerprint of the diff the admin saw, and the confirm checkbox.
The change is made (:meth:`~enrollpay.PaymentSystem.change_plan`, audited
as ``plan.changed`` with ``admin:<name>`` as the actor) only if the diff
worked out again at that moment is the one shown; otherwise the new diff
is shown to be confirmed. Refusals (``PlanChangeRefused``,
``PlanChangeBlocked``, a plan not offered, a date in the past) are shown
on the form and nothing is written.
"""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import PaymentSystem
from enrollpay.domain.plan_change import PlanChange
from enrollpay.domain.plans import PaymentPlan, Subscription, describe_plan
from enrollpay.domain.records import Enrollment
from enrollpay.errors import EnrollpayError, InvalidInputError, PlanError

from .admin_enrollment_actions import enrollment_subject
from .admin_forms import Admin, Form, System, date_param, show_library_error
from .web import flash, page, redirect

__all__ = ["TITLE", "fingerprint", "plan_choices", "router"]

TITLE = "Change the plan"
#: Where a library error is shown: a plan that does not fit next to the plan, a date next to it.
ERROR_FIELDS: dict[type, str] = {PlanError: "plan", InvalidInputError: "at"}

router = APIRouter(prefix="/admin")


def plan_choices(system: PaymentSystem, enrollment: Enrollment) -> dict[str, PaymentPlan]:
    """The plans offered instead of the enrollment's, by their place among the eligible ones."""
    eligible = system.eligible_plans(enrollment.product_id, currency=enrollment.price.currency)
    return {
        str(n): plan
        for n, plan in enumerate(eligible)
        if plan != enrollment.plan and not isinstance(plan, Subscription)
    }


def fingerprint(change: PlanChange) -> str:
    """A digest of everything the preview shows: the confirm step must match it."""
    text = json.dumps(change.summary(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _preview(
    system: PaymentSystem, enrollment: Enrollment, values: dict[str, str], errors: dict[str, str]
) -> tuple[PaymentPlan | None, PlanChange | None]:
    """The chosen plan and its diff, or (None, None) with the reasons in ``errors``."""
    choices = plan_choices(system, enrollment)
    plan = choices.get(values.get("plan", ""))
    if plan is None:
        errors["plan"] = "Choose one of the plans offered."
    at = date_param(values.get("at"), "at", errors)
    if plan is None or errors:
        return None, None
    try:
        return plan, system.preview_plan_change(enrollment.id, plan, at=at)
    except EnrollpayError as exc:
        show_library_error(exc, errors, ERROR_FIELDS)
        return None, None


def _form(
    request: Request,
    system: PaymentSystem,
    enrollment: Enrollment,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    preview: PlanChange | None,
) -> Response:
    choices = plan_choices(system, enrollment)
    return page(
        request,
        "plan_change.html",
        {
            "title": TITLE,
            "subject": enrollment_subject(system, enrollment.id),
            "current": describe_plan(enrollment.plan),
            "choices": [(key, describe_plan(plan)) for key, plan in choices.items()],
            "action": f"/admin/enrollments/{enrollment.id}/change-plan",
            "back": f"/admin/enrollments/{enrollment.id}",
            "values": values,
            "errors": errors,
            "preview": preview,
            "describe": describe_plan,
            "fingerprint": "" if preview is None else fingerprint(preview),
        },
        status=422 if errors else 200,
    )


# Registered before the other enrollment actions' ``/{action}`` routes (see pages.py).
@router.get("/enrollments/{enrollment_id}/change-plan", response_class=HTMLResponse)
def change_plan_form(
    request: Request,
    system: System,
    _admin: Admin,
    enrollment_id: str,
    plan: str | None = None,
    at: str | None = None,
) -> Response:
    """The plan-change form; with ``plan`` chosen, the diff it would make (nothing written)."""
    enrollment = system.get_enrollment(enrollment_id)
    values = {"plan": plan or "", "at": at or ""}
    errors: dict[str, str] = {}
    preview = None
    if plan is not None:
        _chosen, preview = _preview(system, enrollment, values, errors)
    return _form(request, system, enrollment, values=values, errors=errors, preview=preview)


def _apply(
    system: PaymentSystem, actor: str, enrollment: Enrollment, form: dict[str, str]
) -> tuple[dict[str, str], PlanChange | None, str]:
    """Work the diff out again; make the change if it is the one confirmed.

    Returns (errors, the diff to show again or None, the success message).
    """
    errors: dict[str, str] = {}
    plan, preview = _preview(system, enrollment, form, errors)
    if plan is None or preview is None:
        return errors, None, ""
    if form.get("confirm") != "yes":
        errors["confirm"] = "Tick the box to confirm."
    elif form.get("fingerprint") != fingerprint(preview):
        errors["form"] = (
            "The change is not the one previewed (the schedule changed meanwhile): "
            "check the diff below and confirm again."
        )
    if errors:
        return errors, preview, ""
    try:
        result = system.change_plan(enrollment.id, plan, at=preview.anchor, actor=actor)
    except EnrollpayError as exc:
        show_library_error(exc, errors, ERROR_FIELDS)
        return errors, None, ""
    count = len(result.added)
    return (
        errors,
        None,
        f"Plan changed to {describe_plan(plan)}: {count} payment{'s' if count != 1 else ''} "
        f"from {result.change.anchor.isoformat()}.",
    )


@router.post("/enrollments/{enrollment_id}/change-plan", response_class=HTMLResponse)
def change_plan(
    request: Request, *, system: System, admin: Admin, form: Form, enrollment_id: str
) -> Response:
    """Make the previewed change once confirmed; otherwise the form again with the reasons."""
    enrollment = system.get_enrollment(enrollment_id)
    errors, preview, message = _apply(system, admin, enrollment, form)
    if not errors:
        flash(request, message)
        return redirect(f"/admin/enrollments/{enrollment_id}")
    values = {"plan": form.get("plan", ""), "at": form.get("at", "")}
    return _form(request, system, enrollment, values=values, errors=errors, preview=preview)
