"""Giving money back: planning, writing, sending and settling refunds.

Cancellation (:mod:`enrollpay.service.cancel`) and admin refunds plan and
write refunds here; the gateway call, its settlement, the refund webhooks
and the pending refunds ``reconcile`` finishes all end here too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence

from enrollpay.domain import transitions
from enrollpay.domain.disputes import UNREFUNDABLE_STATUSES, refundable
from enrollpay.domain.money import Money
from enrollpay.domain.records import Dispute, Payment, Refund, RefundStatus
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    PaymentDisputedError,
    PaymentNotFoundError,
    RefundExceedsPaidError,
)
from enrollpay.ports import Gateway, GatewayEvent, StoreTransaction
from enrollpay.service.base import MAX_TEXT, check_money, check_text
from enrollpay.service.context import Context
from enrollpay.service.lookups import payment_not_yet_recorded
from enrollpay.service.outside_refunds import record_outside_refund
from enrollpay.service.payers import refund_targets
from enrollpay.service.results import WebhookResult

__all__ = [
    "apply_refund_updates",
    "finish_pending_refunds",
    "plan_refunds",
    "record_refund_outcome",
    "refund_key",
    "refund_payment",
    "refundable_by_payment",
    "send_refunds",
    "write_refunds",
]

logger = logging.getLogger(__name__)


def refund_key(refund_id: str) -> str:
    """The deterministic idempotency key of a refund (its row is written first)."""
    return f"refund:{refund_id}"


def refundable_by_payment(
    ctx: Context, tx: StoreTransaction, enrollment_id: str
) -> list[tuple[Payment, Money]]:
    """Each payment with what can still be refunded of it, most recent first.

    A payment under a chargeback has nothing left to refund
    (:func:`~enrollpay.domain.disputes.refundable`).
    """
    refunded: dict[str, int] = {}
    for refund in tx.refunds_of(enrollment_id):
        if refund.status != "failed":
            refunded[refund.payment_id] = refunded.get(refund.payment_id, 0) + refund.amount.minor
    disputes: dict[str, list[Dispute]] = defaultdict(list)
    for dispute in tx.disputes_of(enrollment_id):
        disputes[dispute.payment_id].append(dispute)
    result = []
    for payment in reversed(tx.payments_of(enrollment_id)):
        back = Money(refunded.get(payment.id, 0), payment.amount.currency)
        left = refundable(payment.amount, refunded=back, disputes=disputes[payment.id])
        if left.minor > 0:
            result.append((payment, left))
    return result


def plan_refunds(
    ctx: Context, tx: StoreTransaction, enrollment_id: str, total: Money
) -> list[tuple[Payment, Money]]:
    """Split ``total`` over the payments, most recent first; refuse more than refundable.

    An enrollment split between payers gives each payer back their part of
    ``total`` pro rata to what each may still have refunded (never more),
    each from their own payments, most recent first
    (:func:`~enrollpay.service.payers.refund_targets`).
    """
    available = refundable_by_payment(ctx, tx, enrollment_id)
    refundable = Money(sum(m.minor for _, m in available), total.currency)
    if total > refundable:
        raise RefundExceedsPaidError(total, refundable)
    plan = []
    targets = refund_targets(tx, available, total)
    for payment, room in available:
        left = targets[payment.id]
        take = min(left[0], room.minor)
        if take:
            plan.append((payment, Money(take, total.currency)))
            left[0] -= take
    return plan


def write_refunds(
    ctx: Context,
    tx: StoreTransaction,
    plan: Sequence[tuple[Payment, Money]],
    *,
    actor: str,
    reason: str | None,
) -> list[Refund]:
    """Record planned refunds: manual ones done, gateway ones pending their call."""
    now = ctx.now()
    written = []
    for payment, amount in plan:
        refund_id = ctx.new_id("ref")
        via_gateway = payment.method == "gateway"
        if via_gateway:
            ctx.require_gateway()
        created = transitions.new_refund(
            refund_id=refund_id,
            payment_id=payment.id,
            enrollment_id=payment.enrollment_id,
            amount=amount,
            method="gateway" if via_gateway else "manual",
            at=now,
            pending=via_gateway,
            idempotency_key=refund_key(refund_id) if via_gateway else None,
            reason=reason,
            actor=actor,
        )
        refund = created.record
        tx.add_refund(refund)
        ctx.emit(tx, created.events)
        ctx.audit(
            tx,
            actor=actor,
            action="refund.created",
            entity_type="refund",
            entity_id=refund.id,
            data={
                "payment_id": payment.id,
                "amount": amount,
                "method": refund.method,
                "reason": reason,
            },
        )
        logger.info(
            "refund %s of payment %s created: %s %s (%s)",
            refund.id,
            payment.id,
            refund.method,
            refund.amount,
            refund.status,
        )
        written.append(refund)
    return written


def send_refunds(ctx: Context, refunds: Sequence[Refund]) -> list[Refund]:
    """Ask the gateway for every pending refund; return them as they now stand."""
    pending = [r for r in refunds if r.status == "pending"]
    if not pending:
        return list(refunds)
    gateway = ctx.require_gateway()
    by_id = {r.id: r for r in refunds}
    for refund in pending:
        by_id[refund.id] = _send_refund(ctx, gateway, refund)
    return [by_id[r.id] for r in refunds]


def _send_refund(ctx: Context, gateway: Gateway, refund: Refund) -> Refund:
    with ctx.unit() as tx:
        payment = tx.get_payment(refund.payment_id)
    assert payment is not None  # noqa: S101 - refunds reference recorded payments
    assert payment.gateway_payment_id is not None  # noqa: S101 - method "gateway"
    assert refund.idempotency_key is not None  # noqa: S101
    ctx.checkpoint("after_refund_written")
    try:
        answer = gateway.refund(
            gateway_payment_id=payment.gateway_payment_id,
            amount=refund.amount,
            idempotency_key=refund.idempotency_key,
            reference=refund.id,
            reason=refund.reason,
        )
    except GatewayUnavailableError:
        logger.warning("refund %s: gateway unavailable, left pending for reconcile", refund.id)
        return refund  # stays pending; reconcile() sends it again with the same key
    except GatewayRequestError as exc:
        return _settle_refund(ctx, refund.id, None, "failed", str(exc))
    ctx.checkpoint("after_refund_answered")
    return _settle_refund(ctx, refund.id, answer.gateway_refund_id, answer.status, None)


def _settle_refund(
    ctx: Context,
    refund_id: str,
    gateway_refund_id: str | None,
    status: RefundStatus,
    message: str | None,
) -> Refund:
    with ctx.unit() as tx:
        current = tx.get_refund(refund_id)
        assert current is not None  # noqa: S101
        updated = record_refund_outcome(
            ctx,
            tx,
            current,
            status=status,
            gateway_refund_id=gateway_refund_id,
            audit_extra={"message": message},
        )
        if updated is None:
            return current  # a webhook got here first
    logger.info(
        "refund %s of payment %s: %s (%s)",
        refund_id,
        updated.payment_id,
        status,
        updated.amount,
    )
    return updated


def record_refund_outcome(
    ctx: Context,
    tx: StoreTransaction,
    current: Refund,
    *,
    status: str,
    gateway_refund_id: str | None,
    audit_extra: Mapping[str, object] | None = None,
) -> Refund | None:
    """What the gateway says of one of our refunds, however it said it; None: nothing new.

    Its answer to the call, the refund webhook and drift re-sync all end here.

    Nothing is new when the refund already stands so with that gateway id,
    or when it is settled with a gateway id (final states do not move).
    """
    gid = gateway_refund_id or current.gateway_refund_id
    if current.status == status and current.gateway_refund_id == gid:
        return None
    if current.status in ("succeeded", "failed") and current.gateway_refund_id:
        return None
    updated = ctx.save_refund(
        tx,
        transitions.settle_refund(
            current, status=status, gateway_refund_id=gateway_refund_id, at=ctx.now()
        ),
    )
    data = {"gateway_refund_id": updated.gateway_refund_id, **(audit_extra or {})}
    ctx.audit(
        tx,
        actor="gateway",
        action=f"refund.{status}",
        entity_type="refund",
        entity_id=current.id,
        data=data,
    )
    return updated


def finish_pending_refunds(ctx: Context, gateway: Gateway) -> tuple[int, int]:
    """Send the refunds a crash or an outage left pending; return (succeeded, failed)."""
    with ctx.store.reader() as view:
        pending = [r for r in view.list_refunds(status="pending") if r.gateway_refund_id is None]
    done = failed = 0
    for refund in pending:
        after = _send_refund(ctx, gateway, refund)
        done += after.status == "succeeded"
        failed += after.status == "failed"
    return done, failed


def refund_payment(
    ctx: Context, payment_id: str, amount: Money, *, actor: str, reason: str | None = None
) -> Refund:
    """Refund part or all of one payment (gateway payments through the gateway)."""
    ctx.authorize(actor, "refund", payment_id)
    check_text(reason, "reason", limit=MAX_TEXT, required=False)
    with ctx.unit() as tx:
        payment = tx.get_payment(payment_id)
        if payment is None:
            raise PaymentNotFoundError(payment_id)
        check_money(amount, "amount", currency=payment.amount.currency)
        for dispute in tx.disputes_of(payment.enrollment_id):
            if dispute.payment_id == payment.id and dispute.status in UNREFUNDABLE_STATUSES:
                raise PaymentDisputedError(payment.id, dispute.id, dispute.status)
        room = {p.id: m for p, m in refundable_by_payment(ctx, tx, payment.enrollment_id)}
        left = room.get(payment.id, Money.zero(payment.amount.currency))
        if amount > left:
            raise RefundExceedsPaidError(amount, left)
        (refund,) = write_refunds(ctx, tx, [(payment, amount)], actor=actor, reason=reason)
    (done,) = send_refunds(ctx, [refund])
    return done


def apply_refund_updates(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str]:
    """Apply a ``refund_updated`` webhook: settle our refunds, record ones made elsewhere.

    A refund made elsewhere is recorded by
    :func:`~enrollpay.service.outside_refunds.record_outside_refund`, which
    also ends the enrollment when everything it paid has been given back.
    """
    payment = (
        None
        if event.gateway_payment_id is None
        else tx.find_payment_by_gateway_id(event.gateway_payment_id)
    )
    if payment is None:
        if payment_not_yet_recorded(tx, event.gateway_payment_id):
            return "deferred", "refund of a payment whose success has not arrived yet"
        return "ignored", "refund for a payment we did not record"
    ctx.lock(tx, payment.enrollment_id)  # every writer locks the enrollment first
    changed = 0
    for info in event.refunds:
        known = tx.find_refund_by_gateway_id(info.gateway_refund_id)
        if known is None and info.reference:
            mine = tx.get_refund(info.reference)
            if mine is not None and mine.payment_id == payment.id:
                known = mine
        status = info.status
        if known is not None:
            changed += (
                record_refund_outcome(
                    ctx, tx, known, status=status, gateway_refund_id=info.gateway_refund_id
                )
                is not None
            )
            continue
        if status == "failed":
            continue
        record_outside_refund(
            ctx,
            tx,
            payment,
            gateway_refund_id=info.gateway_refund_id,
            amount=info.amount,
            status=status,
            actor="gateway",
        )
        changed += 1
    return ("processed", f"{changed} refund(s) updated") if changed else ("stale", "")
