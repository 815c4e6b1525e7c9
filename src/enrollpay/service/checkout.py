"""On-session checkouts: opening a payment the student completes, and closing open ones."""

from __future__ import annotations

from typing import Literal

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import AttemptStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt, ScheduleItem
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    ItemNotPayableError,
)
from enrollpay.ports import Gateway, PaymentSession, StoreTransaction
from enrollpay.service.attempts import (
    is_open_checkout,
    lock_chargeable_item,
    mark_checkout_cancelled,
    new_attempt,
)
from enrollpay.service.context import Context
from enrollpay.service.enroll import open_session
from enrollpay.service.payers import ensure_payer_customer
from enrollpay.service.settlement import apply_charge_result

__all__ = ["cancel_open_checkout", "close_checkouts", "open_checkout", "start_payment"]

_PAYABLE_NOW = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_ACTION,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
        ItemStatus.PROCESSING,
    }
)


def start_payment(ctx: Context, item_id: str) -> PaymentSession:
    """Open (or reopen) an on-session payment for an item the student pays now."""
    gateway = ctx.require_gateway()
    with ctx.unit() as tx:
        item, attempt = _payable_attempt(ctx, tx, item_id)
    if attempt.gateway_payment_id is not None:
        # Reopen the very payment the customer (or collection) started:
        # a second payment for the same item could be paid twice.
        state = gateway.payment_status(
            gateway_payment_id=attempt.gateway_payment_id,
            idempotency_key=attempt.idempotency_key,
            amount=attempt.amount,
        )
        if state is not None and state.status == "canceled":
            # Cancelled at the gateway (an abandoned checkout, or by staff):
            # it can never be paid, so the customer gets a new payment.
            with ctx.unit() as tx:
                current = ctx.lock_attempt(tx, attempt.id)
                mark_checkout_cancelled(ctx, tx, current, "the payment was canceled at the gateway")
                renewed_item, renewed = _payable_attempt(ctx, tx, item_id)
            return _open(ctx, gateway, renewed_item, renewed)
        if state is not None and state.client_secret:
            if state.status == "succeeded":
                with ctx.unit() as tx:
                    apply_charge_result(ctx, tx, attempt.id, state)
                raise ItemNotPayableError(item_id, "paid")
            status: Literal["requires_action", "requires_payment_method"] = (
                "requires_action"
                if state.status == "requires_action"
                else "requires_payment_method"
            )
            return PaymentSession(attempt.gateway_payment_id, state.client_secret, status)
    return _open(ctx, gateway, item, attempt)


def _open(
    ctx: Context, gateway: Gateway, item: ScheduleItem, attempt: PaymentAttempt
) -> PaymentSession:
    """Open the checkout for whoever owes ``item``: its payer's customer, or the student's."""
    if item.payer_id is not None:
        customer = ensure_payer_customer(ctx, gateway, item.payer_id)
        return open_session(
            ctx, gateway, tx_user=customer.user_id, attempt=attempt,
            customer=customer, customer_read=True,
        )  # fmt: skip
    return open_session(ctx, gateway, tx_user=_user_of(ctx, item), attempt=attempt)


def _user_of(ctx: Context, item: ScheduleItem) -> str:
    with ctx.unit() as tx:
        enrollment = tx.get_enrollment(item.enrollment_id)
    assert enrollment is not None  # noqa: S101
    return enrollment.user_id


def _payable_attempt(
    ctx: Context, tx: StoreTransaction, item_id: str
) -> tuple[ScheduleItem, PaymentAttempt]:
    item = lock_chargeable_item(ctx, tx, item_id)
    if item.status not in _PAYABLE_NOW:
        raise ItemNotPayableError(item_id, item.status)
    attempts = tx.attempts_of(item_id)
    last = attempts[-1] if attempts else None
    if last is not None and last.status == AttemptStatus.UNKNOWN:
        raise ItemNotPayableError(item_id, "awaiting reconciliation")
    if last is not None and last.status == AttemptStatus.PROCESSING:
        raise ItemNotPayableError(item_id, "a debit is processing")
    if last is not None and last.mode == "off_session" and last.status == AttemptStatus.PENDING:
        raise ItemNotPayableError(item_id, "being charged")
    if last is not None and is_open_checkout(last):
        if item.status == ItemStatus.PROCESSING:
            # The customer is back at the checkout: give them the full window.
            tx.update_item(attrs.evolve(item, lease_until=ctx.now() + ctx.config.checkout_window))
        return item, last
    if last is not None and last.status == AttemptStatus.REQUIRES_ACTION:
        return item, last
    attempt = new_attempt(ctx, item, number=len(attempts) + 1, mode="on_session")
    tx.add_attempt(attempt)
    ctx.save_item(
        tx,
        transitions.start_processing(
            attrs.evolve(item, next_attempt_at=None),
            at=ctx.now(),
            lease_until=ctx.now() + ctx.config.checkout_window,
        ),
    )
    ctx.audit(
        tx,
        actor="customer",
        action="attempt.created",
        entity_type="schedule_item",
        entity_id=item_id,
        data={"attempt_id": attempt.id, "mode": "on_session"},
    )
    # No status refresh here: a past-due or suspended enrollment stays so while
    # the payment is open (opening the checkout must not restore access); the
    # outcome refreshes it.
    return item, attempt


def open_checkout(ctx: Context, item_id: str) -> PaymentAttempt | None:
    """The item's on-session payment a student could still complete, if any."""
    with ctx.unit() as tx:
        attempts = tx.attempts_of(item_id)
    last = attempts[-1] if attempts else None
    return last if is_open_checkout(last) else None


def close_checkouts(ctx: Context, item_ids: list[str], *, actor: str) -> None:
    """After an item stopped being owed, make sure no open checkout can still take money.

    Best effort: a payment completed meanwhile is recorded (and flagged as
    unapplied); a gateway that cannot be reached is noted in the audit
    trail, and a late payment would then be recorded and flagged the same way.
    """
    for item_id in item_ids:
        try:
            cancel_open_checkout(ctx, item_id, actor=actor)
        except ItemNotPayableError:
            continue  # the late payment is recorded and flagged
        except (GatewayUnavailableError, GatewayRequestError) as exc:
            with ctx.unit() as tx:
                ctx.audit(
                    tx,
                    actor="system",
                    action="payment.checkout_cancel_failed",
                    entity_type="schedule_item",
                    entity_id=item_id,
                    data={"message": str(exc)},
                )


def cancel_open_checkout(ctx: Context, item_id: str, *, actor: str) -> None:
    """Cancel the item's open card checkout at the gateway, so it can never be paid.

    If the student completed it meanwhile, that payment is recorded and
    :class:`~enrollpay.errors.ItemNotPayableError` raised; if the gateway
    cannot be reached, ``GatewayUnavailableError`` propagates and nothing
    is written.
    """
    attempt = open_checkout(ctx, item_id)
    if attempt is None:
        return
    if attempt.gateway_payment_id is not None and ctx.gateway is not None:
        state = ctx.gateway.cancel_payment(
            gateway_payment_id=attempt.gateway_payment_id,
            idempotency_key=f"cancel:{attempt.id}",
        )
        if state.status == "succeeded":
            with ctx.unit() as tx:
                apply_charge_result(ctx, tx, attempt.id, state)
            raise ItemNotPayableError(item_id, "paid by card meanwhile")
    with ctx.unit() as tx:
        current = ctx.lock_attempt(tx, attempt.id)
        if not mark_checkout_cancelled(
            ctx, tx, current, "checkout cancelled by an admin operation"
        ):
            return
        ctx.audit(
            tx,
            actor=actor,
            action="payment.checkout_cancelled",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"attempt_id": attempt.id, "gateway_payment_id": attempt.gateway_payment_id},
        )
