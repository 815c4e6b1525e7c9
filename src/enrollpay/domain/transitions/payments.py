"""Transitions of payment attempts and refunds (:data:`ATTEMPT`, :data:`REFUND`).

An attempt's outcome is announced by its item (``installment.paid``,
``payment.failed``, ...), so attempts emit an event only when a payment is
cancelled (``payment.canceled``) or accepted to settle later
(``payment.processing``). Refunds emit ``refund.issued`` when the
money went back and ``refund.failed`` when the gateway could not send it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.records import AttemptMode, PaymentAttempt, Refund, ScheduleItem
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.statuses import AttemptStatus, RefundStatus
from enrollpay.domain.transitions.items import money_data
from enrollpay.domain.transitions.table import ATTEMPT, REFUND

__all__ = [
    "await_settlement",
    "cancel_attempt",
    "decline_attempt",
    "lose_track",
    "new_attempt",
    "new_refund",
    "require_action_on_attempt",
    "resend_attempt",
    "settle_refund",
    "succeed_attempt",
]


def _attempt(attempt: PaymentAttempt, name: str, at: datetime, **changes: Any) -> PaymentAttempt:
    status = ATTEMPT.target_for(attempt.id, name, attempt.status)
    return attrs.evolve(attempt, status=status, updated_at=at, **changes)


def new_attempt(
    *,
    attempt_id: str,
    item: ScheduleItem,
    number: int,
    idempotency_key: str,
    mode: AttemptMode,
    at: datetime,
    payment_method_id: str | None = None,
    reattempt: bool = False,
) -> PaymentAttempt:
    """A try at collecting what is outstanding on ``item``, written before the gateway call.

    ``reattempt``: the payment method declined ``item`` before (see
    :func:`~enrollpay.domain.retry_caps.is_reattempt`).
    """
    return PaymentAttempt(
        id=attempt_id,
        item_id=item.id,
        enrollment_id=item.enrollment_id,
        number=number,
        idempotency_key=idempotency_key,
        status=AttemptStatus.PENDING,
        amount=item.outstanding,
        mode=mode,
        created_at=at,
        updated_at=at,
        payment_method_id=payment_method_id,
        reattempt=reattempt,
    )


def succeed_attempt(
    attempt: PaymentAttempt,
    *,
    gateway_payment_id: str | None,
    payment_method_id: str | None,
    at: datetime,
) -> PaymentAttempt:
    """The gateway took the money (any earlier decline on the same payment is cleared)."""
    return _attempt(
        attempt,
        "succeed",
        at,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
        decline_code=None,
        decline_class=None,
        message=None,
        payment_method_id=attempt.payment_method_id or payment_method_id,
    )


def decline_attempt(
    attempt: PaymentAttempt,
    *,
    at: datetime,
    message: str | None,
    gateway_payment_id: str | None = None,
    decline_code: str | None = None,
    decline_class: DeclineClass | None = None,
    card_brand: str | None = None,
) -> PaymentAttempt:
    """The gateway refused the charge (or the request itself: no decline code then).

    ``card_brand``: the brand the gateway reported for the card, if it did.
    """
    return _attempt(
        attempt,
        "decline",
        at,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
        decline_code=decline_code,
        decline_class=decline_class,
        message=message,
        card_brand=card_brand or attempt.card_brand,
    )


def require_action_on_attempt(
    attempt: PaymentAttempt, *, gateway_payment_id: str | None, at: datetime
) -> PaymentAttempt:
    """The customer must authenticate this payment."""
    return _attempt(
        attempt,
        "require_action",
        at,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
    )


def lose_track(
    attempt: PaymentAttempt, *, message: str, gateway_payment_id: str | None, at: datetime
) -> PaymentAttempt:
    """Sent, but the outcome is unknown: reconcile asks the gateway later."""
    return _attempt(
        attempt,
        "lose_track",
        at,
        message=message,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
    )


def await_settlement(
    attempt: PaymentAttempt,
    *,
    gateway_payment_id: str | None,
    method_type: str | None,
    at: datetime,
) -> Change[PaymentAttempt]:
    """The gateway accepted the payment; it settles later (``payment.processing``).

    A bank debit stays so for days: nothing is retried meanwhile, and its
    ``updated_at`` (``at``) is when the settlement window starts.
    ``method_type``: the gateway's payment method type (``sepa_debit``, ...), if known.
    """
    record = _attempt(
        attempt,
        "await_settlement",
        at,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
        decline_code=None,
        decline_class=None,
        message=None,
    )
    data = {
        "item_id": attempt.item_id,
        "attempt_id": attempt.id,
        "number": attempt.number,
        "amount": money_data(attempt.amount),
        "method_type": method_type,
    }
    return Change(record, (EventDraft("payment.processing", attempt.enrollment_id, at, data),))


def resend_attempt(attempt: PaymentAttempt, *, at: datetime) -> PaymentAttempt:
    """The gateway never received it: send again, with the same idempotency key."""
    return _attempt(attempt, "resend", at)


def cancel_attempt(
    attempt: PaymentAttempt,
    *,
    message: str,
    at: datetime,
    gateway_payment_id: str | None = None,
) -> Change[PaymentAttempt]:
    """The payment was given up: cancelled at the gateway, or abandoned (``payment.canceled``)."""
    record = _attempt(
        attempt,
        "cancel",
        at,
        message=message,
        gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
    )
    data = {"item_id": attempt.item_id, "attempt_id": attempt.id, "number": attempt.number}
    return Change(record, (EventDraft("payment.canceled", attempt.enrollment_id, at, data),))


def _refund_event(refund: Refund, at: datetime) -> tuple[EventDraft, ...]:
    kind = {RefundStatus.SUCCEEDED: "refund.issued", RefundStatus.FAILED: "refund.failed"}.get(
        refund.status
    )
    if kind is None:
        return ()
    data = {
        "refund_id": refund.id,
        "payment_id": refund.payment_id,
        "amount": money_data(refund.amount),
        "method": refund.method,
    }
    return (EventDraft(kind, refund.enrollment_id, at, data),)


def new_refund(
    *,
    refund_id: str,
    payment_id: str,
    enrollment_id: str,
    amount: Money,
    method: Literal["gateway", "manual"],
    at: datetime,
    pending: bool,
    idempotency_key: str | None = None,
    gateway_refund_id: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Change[Refund]:
    """A refund, pending its gateway call or done (``refund.issued``)."""
    record = Refund(
        id=refund_id,
        payment_id=payment_id,
        enrollment_id=enrollment_id,
        amount=amount,
        method=method,
        created_at=at,
        status=RefundStatus.PENDING if pending else RefundStatus.SUCCEEDED,
        idempotency_key=idempotency_key,
        gateway_refund_id=gateway_refund_id,
        reason=reason,
        actor=actor,
    )
    return Change(record, _refund_event(record, at))


def settle_refund(
    refund: Refund, *, status: str, gateway_refund_id: str | None, at: datetime
) -> Change[Refund]:
    """What the gateway says of a refund: ``succeeded`` or ``failed`` (events), or ``pending``.

    ``pending`` moves nothing: it is no news for a pending refund and no
    reason to reopen a settled one. The gateway's refund id is kept either way.
    """
    gid = gateway_refund_id or refund.gateway_refund_id
    wanted = RefundStatus(status)
    if wanted in (RefundStatus.PENDING, refund.status):
        return Change(attrs.evolve(refund, gateway_refund_id=gid))
    name = "succeed" if wanted == RefundStatus.SUCCEEDED else "fail"
    REFUND.target_for(refund.id, name, refund.status)
    record = attrs.evolve(refund, status=wanted, gateway_refund_id=gid)
    return Change(record, _refund_event(record, at))
