"""The one place where a gateway outcome changes payment state.

Synchronous charge results, webhooks and reconciliation all end here, so a
success is recorded once however many times (and in whatever order) it is
reported, and terminal states never move back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import (
    TERMINAL_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.domain.plans import Subscription
from enrollpay.domain.records import Payment, PaymentAttempt, ScheduleItem
from enrollpay.domain.retry import DeclineClass, decide_after_decline
from enrollpay.domain.schedule import subscription_line
from enrollpay.domain.transitions import DeclineOutcome
from enrollpay.ports import ChargeResult, StoreTransaction
from enrollpay.service.closing import close_enrollment
from enrollpay.service.context import Context
from enrollpay.service.debits import apply_processing
from enrollpay.service.payers import remember_method
from enrollpay.service.results import ItemResult

__all__ = [
    "apply_charge_result",
    "apply_failure",
    "apply_requires_action",
    "apply_success",
    "extend_subscription",
]

_DECISION_RESULT: dict[str, ItemResult] = {
    "retry": "failed",
    "default": "defaulted",
    "requires_payment_method": "requires_payment_method",
    "requires_action": "requires_action",
}


def _attempt_data(attempt: PaymentAttempt) -> dict[str, object]:
    return {
        "item_id": attempt.item_id,
        "number": attempt.number,
        "amount": attempt.amount,
        "gateway_payment_id": attempt.gateway_payment_id,
    }


def _locked_item(tx: StoreTransaction, attempt: PaymentAttempt) -> ScheduleItem:
    """The attempt's item, read again: lock_attempt locked it already.

    The lock (on the item and its enrollment) holds until the transaction ends.
    """
    item = tx.get_item(attempt.item_id)
    assert item is not None  # noqa: S101 - attempts always belong to an item
    return item


def apply_charge_result(
    ctx: Context, tx: StoreTransaction, attempt_id: str, result: ChargeResult
) -> ItemResult | None:
    """Apply a gateway answer; ``None`` when it changed nothing (stale or repeated)."""
    if result.status == "succeeded":
        applied = apply_success(
            ctx,
            tx,
            attempt_id,
            gateway_payment_id=result.gateway_payment_id,
            amount=result.amount,
            payment_method_id=result.payment_method_id,
        )
        return "succeeded" if applied else None
    if result.status == "failed":
        return apply_failure(
            ctx,
            tx,
            attempt_id,
            gateway_payment_id=result.gateway_payment_id,
            decline_code=result.decline_code,
            decline_class=result.decline_class,
            message=result.message,
            card_brand=result.card_brand,
        )
    if result.status == "requires_action":
        applied = apply_requires_action(ctx, tx, attempt_id, result.gateway_payment_id)
        return "requires_action" if applied else None
    if result.status == "canceled":
        return apply_failure(
            ctx,
            tx,
            attempt_id,
            gateway_payment_id=result.gateway_payment_id,
            decline_code=None,
            decline_class=None,
            message="the payment was canceled at the gateway",
            canceled=True,
        )
    if not result.settles_later:
        return None  # an open checkout: the customer has yet to pay
    # processing: the outcome comes later (a bank debit: days later)
    applied = apply_processing(ctx, tx, attempt_id, gateway_payment_id=result.gateway_payment_id,
                               method_type=result.payment_method_type)  # fmt: skip
    return "processing" if applied else None


def apply_success(
    ctx: Context,
    tx: StoreTransaction,
    attempt_id: str,
    *,
    gateway_payment_id: str | None,
    amount: Money,
    payment_method_id: str | None,
    actor: str = "gateway",
) -> bool:
    """Record money received for an attempt; False if it was recorded already."""
    attempt = ctx.lock_attempt(tx, attempt_id)
    gid = gateway_payment_id or attempt.gateway_payment_id
    if attempt.status == AttemptStatus.SUCCEEDED:
        return False
    if gid is not None and tx.find_payment_by_gateway_id(gid) is not None:
        return False
    now = ctx.now()
    attempt = transitions.succeed_attempt(
        attempt, gateway_payment_id=gid, payment_method_id=payment_method_id, at=now
    )
    tx.update_attempt(attempt)
    item = _locked_item(tx, attempt)
    payment = Payment(
        id=ctx.new_id("pay"),
        enrollment_id=attempt.enrollment_id,
        item_id=item.id,
        amount=amount,
        method="gateway",
        received_at=now,
        gateway_payment_id=gid,
        attempt_id=attempt.id,
    )
    ctx.record_payment(tx, payment)
    data = {**_attempt_data(attempt), "payment_id": payment.id, "received": amount}
    if item.status in TERMINAL_ITEM_STATUSES:
        # Money arrived for an item that no longer wants it (paid by hand,
        # waived or cancelled meanwhile). Keep it on the books and flag it.
        ctx.audit(
            tx,
            actor=actor,
            action="payment.unapplied",
            entity_type="payment",
            entity_id=payment.id,
            data={**data, "item_status": item.status},
        )
    else:
        paid = ctx.save_item(tx, transitions.receive_on_item(item, amount=amount, at=now))
        if paid.status == ItemStatus.PAID and paid.amount_paid > item.amount:
            ctx.audit(
                tx,
                actor=actor,
                action="payment.excess",
                entity_type="payment",
                entity_id=payment.id,
                data={**data, "excess": paid.amount_paid - item.amount},
            )
        ctx.audit(
            tx,
            actor=actor,
            action="payment.succeeded",
            entity_type="schedule_item",
            entity_id=item.id,
            data=data,
        )
    enrollment = tx.get_enrollment(attempt.enrollment_id)
    assert enrollment is not None  # noqa: S101
    if payment_method_id and attempt.mode == "on_session":
        remember_method(ctx, tx, enrollment, item, payment_method_id, actor=actor)
    extend_subscription(ctx, tx, enrollment.id)
    ctx.refresh_enrollment(tx, enrollment.id, actor=actor)
    return True


def apply_failure(
    ctx: Context,
    tx: StoreTransaction,
    attempt_id: str,
    *,
    gateway_payment_id: str | None,
    decline_code: str | None,
    decline_class: DeclineClass | None,
    message: str | None,
    actor: str = "gateway",
    canceled: bool = False,
    card_brand: str | None = None,
) -> ItemResult | None:
    """Record a decline and apply the retry policy; None if stale or repeated.

    ``canceled``: the gateway cancelled the payment (it can never succeed
    now): the attempt is ``canceled`` rather than ``failed``, and the item is
    treated as after a decline. ``card_brand``: the declined card's brand,
    kept on the attempt for the retry caps.
    """
    attempt = ctx.lock_attempt(tx, attempt_id)
    if attempt.status in (AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CANCELED):
        return None
    now = ctx.now()
    if canceled:
        change = transitions.cancel_attempt(
            attempt, message=message or "canceled", at=now, gateway_payment_id=gateway_payment_id
        )
        attempt = change.record
        ctx.emit(tx, change.events)
    else:
        attempt = transitions.decline_attempt(
            attempt,
            gateway_payment_id=gateway_payment_id,
            decline_code=decline_code,
            decline_class=decline_class,
            message=message,
            at=now,
            card_brand=card_brand,
        )
    tx.update_attempt(attempt)
    item = _locked_item(tx, attempt)
    data = {**_attempt_data(attempt), "decline_code": decline_code, "decline_class": decline_class}
    if item.status not in (ItemStatus.PROCESSING, ItemStatus.REQUIRES_ACTION):
        # The item moved on (paid by hand, paused, ...): keep the record only.
        ctx.audit(
            tx,
            actor=actor,
            action="attempt.failed",
            entity_type="schedule_item",
            entity_id=item.id,
            data=data,
        )
        return "failed"
    if _enrollment_cancelled(tx, attempt.enrollment_id):
        # The charge was in flight when the enrollment was cancelled, so its item
        # was left open; now that it failed, nothing is owed on it any more.
        _cancel_left_item(ctx, tx, item, actor=actor, data=data)
        return "failed"
    decision_action: DeclineOutcome
    if attempt.mode == "on_session":
        # The customer is at the checkout and may try another card on the
        # same payment; nothing is retried behind their back.
        decision_action = "requires_payment_method"
        failures = item.failures
        retry_at: datetime | None = None
    else:
        failures = item.failures + 1
        decision = decide_after_decline(
            ctx.config.retry_policy, decline_class or DeclineClass.UNKNOWN, failures, now
        )
        decision_action, retry_at = decision.action, decision.retry_at
    ctx.save_item(
        tx,
        transitions.decline_item(
            item,
            outcome=decision_action,
            failures=failures,
            retry_at=retry_at,
            decline_code=decline_code,
            at=now,
        ),
    )
    ctx.audit(
        tx,
        actor=actor,
        action=f"payment.{_DECISION_RESULT[decision_action]}",
        entity_type="schedule_item",
        entity_id=item.id,
        data={**data, "failures": failures, "retry_at": retry_at},
    )
    enrollment = ctx.refresh_enrollment(tx, attempt.enrollment_id, actor=actor)
    if (
        decision_action == "default"
        and ctx.config.after_final_failure == "default"
        and transitions.ENROLLMENT.allows("default", enrollment.status)
    ):
        ctx.save_enrollment(
            tx,
            transitions.default_enrollment(
                enrollment,
                reason="payment retries exhausted",
                at=now,
                past_due_access=ctx.config.past_due_access,
            ),
        )
    if decision_action == "default" and ctx.config.after_final_failure == "cancel":
        close_enrollment(ctx, tx, enrollment, reason="payment retries exhausted", at=now)
        ctx.audit(
            tx,
            actor="system",
            action="enrollment.cancelled",
            entity_type="enrollment",
            entity_id=enrollment.id,
            data={"reason": "payment retries exhausted", "item_id": item.id},
        )
    return _DECISION_RESULT[decision_action]


def apply_requires_action(
    ctx: Context,
    tx: StoreTransaction,
    attempt_id: str,
    gateway_payment_id: str | None,
    actor: str = "gateway",
) -> bool:
    """The customer must authenticate; False if stale or repeated."""
    attempt = ctx.lock_attempt(tx, attempt_id)
    # Repeated, settled, or cancelled (no one can authenticate it any more).
    if not transitions.ATTEMPT.allows("require_action", attempt.status):
        return False
    now = ctx.now()
    attempt = transitions.require_action_on_attempt(
        attempt, gateway_payment_id=gateway_payment_id, at=now
    )
    tx.update_attempt(attempt)
    item = _locked_item(tx, attempt)
    if _enrollment_cancelled(tx, attempt.enrollment_id):
        if item.status == ItemStatus.PROCESSING:
            _cancel_left_item(ctx, tx, item, actor=actor, data=_attempt_data(attempt))
    elif transitions.ITEM.allows("require_action", item.status):
        ctx.save_item(tx, transitions.require_action_on_item(item, at=now))
    ctx.audit(
        tx,
        actor=actor,
        action="payment.requires_action",
        entity_type="schedule_item",
        entity_id=item.id,
        data=_attempt_data(attempt),
    )
    ctx.refresh_enrollment(tx, attempt.enrollment_id, actor=actor)
    return True


def _enrollment_cancelled(tx: StoreTransaction, enrollment_id: str) -> bool:
    enrollment = tx.get_enrollment(enrollment_id)
    return enrollment is not None and enrollment.status == EnrollmentStatus.CANCELLED


def _cancel_left_item(
    ctx: Context,
    tx: StoreTransaction,
    item: ScheduleItem,
    *,
    actor: str,
    data: Mapping[str, object],
) -> None:
    """Cancel an item a cancellation left open because its charge was in flight."""
    ctx.save_item(tx, transitions.cancel_item(item, at=ctx.now()))
    ctx.audit(
        tx,
        actor=actor,
        action="item.cancelled_after_cancellation",
        entity_type="schedule_item",
        entity_id=item.id,
        data=data,
    )


def extend_subscription(ctx: Context, tx: StoreTransaction, enrollment_id: str) -> int:
    """Keep an open-ended subscription's next periods scheduled; return periods added."""
    enrollment = tx.get_enrollment(enrollment_id)
    assert enrollment is not None  # noqa: S101
    plan = enrollment.plan
    if not isinstance(plan, Subscription) or plan.cycles is not None:
        return 0
    items = tx.items_of(enrollment_id)
    open_count = sum(1 for i in items if i.status not in TERMINAL_ITEM_STATUSES)
    missing = ctx.config.subscription_horizon - open_count
    if missing <= 0 or enrollment.status == EnrollmentStatus.CANCELLED:
        return 0
    next_seq = max((i.seq for i in items), default=0) + 1
    added = [
        ctx.item_from_line(
            enrollment_id, subscription_line(plan, enrollment.price, enrollment.start_date, seq)
        )
        for seq in range(next_seq, next_seq + missing)
    ]
    tx.add_items(added)
    return len(added)
