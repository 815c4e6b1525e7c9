"""Gateway webhooks, processed exactly once and never moving state backwards."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from functools import partial
from typing import cast

import attrs

from enrollpay.clock import SystemClock
from enrollpay.domain import transitions
from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt, WebhookReceipt
from enrollpay.errors import DuplicateError, InvalidInputError, WebhookSignatureError
from enrollpay.ports import Clock, Gateway, GatewayEvent, LivemodeAware, StoreTransaction
from enrollpay.service import invoicing
from enrollpay.service.context import Context
from enrollpay.service.debits import apply_processing
from enrollpay.service.disputes import apply_dispute_event
from enrollpay.service.payers import customer_of_attempt
from enrollpay.service.refunds import apply_refund_updates
from enrollpay.service.results import WebhookOutcome, WebhookResult
from enrollpay.service.settlement import apply_failure, apply_requires_action, apply_success
from enrollpay.service.subscriptions import apply_subscription_event, apply_subscription_invoice
from enrollpay.service.trials import payment_method_saved

__all__ = ["handle_webhook"]

# Logs event ids, types and outcomes; refusals by reason (their messages never
# hold a secret or a signature), never the payload or the headers.
logger = logging.getLogger(__name__)


_aware = threading.local()


def _livemode_aware(gateway: Gateway) -> bool:
    """``isinstance(gateway, LivemodeAware)``, remembered for the last gateway asked about.

    A runtime protocol check walks the protocol's members on every call
    (some 20 µs on Python 3.11, as much as a few SQL statements); a gateway
    does not gain or lose ``livemode`` while it serves. Per thread, so
    concurrent handlers never read each other's half-written entry.
    """
    last = getattr(_aware, "last", None)
    if last is not None and last[0] is gateway:
        return bool(last[1])
    aware = isinstance(gateway, LivemodeAware)
    _aware.last = (gateway, aware)
    return aware


def handle_webhook(
    ctx: Context, payload: bytes, headers: Mapping[str, str], *, wall_clock: Clock | None = None
) -> WebhookOutcome:
    """Verify, deduplicate and apply one gateway webhook.

    The signature's timestamp is checked against ``wall_clock`` (default: the
    system clock), not the business clock: the gateway signs with the real
    time, whatever a test or a simulation does to ``ctx.clock``.
    """
    gateway = ctx.require_gateway()
    received = ensure_aware((wall_clock or SystemClock()).now(), "wall_clock.now()")
    try:
        event = gateway.parse_webhook(payload, headers, now=received)
        if _livemode_aware(gateway) and event.livemode != cast("LivemodeAware", gateway).livemode:
            raise WebhookSignatureError("event livemode does not match the gateway's mode")
    except InvalidInputError as exc:  # a forged, stale or malformed delivery
        logger.warning("webhook refused: %s", exc)
        raise
    try:
        with ctx.unit() as tx:
            if tx.get_webhook_receipt(event.id) is not None:
                logger.info("webhook %s (%s): duplicate", event.id, event.type)
                return WebhookOutcome("duplicate", event.id, event.type)
            result, detail = _apply_event(ctx, tx, event)
            if result != "deferred":  # a deferred event must apply when redelivered
                tx.add_webhook_receipt(WebhookReceipt(event.id, event.type, ctx.now(), result))
            # after the writes held back for the end of the unit of work:
            ctx.at_end(tx, partial(ctx.checkpoint, "webhook_before_commit"))
    except DuplicateError as exc:
        if exc.what != "webhook event":
            raise
        # A concurrent delivery of the same event committed first.
        logger.info("webhook %s (%s): duplicate", event.id, event.type)
        return WebhookOutcome("duplicate", event.id, event.type)
    ctx.checkpoint("webhook_after_commit")
    logger.info("webhook %s (%s): %s %s", event.id, event.type, result, detail)
    return WebhookOutcome(result, event.id, event.type, detail)


def _apply_event(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str]:
    kind = event.kind
    if kind in (
        "payment_succeeded",
        "payment_failed",
        "payment_requires_action",
        "payment_processing",
        "invoice_paid",
        "invoice_payment_failed",
        "invoice_finalized",
    ):
        found = _item_invoice_attempt(ctx, tx, event)
        if isinstance(found, tuple):
            return found
        attempt = found or _attempt_for(ctx, tx, event)
        attempt = attempt and invoicing.current_try(tx, attempt, event)
        if attempt is None and kind.startswith("invoice_"):
            return apply_subscription_invoice(ctx, tx, event) or (
                "ignored",
                "no attempt or subscription of ours matches this invoice",
            )
        if attempt is None:
            return "ignored", "no attempt of ours matches this payment"
        if kind in ("payment_succeeded", "invoice_paid"):
            assert event.amount is not None  # noqa: S101 - the parser sets it
            applied = apply_success(
                ctx,
                tx,
                attempt.id,
                gateway_payment_id=event.gateway_payment_id,
                amount=event.amount,
                payment_method_id=event.payment_method_id,
            )
            return ("processed", "payment recorded") if applied else ("stale", "already paid")
        if kind == "payment_processing":
            applied = apply_processing(
                ctx,
                tx,
                attempt.id,
                gateway_payment_id=event.gateway_payment_id,
                method_type=event.payment_method_type,
            )
            return ("processed", "processing") if applied else ("stale", "")
        if kind == "payment_requires_action":
            applied = apply_requires_action(ctx, tx, attempt.id, event.gateway_payment_id)
            return ("processed", "requires action") if applied else ("stale", "")
        outcome = apply_failure(
            ctx,
            tx,
            attempt.id,
            gateway_payment_id=event.gateway_payment_id,
            decline_code=event.decline_code,
            decline_class=event.decline_class,
            message=event.message,
            card_brand=event.card_brand,
        )
        return ("processed", outcome) if outcome else ("stale", "attempt already settled")
    if kind == "refund_updated":
        return apply_refund_updates(ctx, tx, event)
    if kind == "dispute_updated":
        return apply_dispute_event(ctx, tx, event)
    if kind == "payment_method_attached":
        return _apply_new_method(ctx, tx, event)
    if kind.startswith("subscription_"):
        return apply_subscription_event(ctx, tx, event)
    return "ignored", f"{event.type} needs no action"


def _item_invoice_attempt(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> PaymentAttempt | tuple[WebhookResult, str] | None:
    """An item invoice's event: link the invoice, then its attempt to settle (or the outcome).

    None: not an item invoice's event (a payment's, a subscription's invoice).
    """
    attempt = invoicing.invoice_attempt(tx, event) if event.kind.startswith("invoice_") else None
    if attempt is None or event.invoice_id is None:
        if event.kind == "invoice_finalized":
            return "ignored", "no item of ours is collected by this invoice"
        return None
    ctx.lock(tx, attempt.enrollment_id)
    invoicing.link_invoice(ctx, tx, attempt.id, invoice_id=event.invoice_id,
                           payment_intent_id=event.gateway_payment_id,
                           hosted_invoice_url=event.hosted_invoice_url)  # fmt: skip
    if event.kind == "invoice_finalized":
        return "processed", "invoice linked"
    if event.gateway_payment_id is None and attempt.gateway_payment_id is None:
        # Settled by the payment's own event or answer, which name it.
        return "processed", "invoice linked; its payment is not named yet"
    return attempt


def _attempt_for(ctx: Context, tx: StoreTransaction, event: GatewayEvent) -> PaymentAttempt | None:
    """Find our attempt for a payment event, refusing metadata that points elsewhere."""
    if event.gateway_payment_id:
        found = tx.find_attempt_by_gateway_id(event.gateway_payment_id)
        if found is not None:
            return found
    attempt_id = event.metadata.get("attempt_id")
    if not attempt_id:
        return None
    attempt = tx.get_attempt(attempt_id)
    if attempt is None:
        return None
    if attempt.gateway_payment_id not in (None, event.gateway_payment_id):
        return None  # metadata names an attempt that belongs to another payment
    if event.amount is not None and event.amount != attempt.amount:
        return None
    customer = customer_of_attempt(tx, attempt)
    if customer is None or customer.gateway_customer_id != event.customer_id:
        return None  # the event's customer is not the enrollment's: not ours to apply
    return attempt


def _apply_new_method(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str]:
    """A setup flow saved a card: store it, end the trials' wait, requeue what waited for it.

    The card is the event's customer's: only that customer's enrollments
    are touched, whatever the metadata names (``enrollment_id``, set by a
    trial's setup, is kept in the audit entry).
    """
    if not event.customer_id or not event.payment_method_id:
        return "ignored", "no customer or payment method"
    customer = tx.find_customer_by_gateway_id(event.customer_id)
    if customer is None:
        return "ignored", "unknown customer"
    # update_payment_method may have saved (and charged) this card already:
    # queueing its items again would retry a card that was just declined.
    known = customer.payment_method_id == event.payment_method_id
    tx.put_customer(attrs.evolve(customer, payment_method_id=event.payment_method_id))
    listed = tx.enrollments_of(customer.user_id)
    waited = payment_method_saved(ctx, tx, customer.user_id, actor="gateway", enrollments=listed)
    # Items waiting for a card are collected by the next collect_due run.
    retried = 0
    for candidate in [] if known else listed:
        locked = ctx.lock(tx, candidate.id)
        enrollment = locked.enrollment
        if enrollment.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.PAUSED):
            continue
        for item in locked.items:
            if item.status in (ItemStatus.REQUIRES_PAYMENT_METHOD, ItemStatus.DEFAULTED):
                ctx.save_item(tx, transitions.requeue_item(item, at=ctx.now()))
                retried += 1
        ctx.refresh_enrollment(tx, enrollment.id, actor="gateway")
    data: dict[str, object] = {"items_to_retry": retried}
    if waited:
        data["no_longer_waiting"] = [e.id for e in waited]
    if event.metadata.get("enrollment_id"):
        data["setup_for"] = event.metadata["enrollment_id"]
    ctx.audit(
        tx,
        actor="gateway",
        action="customer.payment_method_updated",
        entity_type="customer",
        entity_id=customer.user_id,
        data=data,
    )
    detail = f"{retried} item(s) will be retried"
    if waited:
        detail += f"; {len(waited)} enrollment(s) no longer wait for a card"
    return "processed", detail
