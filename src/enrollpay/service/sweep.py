"""The time-driven sweep: the calendar moves statuses, with or without a gateway.

An installment that nobody charged (no saved card, a school that takes bank
transfers only, a gateway that is down) must still fall overdue, and its
enrollment must lose access per the access policy. ``sweep`` finds every
unpaid item past its due date and the grace days, announces each once
(``installment.overdue``) and moves its enrollment to the status the
calendar implies (``past_due``, then ``suspended``), with the ``access.*``
events that follow. Running it again changes nothing until time moves on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from enrollpay.domain import transitions
from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.statuses import OVERDUE_ITEM_STATUSES
from enrollpay.ports import ItemQuery
from enrollpay.service.context import Context
from enrollpay.service.results import SweepReport

__all__ = ["SweepReport", "sweep"]

logger = logging.getLogger(__name__)

_EXPLICIT = (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED)


def sweep(ctx: Context, now: datetime | None = None) -> SweepReport:
    """Mark overdue items and move their enrollments to the status the calendar implies.

    Idempotent: an item is announced overdue once, and an enrollment
    changes status only when its items or the date give it a new one.
    Needs no gateway. One transaction per enrollment, so a sweep over many
    enrollments never holds a lock for long.
    """
    at = ensure_aware(now, "now") if now is not None else ctx.now()
    today = ctx.today(at)
    policy = ctx.config.access_policy
    cutoff = today - timedelta(days=policy.grace_days + 1)
    with ctx.store.reader() as view:
        late = view.list_items(ItemQuery(statuses=OVERDUE_ITEM_STATUSES, due_to=cutoff))
    enrollment_ids = list(dict.fromkeys(item.enrollment_id for item in late))
    overdue = changed = suspended = 0
    for enrollment_id in enrollment_ids:
        with ctx.store.transaction() as tx:
            locked = ctx.lock(tx, enrollment_id)
            before = locked.enrollment
            if before.status in _EXPLICIT:
                continue
            for item in locked.items:
                if (
                    item.overdue_at is None
                    and item.status in OVERDUE_ITEM_STATUSES
                    and policy.days_overdue(item.due, today) > 0
                ):
                    ctx.save_item(tx, transitions.mark_overdue(item, today=today, at=at))
                    ctx.audit(
                        tx,
                        actor="system",
                        action="installment.overdue",
                        entity_type="schedule_item",
                        entity_id=item.id,
                        data={"due": item.due.isoformat(), "status": str(item.status)},
                        at=at,
                    )
                    overdue += 1
            after = ctx.refresh_enrollment(tx, enrollment_id, at=at)
            if after.status != before.status:
                changed += 1
                suspended += after.status == EnrollmentStatus.SUSPENDED
    report = SweepReport(len(enrollment_ids), overdue, changed, suspended)
    if overdue or changed:
        logger.info(
            "sweep: %d item(s) overdue, %d enrollment(s) changed status (%d suspended)",
            overdue,
            changed,
            suspended,
        )
    return report
