"""Charging one claimed item: the attempt, the gateway call, and its outcome.

The attempt and its idempotency key are committed before the gateway is
called, so a crash or a retry anywhere after that reuses the key and cannot
charge twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.dunning import charged_automatically
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt
from enrollpay.domain.retry_caps import is_reattempt
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError
from enrollpay.ports import Gateway, InvoiceCharge, StoreTransaction
from enrollpay.service import invoicing
from enrollpay.service.attempts import is_open_checkout, mark_checkout_cancelled, new_attempt
from enrollpay.service.caps import hold_capped_retry
from enrollpay.service.context import Context
from enrollpay.service.payers import customer_for
from enrollpay.service.results import ItemOutcome, ItemResult
from enrollpay.service.settlement import apply_charge_result

__all__ = ["collect_item"]

# Logs ids, statuses and decline codes only: never client secrets or card data.
logger = logging.getLogger(__name__)


_RESULT_OF_STATUS: dict[ItemStatus, ItemResult] = {
    ItemStatus.PAID: "succeeded",
    ItemStatus.FAILED: "failed",
    ItemStatus.DEFAULTED: "defaulted",
    ItemStatus.REQUIRES_PAYMENT_METHOD: "requires_payment_method",
    ItemStatus.REQUIRES_ACTION: "requires_action",
}


#: The last attempt's outcome is still to come, from reconcile or a webhook: no new charge.
_SETTLED_ELSEWHERE: dict[AttemptStatus, ItemResult] = {
    AttemptStatus.UNKNOWN: "unknown",
    AttemptStatus.PROCESSING: "processing",
}


def collect_item(
    ctx: Context,
    gateway: Gateway,
    item_id: str,
    lease: datetime,
    enrollment_id: str | None = None,
    *,
    automatic: bool = False,
) -> ItemOutcome:
    """Charge one leased item: write (or find) its attempt, call the gateway, record the answer.

    ``automatic``: collection chose the item (not the payer), so the dunning
    rule applies (:func:`enrollpay.domain.dunning.charged_automatically`),
    checked again under the lock since the claim.
    """
    prepared = _prepare_attempt(
        ctx, item_id, lease, enrollment_id, checkout_closed=False, automatic=automatic
    )
    if isinstance(prepared, PaymentAttempt):
        # The customer left an on-session checkout open: cancel it at the
        # gateway first (outside any transaction), then prepare again.
        abandoned = _close_abandoned_checkout(ctx, gateway, item_id, lease, prepared)
        if abandoned is not None:
            return abandoned
        prepared = _prepare_attempt(
            ctx, item_id, lease, enrollment_id, checkout_closed=True, automatic=automatic
        )
    if isinstance(prepared, ItemOutcome):
        return prepared
    assert not isinstance(prepared, PaymentAttempt)  # noqa: S101 - checkout_closed=True
    attempt, customer_id = prepared
    return _charge(ctx, gateway, attempt, customer_id)


def _prepare_attempt(
    ctx: Context,
    item_id: str,
    lease: datetime,
    enrollment_id: str | None,
    *,
    checkout_closed: bool,
    automatic: bool,
) -> ItemOutcome | PaymentAttempt | tuple[PaymentAttempt, str]:
    """Write the off-session attempt (or find the one a dead worker left).

    An open on-session checkout is returned as it is (the caller cancels
    it and calls again with ``checkout_closed``): one transaction decides
    the common case, where there is none.
    """
    now = ctx.now()
    with ctx.unit() as tx:
        if enrollment_id is None:
            peek = tx.get_item(item_id)
            if peek is None:
                return ItemOutcome(item_id, "skipped")
            enrollment_id = peek.enrollment_id
        # A claimed item's enrollment is known (it never changes): no read first.
        locked = ctx.lock(tx, enrollment_id)
        item = locked.item(item_id)
        if item.lease_until != lease:
            return ItemOutcome(item_id, "skipped")  # another worker took it over
        attempts = tx.attempts_of(item_id)
        last = attempts[-1] if attempts else None
        if last is not None and is_open_checkout(last):
            if not checkout_closed:
                return last
            # The customer opened a new checkout while we closed the last one.
            tx.update_item(attrs.evolve(item, lease_until=None))
            return ItemOutcome(item_id, "skipped", last.id)
        enrollment = locked.enrollment
        if (
            not charged_automatically(enrollment.status, item, locked.items)
            if automatic
            else enrollment.status in (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED)
        ) or enrollment.gateway_subscription_id is not None:  # the gateway bills it
            tx.update_item(attrs.evolve(item, lease_until=None))
            return ItemOutcome(item_id, "skipped")
        customer = customer_for(tx, enrollment.user_id, item)
        if last is not None and last.status in _SETTLED_ELSEWHERE:
            # Reconcile decides an unknown outcome; a processing debit settles first.
            tx.update_item(attrs.evolve(item, lease_until=None))
            return ItemOutcome(item_id, _SETTLED_ELSEWHERE[last.status], last.id)
        if last is not None and last.status == AttemptStatus.PENDING:
            attempt = last  # a worker died after writing it: same key, no new charge
        else:
            if customer is None or not customer.payment_method_id:
                ctx.save_item(tx, transitions.no_card(item, at=now))
                ctx.audit(
                    tx,
                    actor="system",
                    action="payment.requires_payment_method",
                    entity_type="schedule_item",
                    entity_id=item_id,
                    data={"reason": "no saved payment method"},
                )
                ctx.refresh_enrollment(tx, enrollment.id)
                return ItemOutcome(item_id, "requires_payment_method")
            method = customer.payment_method_id
            reattempt = is_reattempt(attempts, method)
            if reattempt:
                held = hold_capped_retry(
                    ctx, tx, item, attempts,
                    user_id=enrollment.user_id, payment_method_id=method, automatic=automatic,
                )  # fmt: skip
                if held is not None:
                    return held  # past the card network's retry cap: nothing is sent
            number = len(attempts) + 1
            attempt = new_attempt(
                ctx, item, number=number, mode="off_session",
                payment_method_id=method, reattempt=reattempt,
            )  # fmt: skip
            tx.add_attempt(attempt)
            ctx.save_item(tx, transitions.start_processing(item, at=now))
            ctx.audit(
                tx,
                actor="system",
                action="attempt.created",
                entity_type="schedule_item",
                entity_id=item_id,
                data={"attempt_id": attempt.id, "number": number, "amount": attempt.amount},
            )
        assert customer is not None  # noqa: S101 - an off-session attempt implies one
        return attempt, customer.gateway_customer_id


def _charge(
    ctx: Context, gateway: Gateway, attempt: PaymentAttempt, customer_id: str
) -> ItemOutcome:
    """Send a written attempt to the gateway and record its answer."""
    item_id = attempt.item_id
    # The attempt and its key are committed: whatever happens next, a
    # retry of this call reuses the key and cannot charge twice.
    ctx.checkpoint("after_attempt_written")
    invoices = invoicing.invoicer(ctx, gateway)
    invoice: InvoiceCharge | None = None
    try:
        if invoices is not None:  # installment_collection="invoice"
            invoice = invoicing.charge_invoice(ctx, invoices, attempt, customer_id)
            result = invoice.result
        else:
            result = gateway.charge_off_session(
                customer_id=customer_id,
                payment_method_id=attempt.payment_method_id or "",
                amount=attempt.amount,
                idempotency_key=attempt.idempotency_key,
                metadata={
                    "enrollment_id": attempt.enrollment_id,
                    "item_id": item_id,
                    "attempt_id": attempt.id,
                },
            )
    except GatewayUnavailableError as exc:
        _mark_unknown(ctx, attempt.id, str(exc))
        return ItemOutcome(item_id, "unknown", attempt.id)
    except GatewayRequestError as exc:
        with ctx.unit() as tx:
            applied = _refuse_attempt(ctx, tx, attempt.id, exc)
        return ItemOutcome(item_id, applied, attempt.id)
    ctx.checkpoint("after_gateway_answered")
    if result.status == "processing":
        # Off-session, no customer is to act: the gateway settles it later (a
        # bank debit). Recorded so below; the webhook or reconcile() tells the outcome.
        result = attrs.evolve(result, settles_later=True)
    with ctx.unit() as tx:
        # Lock the enrollment from what we know of the attempt; settlement
        # then finds its records held instead of reading them first.
        ctx.lock(tx, attempt.enrollment_id)
        if invoice is not None:
            invoicing.link_invoice(ctx, tx, attempt.id, invoice_id=invoice.invoice_id,
                                   payment_intent_id=invoice.payment_intent_id,
                                   hosted_invoice_url=invoice.hosted_invoice_url)  # fmt: skip
        applied_result = apply_charge_result(ctx, tx, attempt.id, result)
        fresh = tx.get_item(item_id)
        assert fresh is not None  # noqa: S101
        if applied_result is None:
            # A webhook settled it first; report the state it left behind.
            applied_result = _RESULT_OF_STATUS.get(fresh.status, "processing")
            if fresh.lease_until is not None:
                tx.update_item(attrs.evolve(fresh, lease_until=None))
        ctx.at_end(tx, partial(ctx.checkpoint, "before_commit"))  # after the held writes
    ctx.checkpoint("after_commit")
    return ItemOutcome(item_id, applied_result, attempt.id, result.decline_code)


def _close_abandoned_checkout(
    ctx: Context, gateway: Gateway, item_id: str, lease: datetime, last: PaymentAttempt
) -> ItemOutcome | None:
    """Cancel the on-session payment ``last`` the customer left, before charging off-session.

    ``None`` means: carry on collecting. A payment the customer completed
    meanwhile is recorded instead, and a gateway that cannot be reached
    postpones the item to a later run.
    """
    if last.gateway_payment_id is not None:
        try:
            state = gateway.cancel_payment(
                gateway_payment_id=last.gateway_payment_id,
                idempotency_key=f"cancel:{last.id}",
            )
        except GatewayUnavailableError:
            return _postpone(ctx, item_id, lease, last.id)
        except GatewayRequestError:
            state = None
        if state is None or state.status != "canceled":
            try:
                state = gateway.payment_status(
                    gateway_payment_id=last.gateway_payment_id,
                    idempotency_key=last.idempotency_key,
                    amount=last.amount,
                )
            except GatewayUnavailableError:
                return _postpone(ctx, item_id, lease, last.id)
        if state is not None and state.status == "succeeded":
            with ctx.unit() as tx:
                apply_charge_result(ctx, tx, last.id, state)
            return ItemOutcome(item_id, "succeeded", last.id)
        if state is not None and state.status not in ("canceled", "failed"):
            return _postpone(ctx, item_id, lease, last.id)
    with ctx.unit() as tx:
        current = tx.get_attempt(last.id)
        assert current is not None  # noqa: S101
        # A declined checkout is FAILED already, yet still payable until now:
        # mark it cancelled too, so that its late events cannot revive it.
        mark_checkout_cancelled(ctx, tx, current, "checkout abandoned; payment canceled")
        ctx.audit(
            tx,
            actor="system",
            action="payment.checkout_abandoned",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"attempt_id": last.id, "gateway_payment_id": last.gateway_payment_id},
        )
    return None


def _postpone(ctx: Context, item_id: str, lease: datetime, attempt_id: str) -> ItemOutcome:
    """Keep the item leased for another lease period (not retried in this run)."""
    with ctx.unit() as tx:
        item = ctx.lock_item(tx, item_id)
        if item is not None and item.lease_until == lease:
            tx.update_item(attrs.evolve(item, lease_until=ctx.now() + ctx.config.lease))
    return ItemOutcome(item_id, "skipped", attempt_id)


def _mark_unknown(
    ctx: Context, attempt_id: str, message: str, gateway_payment_id: str | None = None
) -> None:
    with ctx.unit() as tx:
        attempt = ctx.lock_attempt(tx, attempt_id)
        if attempt.status != AttemptStatus.PENDING:
            return
        tx.update_attempt(
            transitions.lose_track(
                attempt, message=message, gateway_payment_id=gateway_payment_id, at=ctx.now()
            )
        )
        item = ctx.lock_item(tx, attempt.item_id)
        assert item is not None  # noqa: S101
        tx.update_item(attrs.evolve(item, lease_until=None))
        ctx.audit(
            tx,
            actor="system",
            action="attempt.unknown",
            entity_type="schedule_item",
            entity_id=attempt.item_id,
            data={"attempt_id": attempt_id, "message": message},
        )


def _refuse_attempt(
    ctx: Context, tx: StoreTransaction, attempt_id: str, exc: GatewayRequestError
) -> ItemResult:
    """The gateway refused the request itself (bad method, bad config).

    Retrying the same request cannot help, so the item waits for a new
    payment method and the error is kept on the attempt for the admin.
    """
    attempt = ctx.lock_attempt(tx, attempt_id)
    now = ctx.now()
    tx.update_attempt(transitions.decline_attempt(attempt, message=str(exc), at=now))
    item = ctx.lock_item(tx, attempt.item_id)
    assert item is not None  # noqa: S101
    ctx.save_item(tx, transitions.no_card(item, at=now, reason="the gateway refused the request"))
    ctx.audit(
        tx,
        actor="system",
        action="payment.request_refused",
        entity_type="schedule_item",
        entity_id=item.id,
        data={"attempt_id": attempt_id, "param": exc.param, "message": str(exc)},
    )
    ctx.refresh_enrollment(tx, attempt.enrollment_id)
    return "requires_payment_method"
