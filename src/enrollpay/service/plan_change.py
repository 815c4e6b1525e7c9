"""Moving an active enrollment to another plan its product offers, and previewing that.

The decision is the domain's (:func:`~enrollpay.domain.plan_change.plan_change`);
this module gathers what it needs under the enrollment's lock (its items,
the payments in flight, the plans the product offers, the coupon's plan
restriction, the gateway's granularity and minimum charge) and, to apply
it, writes everything in one unit of work: the retries it makes moot are
cancelled, the open items superseded, the next schedule version added,
the enrollment put on the new plan (``schedule.changed``), audited, and its
status derived again. A preview takes the same decision and writes nothing.

A payment still under way on an item the change would replace (sent with
no outcome yet, waiting for the customer to authenticate, a bank debit
processing, a charge being made) refuses the change with
:class:`~enrollpay.errors_plan_change.PlanChangeBlocked`: its outcome
decides what is left to re-plan, so the caller retries after it settles.
"""

from __future__ import annotations

from datetime import date

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.plan_change import NOT_CHANGEABLE, PlanChange, plan_change
from enrollpay.domain.plans import PaymentPlan, eligible_plans
from enrollpay.domain.records import Enrollment, PaymentAttempt, ScheduleItem
from enrollpay.domain.statuses import OPEN_ITEM_STATUSES, AttemptStatus
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError, InvalidInputError
from enrollpay.errors_plan_change import PlanChangeBlocked
from enrollpay.ports import StoreTransaction
from enrollpay.service.base import check_date, check_text
from enrollpay.service.context import Context
from enrollpay.service.lookups import locked_enrollment
from enrollpay.service.settlement import apply_charge_result

__all__ = ["PlanChangeResult", "change_plan", "preview_plan_change"]


@attrs.frozen
class PlanChangeResult:
    """What :func:`change_plan` did: the enrollment as it is now and the change it made."""

    enrollment: Enrollment
    change: PlanChange
    #: The open items the change replaced, now ``superseded``.
    superseded: tuple[ScheduleItem, ...]
    #: The items of the new schedule version, ``scheduled``.
    added: tuple[ScheduleItem, ...]
    #: The failed attempts whose planned retry the change cancelled.
    cancelled_attempts: tuple[PaymentAttempt, ...] = ()


def _anchor(ctx: Context, at: date | None) -> date:
    today = ctx.today()
    if at is None:
        return today
    anchor = check_date(at, "at")
    if anchor < today:
        raise InvalidInputError(f"a plan change cannot start in the past: {anchor} < {today}")
    return anchor


def _decide(
    ctx: Context, tx: StoreTransaction, enrollment_id: str, plan: PaymentPlan, anchor: date
) -> PlanChange:
    enrollment = locked_enrollment(ctx, tx, enrollment_id)
    locked = ctx.lock(tx, enrollment_id)
    if enrollment.status not in NOT_CHANGEABLE:
        open_ids = {i.id for i in locked.items if i.status in OPEN_ITEM_STATUSES}
        for attempt in locked.attempts:
            if attempt.item_id in open_ids:
                raise PlanChangeBlocked(enrollment_id, attempt.item_id, attempt.id)
    product = tx.get_product(enrollment.product_id)
    assert product is not None  # noqa: S101 - an enrollment's product is never deleted
    coupon = None if enrollment.coupon_code is None else tx.get_coupon(enrollment.coupon_code)
    currency = enrollment.price.currency
    gateway = ctx.gateway
    return plan_change(
        enrollment,
        locked.items,
        plan,
        offered=eligible_plans(product, tx.list_plan_rules()),
        anchor=anchor,
        granularity=1 if gateway is None else gateway.amount_granularity(currency),
        minimum=None if gateway is None else gateway.minimum_charge(currency),
        coupon_plan_kinds=None if coupon is None else coupon.plan_kinds,
    )


def preview_plan_change(
    ctx: Context, enrollment_id: str, plan: PaymentPlan, *, at: date | None = None
) -> PlanChange:
    """What :func:`change_plan` would do now, and the same refusals; writes nothing."""
    check_text(enrollment_id, "enrollment_id")
    anchor = _anchor(ctx, at)
    with ctx.unit() as tx:
        return _decide(ctx, tx, enrollment_id, plan, anchor)


def change_plan(
    ctx: Context,
    enrollment_id: str,
    plan: PaymentPlan,
    *,
    at: date | None = None,
    actor: str = "system",
) -> PlanChangeResult:
    """Move the enrollment's remaining balance to ``plan`` from ``at`` (default: today).

    One unit of work: each replaced item's failed attempt (its retry
    planned) is cancelled (``payment.canceled``), the open items are
    superseded, the new items added as the next schedule version, the
    enrollment put on ``plan`` (``schedule.changed``), the change audited
    (``plan.changed``) and the status derived again. After the commit, a
    declined card checkout among the cancelled attempts is cancelled at the
    gateway too, best effort (a payment that still arrives is recorded and
    flagged as unapplied, as for a waived item). Collection charges the new
    items when they fall due.
    """
    ctx.authorize(actor, "change_plan", enrollment_id)
    check_text(enrollment_id, "enrollment_id")
    anchor = _anchor(ctx, at)
    now = ctx.now()
    cancelled: list[PaymentAttempt] = []
    with ctx.unit() as tx:
        decided = _decide(ctx, tx, enrollment_id, plan, anchor)
        for item in decided.removed:
            attempts = tx.attempts_of(item.id)
            if attempts and attempts[-1].status == AttemptStatus.FAILED:
                change = transitions.cancel_attempt(
                    attempts[-1], message="its item was replaced by a plan change", at=now
                )
                tx.update_attempt(change.record)
                ctx.emit(tx, change.events)
                cancelled.append(change.record)
        enrollment = ctx.lock(tx, enrollment_id).enrollment
        moved, superseded, added = transitions.apply_plan_change(
            enrollment, decided, new_id=lambda: ctx.new_id("itm"), at=now
        )
        tx.replace_open_items(enrollment_id, superseded, added)
        ctx.save_enrollment(tx, moved)
        ctx.audit(
            tx,
            actor=actor,
            action="plan.changed",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={
                **decided.summary(),
                "superseded": [i.id for i in superseded],
                "added": [i.id for i in added],
                "cancelled_attempts": [a.id for a in cancelled],
            },
        )
        updated = ctx.refresh_enrollment(tx, enrollment_id, actor=actor)
    _cancel_checkouts_at_gateway(ctx, cancelled, actor=actor)
    return PlanChangeResult(updated, decided, superseded, added, tuple(cancelled))


def _cancel_checkouts_at_gateway(
    ctx: Context, attempts: list[PaymentAttempt], *, actor: str
) -> None:
    """Close the declined card checkouts among ``attempts`` at the gateway, best effort."""
    gateway = ctx.gateway
    for attempt in attempts:
        if gateway is None or attempt.mode != "on_session" or attempt.gateway_payment_id is None:
            continue
        try:
            state = gateway.cancel_payment(
                gateway_payment_id=attempt.gateway_payment_id,
                idempotency_key=f"cancel:{attempt.id}",
            )
        except (GatewayUnavailableError, GatewayRequestError) as exc:
            with ctx.unit() as tx:
                ctx.audit(
                    tx,
                    actor="system",
                    action="payment.checkout_cancel_failed",
                    entity_type="schedule_item",
                    entity_id=attempt.item_id,
                    data={"attempt_id": attempt.id, "message": str(exc)},
                )
            continue
        if state.status == "succeeded":
            # Paid meanwhile: recorded, and flagged as unapplied (its item is superseded).
            with ctx.unit() as tx:
                apply_charge_result(ctx, tx, attempt.id, state)
        else:
            with ctx.unit() as tx:
                ctx.audit(
                    tx,
                    actor=actor,
                    action="payment.checkout_cancelled",
                    entity_type="schedule_item",
                    entity_id=attempt.item_id,
                    data={
                        "attempt_id": attempt.id,
                        "gateway_payment_id": attempt.gateway_payment_id,
                    },
                )
