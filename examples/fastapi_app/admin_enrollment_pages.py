"""The admin's screen of one enrollment: schedule, money, audit trail, links to its actions.

The actions themselves are in :mod:`.admin_enrollment_actions` (pause,
resume, cancel), :mod:`.admin_plan_change_pages` (change plan) and
:mod:`.admin_item_pages` (one item's actions).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.plans import describe_plan

from .admin_forms import Admin, System
from .web import page

__all__ = ["OPEN", "router"]

OPEN = {
    ItemStatus.SCHEDULED,
    ItemStatus.FAILED,
    ItemStatus.REQUIRES_ACTION,
    ItemStatus.REQUIRES_PAYMENT_METHOD,
    ItemStatus.DEFAULTED,
    ItemStatus.PAUSED,
    ItemStatus.PROCESSING,
}

router = APIRouter(prefix="/admin")


@router.get("/enrollments/{enrollment_id}", response_class=HTMLResponse)
def enrollment_page(
    request: Request, system: System, _admin: Admin, enrollment_id: str
) -> Response:
    """The enrollment with its schedule, money, audit trail and the actions on it."""
    details = system.payment_details(enrollment_id)
    audit = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    for item in details.items:
        audit += system.audit_log(entity_type="schedule_item", entity_id=item.id)
    audit.sort(key=lambda entry: entry.seq)
    return page(
        request,
        "enrollment.html",
        {
            "d": details,
            "plan": describe_plan(details.enrollment.plan),
            "audit": audit,
            "open": {i.id for i in details.items if i.status in OPEN},
        },
    )
