"""Payment attempts: their keys, open checkouts, and the rules shared by the use cases."""

from __future__ import annotations

from enrollpay.domain import transitions
from enrollpay.domain.records import AttemptMode, PaymentAttempt, ScheduleItem
from enrollpay.domain.statuses import AttemptStatus, EnrollmentStatus
from enrollpay.errors import InvalidStateError, ScheduleItemNotFoundError
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = [
    "OPEN_CHECKOUT",
    "attempt_key",
    "in_flight",
    "is_open_checkout",
    "lock_chargeable_item",
    "mark_checkout_cancelled",
    "new_attempt",
]


#: Attempt statuses of a checkout the customer may still complete (see is_open_checkout).
OPEN_CHECKOUT = frozenset(
    {AttemptStatus.PENDING, AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION}
)


def is_open_checkout(attempt: PaymentAttempt | None) -> bool:
    """Whether ``attempt`` is an on-session payment the customer may still complete.

    A declined checkout stays payable (the customer may try another card)
    until it is cancelled at the gateway (status ``canceled``).
    """
    return attempt is not None and attempt.mode == "on_session" and attempt.status in OPEN_CHECKOUT


def attempt_key(item_id: str, number: int) -> str:
    """The deterministic idempotency key of an item's ``number``-th attempt."""
    return f"item:{item_id}:attempt:{number}"


def new_attempt(
    ctx: Context,
    item: ScheduleItem,
    *,
    number: int,
    mode: AttemptMode,
    payment_method_id: str | None = None,
    reattempt: bool = False,
) -> PaymentAttempt:
    """A new pending attempt for what is outstanding on ``item`` (its key from ``number``)."""
    return transitions.new_attempt(
        attempt_id=ctx.new_id("att"),
        item=item,
        number=number,
        idempotency_key=attempt_key(item.id, number),
        mode=mode,
        at=ctx.now(),
        payment_method_id=payment_method_id,
        reattempt=reattempt,
    )


def mark_checkout_cancelled(
    ctx: Context, tx: StoreTransaction, current: PaymentAttempt, message: str
) -> bool:
    """Record that ``current``'s gateway payment is given up (cancelled, or failed and abandoned).

    False (and nothing written) if it was recorded so already, or if the
    payment succeeded first (then it is not cancelled).
    """
    if not transitions.ATTEMPT.allows("cancel", current.status):
        return False
    change = transitions.cancel_attempt(current, message=message, at=ctx.now())
    tx.update_attempt(change.record)
    ctx.emit(tx, change.events)
    return True


def in_flight(ctx: Context, tx: StoreTransaction, item: ScheduleItem) -> bool:
    """An attempt is being charged right now, or its outcome is unknown or still to settle."""
    attempts = tx.attempts_of(item.id)
    if not attempts:
        return False
    last = attempts[-1]
    return last.status in (AttemptStatus.UNKNOWN, AttemptStatus.PROCESSING) or (
        last.status == AttemptStatus.PENDING and last.mode == "off_session"
    )


def lock_chargeable_item(ctx: Context, tx: StoreTransaction, item_id: str) -> ScheduleItem:
    """Lock an item for a payment the customer asked for; its enrollment must take one.

    Raises ``ScheduleItemNotFoundError`` for an unknown item and
    ``InvalidStateError`` when the enrollment is cancelled or paused.
    """
    item = ctx.lock_item(tx, item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    enrollment = tx.get_enrollment(item.enrollment_id)
    assert enrollment is not None  # noqa: S101 - items always belong to an enrollment
    if enrollment.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.PAUSED):
        raise InvalidStateError(f"enrollment {enrollment.id!r} is {enrollment.status}")
    return item
