"""The plan-change routes of the JSON API, framework-free like :mod:`.api`.

``POST {prefix}/enrollments/{id}/plan-change/preview`` answers what a plan
change would do (:meth:`~enrollpay.PaymentSystem.preview_plan_change`) and
writes nothing; ``POST {prefix}/enrollments/{id}/plan-change`` makes it
(:meth:`~enrollpay.PaymentSystem.change_plan`). The JSON body holds
``plan``, either a plan spec as the CLI writes it (``"installments=6"``,
``"full"``) in the enrollment's currency or a plan object as
:func:`.api.plan` answers it; optionally ``at`` (ISO date the new plan
starts, default today) and, for the change, ``actor`` (audited; default
``"api"``).

Answers: 200 with the diff (``was_due``, ``due_now``, ``owed_before``,
``owed_after``, versions; the change adds the enrollment and the new
items); 404 for an unknown enrollment; 409 when the change is refused
(``error`` ``plan_change_refused`` with its ``reason``) or blocked by a
payment under way (``plan_change_blocked`` with ``attempt_id``: retry
after it settles); 422 for a malformed body, a plan not offered, or a
balance the plan cannot lay out; 403 when the authorisation policy
refuses the actor. The change route writes: the framework adapters serve
both apart from the rest of the API
(:data:`~enrollpay.integrations.routes.PLAN_CHANGE_ROUTES`: FastAPI's
``plan_change_router``, Flask's ``plan_change_prefix``, Django's
``plan_change_urls``), to mount only behind the staff's authentication;
pass who asks as ``actor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from enrollpay.domain.plan_change import DiffLine, PlanChange
from enrollpay.domain.plans import PaymentPlan, parse_plan, plan_from_data
from enrollpay.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from enrollpay.errors_plan_change import PlanChangeBlocked, PlanChangeRefused
from enrollpay.integrations.api import ApiAnswer, enrollment, item, money, plan
from enrollpay.service.system import PaymentSystem

__all__ = ["plan_change", "plan_change_answer"]

JSON = dict[str, Any]


def _line(value: DiffLine) -> JSON:
    return {"seq": value.seq, "due": value.due.isoformat(), "amount": money(value.amount)}


def plan_change(value: PlanChange) -> JSON:
    """A plan change's diff as JSON (money as in :func:`.api.money`)."""
    return {
        "enrollment_id": value.enrollment_id,
        "from_plan": plan(value.plan_before),
        "to_plan": plan(value.plan_after),
        "anchor": value.anchor.isoformat(),
        "old_version": value.old_version,
        "new_version": value.new_version,
        "owed_before": money(value.owed_before),
        "owed_after": money(value.owed_after),
        "deposit_dropped": value.deposit_dropped,
        "was_due": [_line(line) for line in value.was_due],
        "due_now": [_line(line) for line in value.due_now],
    }


def _error(status: int, code: str, message: str, **more: Any) -> ApiAnswer:
    return ApiAnswer(status, {"error": code, "message": message, **more})


def _requested(
    system: PaymentSystem, enrollment_id: str, body: Mapping[str, Any]
) -> tuple[PaymentPlan, date | None]:
    raw = body.get("plan")
    if isinstance(raw, str):
        wanted = parse_plan(raw, system.get_enrollment(enrollment_id).price.currency)
    elif isinstance(raw, Mapping):
        try:
            wanted = plan_from_data(dict(raw))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"plan is not a plan object: {exc}") from None
    else:
        raise InvalidInputError("plan is required: a plan spec or a plan object")
    at = body.get("at")
    if at is None:
        return wanted, None
    try:
        return wanted, date.fromisoformat(str(at))
    except ValueError:
        raise InvalidInputError("at must be an ISO date (YYYY-MM-DD)") from None


def plan_change_answer(
    system: PaymentSystem, enrollment_id: str, body: object, *, apply: bool
) -> ApiAnswer:
    """Answer the preview (``apply=False``) or the change of an enrollment's plan."""
    if not isinstance(body, Mapping):
        return _error(422, "invalid_input", "the body must be a JSON object")
    try:
        wanted, at = _requested(system, enrollment_id, body)
        if not apply:
            preview = system.preview_plan_change(enrollment_id, wanted, at=at)
            return ApiAnswer(200, {"applied": False, **plan_change(preview)})
        actor = str(body.get("actor") or "api")
        result = system.change_plan(enrollment_id, wanted, at=at, actor=actor)
        return ApiAnswer(
            200,
            {
                "applied": True,
                **plan_change(result.change),
                "enrollment": enrollment(result.enrollment),
                "added": [item(i) for i in result.added],
            },
        )
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    except PlanChangeBlocked as exc:
        return _error(409, "plan_change_blocked", str(exc), attempt_id=exc.attempt_id)
    except PlanChangeRefused as exc:
        return _error(409, "plan_change_refused", str(exc), reason=exc.reason)
    except InvalidInputError as exc:
        return _error(422, "invalid_input", str(exc))
    except PermissionDeniedError as exc:
        return _error(403, "permission_denied", str(exc))
