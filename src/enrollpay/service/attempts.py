"""Payment attempts: their keys, open checkouts, and the rules shared by the use cases."""

from __future__ import annotations

import attrs

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.records import PaymentAttempt, ScheduleItem
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = [
    "CANCELED",
    "OPEN_CHECKOUT",
    "attempt_key",
    "in_flight",
    "is_open_checkout",
    "mark_checkout_cancelled",
    "new_attempt",
]


#: The decline code of an attempt whose gateway payment was cancelled: it can
#: never be paid, so a new checkout needs a new attempt.
CANCELED = "canceled"
#: Attempt statuses of a checkout the customer may still complete (see is_open_checkout).
OPEN_CHECKOUT = frozenset(
    {AttemptStatus.PENDING, AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION}
)


def is_open_checkout(attempt: PaymentAttempt | None) -> bool:
    """Whether ``attempt`` is an on-session payment the customer may still complete.

    A declined checkout stays payable (the customer may try another card)
    until it is cancelled at the gateway.
    """
    return (
        attempt is not None
        and attempt.mode == "on_session"
        and attempt.status in OPEN_CHECKOUT
        and attempt.decline_code != CANCELED
    )


def attempt_key(item_id: str, number: int) -> str:
    """The deterministic idempotency key of an item's ``number``-th attempt."""
    return f"item:{item_id}:attempt:{number}"


def new_attempt(
    ctx: Context,
    item: ScheduleItem,
    *,
    number: int,
    mode: str,
    payment_method_id: str | None = None,
) -> PaymentAttempt:
    """A new pending attempt for what is outstanding on ``item`` (its key from ``number``)."""
    now = ctx.now()
    return PaymentAttempt(
        id=ctx.new_id("att"),
        item_id=item.id,
        enrollment_id=item.enrollment_id,
        number=number,
        idempotency_key=attempt_key(item.id, number),
        status=AttemptStatus.PENDING,
        amount=item.outstanding,
        mode=mode,  # type: ignore[arg-type]
        created_at=now,
        updated_at=now,
        payment_method_id=payment_method_id,
    )


def mark_checkout_cancelled(
    ctx: Context, tx: StoreTransaction, current: PaymentAttempt, message: str
) -> bool:
    """Record that ``current``'s gateway payment is cancelled and can never be paid.

    False (and nothing written) if it was recorded so already.
    """
    if current.decline_code == CANCELED:
        return False
    tx.update_attempt(
        attrs.evolve(
            current,
            status=AttemptStatus.FAILED,
            decline_code=CANCELED,
            message=message,
            updated_at=ctx.now(),
        )
    )
    return True


def in_flight(ctx: Context, tx: StoreTransaction, item: ScheduleItem) -> bool:
    """An attempt is being charged right now or its outcome is unknown."""
    attempts = tx.attempts_of(item.id)
    if not attempts:
        return False
    last = attempts[-1]
    return last.status == AttemptStatus.UNKNOWN or (
        last.status == AttemptStatus.PENDING and last.mode == "off_session"
    )
