"""The time-driven sweep: the calendar moves statuses, with or without a gateway.

An installment that nobody charged (no saved card, a school that takes bank
transfers only, a gateway that is down) must still fall overdue, and its
enrollment must lose access per the access policy. ``sweep`` finds every
unpaid item past its due date and the grace days, announces each once
(``installment.overdue``) and moves its enrollment to the status the
calendar implies (``past_due``, then ``suspended``), with the ``access.*``
events that follow. It also reminds payers of what falls due soon: a
scheduled item of an active enrollment due within
``config.remind_days_before`` days is announced once
(``installment.upcoming``), for the notifications to turn into a reminder,
and passes each lapsed seat offer's seat to the next student in line.
Running it again changes nothing until time moves on.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from enrollpay.domain import transitions
from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Enrollment
from enrollpay.domain.statuses import OVERDUE_ITEM_STATUSES
from enrollpay.ports import ItemQuery
from enrollpay.service.context import Context
from enrollpay.service.results import SweepReport
from enrollpay.service.seats import expire_seat_offers

__all__ = ["SweepReport", "sweep"]

logger = logging.getLogger(__name__)

_EXPLICIT = (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED)
#: The items a reminder is for: waiting for their due date, nothing under way.
_UPCOMING = frozenset({ItemStatus.SCHEDULED})


def sweep(ctx: Context, now: datetime | None = None) -> SweepReport:
    """Mark overdue items, move their enrollments, and remind payers of items due soon.

    Idempotent: an item is announced overdue once, reminded of once per
    due date, and an enrollment changes status only when its items or the
    date give it a new one.
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
        with ctx.unit() as tx:
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
    reminded = _remind(ctx, at=at, today=today)
    lapsed = len(expire_seat_offers(ctx, at))
    report = SweepReport(len(enrollment_ids), overdue, changed, suspended, reminded, lapsed)
    if overdue or changed or reminded:
        logger.info(
            "sweep: %d item(s) overdue, %d enrollment(s) changed status (%d suspended), "
            "%d reminder(s)",
            overdue,
            changed,
            suspended,
            reminded,
        )
    return report


def _remind(ctx: Context, *, at: datetime, today: date) -> int:
    """Announce each scheduled item due within the reminder days, once; how many were.

    Due after ``today`` and at most ``remind_days_before`` days later, still
    scheduled (not in a retry cycle, not paid), of an enrollment in good
    standing (``active``): one in arrears, suspended or paused hears about
    its arrears instead, and collection would not charge its later items on
    their day anyway (one dunning cycle). An item due today is being
    collected, so a reminder would come too late to help.
    """
    days = ctx.config.remind_days_before
    if days == 0:
        return 0
    first, last = today + timedelta(days=1), today + timedelta(days=days)
    query = ItemQuery(statuses=_UPCOMING, due_from=first, due_to=last)
    with ctx.store.reader() as view:
        waiting = [item for item in view.list_items(query) if item.reminded_at is None]
        candidates = [
            enrollment_id
            for enrollment_id in dict.fromkeys(item.enrollment_id for item in waiting)
            if _in_good_standing(view.get_enrollment(enrollment_id))
        ]
    reminded = 0
    for enrollment_id in candidates:
        with ctx.unit() as tx:
            locked = ctx.lock(tx, enrollment_id)
            if not _in_good_standing(locked.enrollment):  # changed since the snapshot
                continue
            for item in locked.items:
                if (
                    item.reminded_at is None
                    and item.status in _UPCOMING
                    and first <= item.due <= last
                ):
                    ctx.save_item(tx, transitions.remind_upcoming(item, today=today, at=at))
                    ctx.audit(
                        tx,
                        actor="system",
                        action="installment.upcoming",
                        entity_type="schedule_item",
                        entity_id=item.id,
                        data={"due": item.due.isoformat()},
                        at=at,
                    )
                    reminded += 1
    return reminded


def _in_good_standing(enrollment: Enrollment | None) -> bool:
    return enrollment is not None and enrollment.status == EnrollmentStatus.ACTIVE
