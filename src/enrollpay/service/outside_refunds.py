"""Refunds made outside the library (in the gateway's dashboard), and what a full one ends.

Such a refund reaches the library by its webhook (``charge.refunded``) or,
when that was lost, by drift re-sync in ``reconcile``. Either way it is
recorded here, the same way: a refund of the payment, done or pending as
the gateway says (``refund.issued`` once done).

When the enrollment's refunds (failed ones aside) then give back all that
its payments took, the enrollment ends as a cancellation with a full
refund ends it: open items cancelled, ``enrollment.cancelled`` and
``access.revoked``. Whoever gave everything back at the gateway undid the
sale; keeping the student's access, or collecting the rest of the plan,
would contradict that. A partial refund changes the books only, as an
administrator's :func:`~enrollpay.service.refunds.refund_payment` does.
"""

from __future__ import annotations

from typing import Final, Literal

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import Enrollment, Payment, Refund
from enrollpay.domain.statuses import RefundStatus
from enrollpay.ports import StoreTransaction
from enrollpay.service.closing import close_enrollment
from enrollpay.service.context import Context

__all__ = ["REFUNDED_IN_FULL", "end_if_refunded_in_full", "record_outside_refund"]

#: The cancellation reason of an enrollment whose payments were all given back elsewhere.
REFUNDED_IN_FULL: Final = "refunded in full at the gateway"


def record_outside_refund(
    ctx: Context,
    tx: StoreTransaction,
    payment: Payment,
    *,
    gateway_refund_id: str,
    amount: Money,
    status: Literal["succeeded", "pending"],
    actor: str,
) -> tuple[Refund, Enrollment | None]:
    """Record a refund the gateway made on its own; return it and the enrollment if it ended.

    The caller has locked the payment's enrollment (every writer locks it
    before anything else). ``RefundExceedsPaidError`` if it would take back
    more than is left of the payment (nothing is written then).
    """
    created = transitions.new_refund(
        refund_id=ctx.new_id("ref"),
        payment_id=payment.id,
        enrollment_id=payment.enrollment_id,
        amount=amount,
        method="gateway",
        at=ctx.now(),
        pending=status == "pending",
        gateway_refund_id=gateway_refund_id,
        reason="refunded at the gateway",
        actor=actor,
    )
    refund = created.record
    tx.add_refund(refund)
    ctx.emit(tx, created.events)
    ctx.audit(
        tx,
        actor=actor,
        action="refund.external",
        entity_type="refund",
        entity_id=refund.id,
        data={"payment_id": payment.id, "amount": amount, "gateway_refund_id": gateway_refund_id},
    )
    return refund, end_if_refunded_in_full(ctx, tx, payment.enrollment_id, actor=actor)


def end_if_refunded_in_full(
    ctx: Context, tx: StoreTransaction, enrollment_id: str, *, actor: str
) -> Enrollment | None:
    """Cancel the enrollment when its refunds give back all its payments took; else None."""
    enrollment = ctx.lock(tx, enrollment_id).enrollment
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return None
    paid = sum(p.amount.minor for p in tx.payments_of(enrollment_id))
    back = sum(
        r.amount.minor for r in tx.refunds_of(enrollment_id) if r.status != RefundStatus.FAILED
    )
    if paid == 0 or back < paid:
        return None
    ended, cancelled_items = close_enrollment(
        ctx, tx, enrollment, reason=REFUNDED_IN_FULL, at=ctx.now()
    )
    ctx.audit(
        tx,
        actor=actor,
        action="enrollment.cancelled",
        entity_type="enrollment",
        entity_id=enrollment_id,
        data={
            "reason": REFUNDED_IN_FULL,
            "refunded": Money(back, enrollment.price.currency),
            "items_cancelled": cancelled_items,
        },
    )
    return ended
