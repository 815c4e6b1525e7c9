"""Cancelling an enrollment: the refund quote, the cancellation, and its refunds.

Refunds are planned, written and sent by :mod:`enrollpay.service.refunds`.
"""

from __future__ import annotations

import logging
from datetime import date

from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import Enrollment
from enrollpay.domain.refunds import RefundPolicy, RefundQuote, quote_refund
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    InvalidStateError,
    ProductNotFoundError,
)
from enrollpay.ports import StoreTransaction, SubscriptionGateway
from enrollpay.service.base import MAX_TEXT, check_date, check_money, check_text
from enrollpay.service.checkout import close_checkouts
from enrollpay.service.closing import close_enrollment
from enrollpay.service.context import Context
from enrollpay.service.lookups import locked_enrollment
from enrollpay.service.refunds import (
    plan_refunds,
    refundable_by_payment,
    send_refunds,
    write_refunds,
)
from enrollpay.service.results import CancellationResult
from enrollpay.service.taxes import charged_price

__all__ = ["cancel_enrollment", "quote_cancellation"]

logger = logging.getLogger(__name__)


def quote_cancellation(
    ctx: Context, enrollment_id: str, *, on: date | None = None, policy: RefundPolicy | None = None
) -> RefundQuote:
    """The refund a cancellation would give, with its line items (writes nothing)."""
    with ctx.unit() as tx:
        enrollment = locked_enrollment(ctx, tx, enrollment_id)
        day = ctx.today() if on is None else check_date(on, "on")
        return _quote(ctx, tx, enrollment, day, policy)


def _quote(
    ctx: Context,
    tx: StoreTransaction,
    enrollment: Enrollment,
    on: date,
    policy: RefundPolicy | None,
) -> RefundQuote:
    product = tx.get_product(enrollment.product_id)
    if product is None:
        raise ProductNotFoundError(enrollment.product_id)
    refundable = refundable_by_payment(ctx, tx, enrollment.id)
    paid = Money(sum(m.minor for _, m in refundable), enrollment.price.currency)
    chosen = policy or product.refund_policy or ctx.config.refund_policy
    end = enrollment.start_date + product.service_period.times(1)
    return quote_refund(
        chosen,
        # With tax added on top, the student paid (and is refunded from) the taxed price.
        price=charged_price(enrollment.price, ctx.lock(tx, enrollment.id).items),
        paid=paid,
        service_start=enrollment.start_date,
        service_end=end,
        cancelled_on=on,
        # Ended pauses and one still going on ``on``: neither counts as used.
        paused_days=enrollment.days_paused(on),
    )


def cancel_enrollment(
    ctx: Context,
    enrollment_id: str,
    *,
    reason: str,
    actor: str,
    refund_amount: Money | None = None,
    policy: RefundPolicy | None = None,
) -> CancellationResult:
    """Cancel, cancel every open item, and refund per policy (or ``refund_amount``)."""
    ctx.authorize(actor, "cancel", enrollment_id)
    check_text(reason, "reason", limit=MAX_TEXT)
    now = ctx.now()
    with ctx.unit() as tx:
        enrollment = locked_enrollment(ctx, tx, enrollment_id)
        if enrollment.status == EnrollmentStatus.CANCELLED:
            raise InvalidStateError(f"enrollment {enrollment_id!r} is already cancelled")
        quote: RefundQuote | None = None
        if refund_amount is None:
            quote = _quote(ctx, tx, enrollment, ctx.today(now), policy)
            total = quote.refund
        else:
            if not isinstance(refund_amount, Money) or refund_amount.minor != 0:
                check_money(refund_amount, "refund_amount", currency=enrollment.price.currency)
            total = refund_amount
        plan = plan_refunds(ctx, tx, enrollment_id, total) if total.minor else []
        updated, cancelled_items = close_enrollment(ctx, tx, enrollment, reason=reason, at=now)
        ctx.audit(
            tx,
            actor=actor,
            action="enrollment.cancelled",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={
                "reason": reason,
                "refund": total,
                "items_cancelled": cancelled_items,
                "quote": None if quote is None else quote.basis,
                "paused_days": updated.paused_days,
            },
        )
        refunds = write_refunds(ctx, tx, plan, actor=actor, reason=reason)
    logger.info(
        "enrollment %s cancelled by %s: refund %s in %d refund(s), %d item(s) cancelled",
        enrollment_id,
        actor,
        total,
        len(refunds),
        cancelled_items,
    )
    refunds = send_refunds(ctx, refunds)
    with ctx.unit() as tx:
        item_ids = [i.id for i in tx.items_of(enrollment_id)]
    close_checkouts(ctx, item_ids, actor=actor)
    if updated.gateway_subscription_id is not None and ctx.gateway is not None:
        _cancel_gateway_subscription(ctx, updated)
    return CancellationResult(updated, total, tuple(refunds), quote, cancelled_items)


def _cancel_gateway_subscription(ctx: Context, enrollment: Enrollment) -> None:
    gateway, subscription_id = ctx.gateway, enrollment.gateway_subscription_id
    if gateway is None or not isinstance(gateway, SubscriptionGateway) or subscription_id is None:
        return
    try:
        gateway.cancel_subscription(
            subscription_id,
            idempotency_key=f"cancel-subscription:{enrollment.id}",
        )
    except (GatewayUnavailableError, GatewayRequestError) as exc:
        with ctx.unit() as tx:
            ctx.audit(
                tx,
                actor="system",
                action="subscription.cancel_failed",
                entity_type="enrollment",
                entity_id=enrollment.id,
                data={"message": str(exc)},
            )
