"""Moving an unpaid item's due date, and forgiving (waiving) an item."""

from __future__ import annotations

from datetime import date

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import TERMINAL_ITEM_STATUSES, ItemStatus
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import InvalidInputError, InvalidStateError, ItemNotPayableError
from enrollpay.service.attempts import in_flight
from enrollpay.service.base import MAX_TEXT, check_date, check_text
from enrollpay.service.checkout import close_checkouts
from enrollpay.service.context import Context
from enrollpay.service.lookups import locked_item

__all__ = ["reschedule", "waive_item"]

_RESCHEDULABLE = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.DEFAULTED,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.PAUSED,
    }
)


def reschedule(ctx: Context, item_id: str, new_due: date, *, actor: str) -> ScheduleItem:
    """Move an unpaid item's due date (not into the past); it is retried afresh."""
    ctx.authorize(actor, "reschedule", item_id)
    check_date(new_due, "new_due")
    today = ctx.today()
    if new_due < today:
        raise InvalidInputError(f"cannot reschedule into the past: {new_due} < {today}")
    with ctx.unit() as tx:
        item = locked_item(ctx, tx, item_id)
        if item.status not in _RESCHEDULABLE or in_flight(ctx, tx, item):
            raise InvalidStateError(
                f"schedule item {item_id!r} is {item.status} and cannot be rescheduled"
            )
        updated = ctx.save_item(tx, transitions.reschedule_item(item, due=new_due, at=ctx.now()))
        ctx.audit(
            tx,
            actor=actor,
            action="item.rescheduled",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"from": item.due, "to": new_due},
        )
        ctx.refresh_enrollment(tx, item.enrollment_id, actor=actor)
    return updated


def waive_item(
    ctx: Context, item_id: str, *, actor: str, reason: str | None = None
) -> ScheduleItem:
    """Forgive an unpaid item: it is no longer owed."""
    ctx.authorize(actor, "waive", item_id)
    check_text(reason, "reason", limit=MAX_TEXT, required=False)
    with ctx.unit() as tx:
        item = locked_item(ctx, tx, item_id)
        if item.status in TERMINAL_ITEM_STATUSES or in_flight(ctx, tx, item):
            raise ItemNotPayableError(item_id, item.status)
        updated = ctx.save_item(tx, transitions.waive_item(item, at=ctx.now()))
        ctx.audit(
            tx,
            actor=actor,
            action="item.waived",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"amount": item.outstanding, "reason": reason},
        )
        ctx.refresh_enrollment(tx, item.enrollment_id, actor=actor)
    close_checkouts(ctx, [item_id], actor=actor)
    return updated
