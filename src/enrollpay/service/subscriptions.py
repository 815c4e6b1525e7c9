"""Enrollments billed by a gateway subscription: creating it, applying what the gateway reports.

:func:`subscribe_at_gateway` creates the subscription (once per
enrollment: its idempotency key is the enrollment's) and stores its id on
the enrollment, so the gateway's later events find it. From then on the
gateway bills the periods: ``collect_due`` leaves the enrollment's items
alone, and its invoices settle them (:func:`apply_subscription_invoice`).

Webhooks arrive in any order and more than once. A subscription event is a
whole report (:class:`~enrollpay.domain.subscriptions.SubscriptionState`)
kept only when newer than the stored one; an invoice event is one try at
one invoice (its ``attempt_count``), recorded as a payment attempt whose
idempotency key names both, so a repeat finds it instead of adding another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import TERMINAL_ITEM_STATUSES, EnrollmentStatus
from enrollpay.domain.records import Enrollment, PaymentAttempt, ScheduleItem
from enrollpay.errors import (
    EnrollmentNotFoundError,
    GatewayNotConfiguredError,
    InvalidInputError,
    InvalidStateError,
)
from enrollpay.ports import GatewayEvent, StoreTransaction, SubscriptionGateway, SubscriptionInfo
from enrollpay.service.closing import close_enrollment
from enrollpay.service.context import Context
from enrollpay.service.enroll import ensure_customer
from enrollpay.service.results import WebhookResult
from enrollpay.service.settlement import apply_failure, apply_success

__all__ = [
    "apply_subscription_event",
    "apply_subscription_invoice",
    "invoice_attempt_key",
    "subscribe_at_gateway",
    "subscription_key",
]


def subscription_key(enrollment_id: str) -> str:
    """The idempotency key of an enrollment's gateway subscription."""
    return f"enrollment:{enrollment_id}:subscription"


def invoice_attempt_key(invoice_id: str, attempt: int | None) -> str:
    """The key of the attempt that records one try at a gateway invoice."""
    return f"invoice:{invoice_id}:attempt:{attempt or 1}"


def subscribe_at_gateway(
    ctx: Context, enrollment_id: str, *, price_id: str, trial_days: int = 0
) -> SubscriptionInfo:
    """Have the gateway bill ``enrollment_id`` as a subscription to ``price_id``.

    The subscription id is stored on the enrollment
    (``subscription.created``). Calling again asks the gateway with the
    same key, so it answers the same subscription and nothing is made
    twice. Refused for a gateway that bills no subscriptions, an unknown
    or cancelled enrollment, or one already billed by another subscription.
    """
    gateway = ctx.require_gateway()
    if not isinstance(gateway, SubscriptionGateway):
        raise GatewayNotConfiguredError(f"the {gateway.name} gateway bills no subscriptions")
    if not isinstance(price_id, str) or not price_id:
        raise InvalidInputError(f"price_id must be a non-empty string, got {price_id!r}")
    with ctx.unit() as tx:
        enrollment = tx.get_enrollment(enrollment_id)
    if enrollment is None:
        raise EnrollmentNotFoundError(enrollment_id)
    if enrollment.status == EnrollmentStatus.CANCELLED:
        raise InvalidStateError(f"enrollment {enrollment_id!r} is cancelled")
    customer = ensure_customer(ctx, gateway, enrollment.user_id)
    info = cast("SubscriptionGateway", gateway).create_subscription(
        customer_id=customer.gateway_customer_id,
        price_id=price_id,
        idempotency_key=subscription_key(enrollment_id),
        metadata={"enrollment_id": enrollment_id},
        trial_days=trial_days,
        default_payment_method=customer.payment_method_id,
    )
    with ctx.unit() as tx:
        locked = ctx.lock(tx, enrollment_id).enrollment
        change = transitions.link_subscription(
            locked, subscription_id=info.subscription_id, at=ctx.now()
        )
        if change.record is not locked:
            ctx.save_enrollment(tx, change)
            ctx.audit(
                tx,
                actor="system",
                action="subscription.created",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={"subscription_id": info.subscription_id, "price_id": price_id},
            )
    return info


def _subscribed(tx: StoreTransaction, event: GatewayEvent) -> Enrollment | None:
    if event.subscription_id is None:
        return None
    return tx.find_enrollment_by_subscription(event.subscription_id)


def apply_subscription_event(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str]:
    """Record a ``customer.subscription.*`` report; cancel the enrollment when it ended."""
    found = _subscribed(tx, event)
    if found is None:
        return "ignored", "no enrollment has this subscription"
    if event.subscription_state is None:
        return "ignored", "the event states no subscription status"
    locked = ctx.lock(tx, found.id)
    enrollment, state = locked.enrollment, event.subscription_state
    now = ctx.now()
    change = transitions.record_subscription(
        enrollment,
        locked.items,
        state,
        today=ctx.today(now),
        at=now,
        past_due_access=ctx.config.past_due_access,
        access=ctx.config.access_policy,
    )
    if change.record is enrollment:
        if state.ended and enrollment.status == EnrollmentStatus.CANCELLED:
            return "stale", "already cancelled"
        return "stale", "an equal or newer report of this subscription is stored"
    updated = ctx.save_enrollment(tx, change)
    ctx.audit(
        tx,
        actor="gateway",
        action="subscription.updated",
        entity_type="enrollment",
        entity_id=enrollment.id,
        data={"subscription_id": event.subscription_id, "status": state.status},
    )
    if not state.ended or updated.status == EnrollmentStatus.CANCELLED:
        return "processed", f"subscription {state.status}"
    close_enrollment(ctx, tx, updated, reason="subscription ended at the gateway", at=now)
    ctx.audit(
        tx,
        actor="gateway",
        action="enrollment.cancelled",
        entity_type="enrollment",
        entity_id=enrollment.id,
        data={"subscription_id": event.subscription_id},
    )
    return "processed", "enrollment cancelled"


def apply_subscription_invoice(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str] | None:
    """Settle the item an invoice of the enrollment's subscription bills.

    None when no enrollment has the invoice's subscription (the caller
    looks further). The item is the one the invoice names (``item_id`` in
    its metadata), else the item due on the first day of the invoice's
    period (settled or not: money for a settled item is kept and flagged
    as unapplied), else the first open item. Each try is an attempt
    (key: :func:`invoice_attempt_key`): a paid one records the payment
    once; a failed one applies the retry policy, as a declined charge
    would (the gateway retries the invoice; ``collect_due`` does not).
    """
    found = _subscribed(tx, event)
    if found is None or event.invoice_id is None:
        return None
    locked = ctx.lock(tx, found.id)
    key = invoice_attempt_key(event.invoice_id, event.invoice_attempt)
    attempt = _attempt_with_key(tx, locked.items, key)
    if attempt is None:
        item = _billed_item(ctx, locked.items, event)
        if item is None:
            return "stale", "no open item of this subscription to settle"
        attempt = _start_attempt(ctx, tx, item, key)
    assert event.amount is not None  # noqa: S101 - the parser sets it
    if event.kind == "invoice_paid":
        applied = apply_success(
            ctx,
            tx,
            attempt.id,
            gateway_payment_id=event.gateway_payment_id,
            amount=event.amount,
            payment_method_id=event.payment_method_id,
        )
        return ("processed", "invoice paid") if applied else ("stale", "already paid")
    outcome = apply_failure(
        ctx,
        tx,
        attempt.id,
        gateway_payment_id=event.gateway_payment_id,
        decline_code=event.decline_code,
        decline_class=event.decline_class,
        message=event.message,
    )
    return ("processed", outcome) if outcome else ("stale", "invoice try already recorded")


def _attempt_with_key(
    tx: StoreTransaction, items: Sequence[ScheduleItem], key: str
) -> PaymentAttempt | None:
    for item in items:
        for attempt in tx.attempts_of(item.id):
            if attempt.idempotency_key == key:
                return attempt
    return None


def _billed_item(
    ctx: Context, items: Sequence[ScheduleItem], event: GatewayEvent
) -> ScheduleItem | None:
    ordered = sorted(items, key=lambda i: i.seq)
    named = event.metadata.get("item_id")
    first_day = (
        None if event.invoice_period_start is None else ctx.today(event.invoice_period_start)
    )
    for item in ordered:
        if item.id == named or (named is None and item.due == first_day):
            return item
    return next((i for i in ordered if i.status not in TERMINAL_ITEM_STATUSES), None)


def _start_attempt(
    ctx: Context, tx: StoreTransaction, item: ScheduleItem, key: str
) -> PaymentAttempt:
    """Write the attempt of one invoice try, and put its item in processing."""
    number = len(tx.attempts_of(item.id)) + 1
    attempt = transitions.new_attempt(
        attempt_id=ctx.new_id("att"),
        item=item,
        number=number,
        idempotency_key=key,
        mode="off_session",
        at=ctx.now(),
    )
    tx.add_attempt(attempt)
    if transitions.ITEM.allows("start_processing", item.status):
        ctx.save_item(tx, transitions.start_processing(item, at=ctx.now()))
    ctx.audit(
        tx,
        actor="gateway",
        action="attempt.created",
        entity_type="schedule_item",
        entity_id=item.id,
        data={"attempt_id": attempt.id, "number": number, "key": key},
    )
    return attempt
