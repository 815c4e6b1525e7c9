"""Pausing and resuming collection for an enrollment."""

from __future__ import annotations

from datetime import timedelta

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Enrollment
from enrollpay.errors import InvalidStateError
from enrollpay.service.base import MAX_TEXT, check_text
from enrollpay.service.context import Context
from enrollpay.service.lookups import locked_enrollment

__all__ = ["pause", "resume"]

_PAUSABLE = frozenset({ItemStatus.SCHEDULED, ItemStatus.FAILED})


def pause(ctx: Context, enrollment_id: str, *, actor: str, reason: str | None = None) -> Enrollment:
    """Stop collection: scheduled and failed items wait until ``resume``."""
    ctx.authorize(actor, "pause", enrollment_id)
    check_text(reason, "reason", limit=MAX_TEXT, required=False)
    now = ctx.now()
    today = ctx.today(now)
    with ctx.unit() as tx:
        enrollment = locked_enrollment(ctx, tx, enrollment_id)
        if enrollment.status in (
            EnrollmentStatus.CANCELLED,
            EnrollmentStatus.COMPLETED,
            EnrollmentStatus.PAUSED,
        ):
            raise InvalidStateError(
                f"enrollment {enrollment_id!r} is {enrollment.status} and cannot be paused"
            )
        paused = 0
        for item in ctx.lock(tx, enrollment_id).items:
            if item.status in _PAUSABLE:
                ctx.save_item(tx, transitions.pause_item(item, at=now))
                paused += 1
        updated = ctx.save_enrollment(
            tx,
            transitions.pause_enrollment(
                enrollment, on=today, at=now, past_due_access=ctx.config.past_due_access
            ),
        )
        ctx.audit(
            tx,
            actor=actor,
            action="enrollment.paused",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={"items": paused, "reason": reason},
        )
    return updated


def resume(ctx: Context, enrollment_id: str, *, actor: str) -> Enrollment:
    """Restart collection; unpaid paused items move later by the days paused.

    The days of service the pause took join the enrollment's ``paused_days``:
    a refund quote does not count them as used, and the service ends that
    many days later.
    """
    ctx.authorize(actor, "resume", enrollment_id)
    now = ctx.now()
    today = ctx.today(now)
    with ctx.unit() as tx:
        enrollment = locked_enrollment(ctx, tx, enrollment_id)
        if enrollment.status != EnrollmentStatus.PAUSED or enrollment.paused_on is None:
            raise InvalidStateError(f"enrollment {enrollment_id!r} is not paused")
        shift = timedelta(days=max((today - enrollment.paused_on).days, 0))
        items = [
            ctx.save_item(tx, transitions.resume_item(item, due=item.due + shift, at=now))
            if item.status == ItemStatus.PAUSED
            else item
            for item in ctx.lock(tx, enrollment_id).items
        ]
        # The derived status takes over again from the items.
        updated = ctx.save_enrollment(
            tx,
            transitions.resume_enrollment(
                enrollment,
                items,
                today=today,
                at=now,
                past_due_access=ctx.config.past_due_access,
                access=ctx.config.access_policy,
            ),
        )
        ctx.audit(
            tx,
            actor=actor,
            action="enrollment.resumed",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={
                "shifted_days": shift.days,
                "status": updated.status,
                "paused_days": updated.paused_days,
            },
        )
        return updated
