"""Payments that settle later (bank debits): recording ``processing``, and their windows.

A SEPA, ACH or Bacs debit is accepted by the gateway at once and clears or
fails days later. Its attempt is ``processing`` meanwhile (``payment.processing``):
its item stays ``processing`` with no lease, so collection neither claims
nor retries it, a checkout refuses to open a second payment for it, and the
sweep never counts it overdue. The student keeps the access they have,
unless ``SystemConfig.debit_access`` is ``"suspend"``. The outcome arrives
by webhook or by ``reconcile`` through :mod:`enrollpay.service.settlement`,
as any other: a late failure is a decline, and the retry policy's dunning
cycle starts from it.
"""

from __future__ import annotations

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import TERMINAL_ITEM_STATUSES, AttemptStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = ["apply_processing", "past_window"]


def apply_processing(
    ctx: Context,
    tx: StoreTransaction,
    attempt_id: str,
    *,
    gateway_payment_id: str | None,
    method_type: str | None,
    actor: str = "gateway",
) -> bool:
    """Record that the gateway accepted the payment and settles it later; False if stale.

    Stale: the attempt is processing already, or settled (a late
    ``payment_intent.processing`` after its outcome changes nothing). A
    failed attempt moves only when it is a checkout the customer may still
    pay (declined first, then paid by debit on the same payment).
    """
    attempt = ctx.lock_attempt(tx, attempt_id)
    if not transitions.ATTEMPT.allows("await_settlement", attempt.status) or (
        attempt.status == AttemptStatus.FAILED and attempt.mode != "on_session"
    ):
        return False
    now = ctx.now()
    change = transitions.await_settlement(
        attempt, gateway_payment_id=gateway_payment_id, method_type=method_type, at=now
    )
    tx.update_attempt(change.record)
    ctx.emit(tx, change.events)
    item = tx.get_item(attempt.item_id)
    assert item is not None  # noqa: S101 - attempts always belong to an item
    if item.status not in TERMINAL_ITEM_STATUSES:
        if item.status != ItemStatus.PROCESSING:
            # A checkout declined first, then paid by debit on the same payment.
            item = ctx.save_item(tx, transitions.start_processing(item, at=now))
        # No lease: nobody may claim it (to retry it, or to close its checkout)
        # until the debit settles.
        tx.update_item(attrs.evolve(item, lease_until=None))
    ctx.audit(
        tx,
        actor=actor,
        action="payment.processing",
        entity_type="schedule_item",
        entity_id=attempt.item_id,
        data={
            "attempt_id": attempt.id,
            "gateway_payment_id": change.record.gateway_payment_id,
            "method_type": method_type,
        },
    )
    ctx.refresh_enrollment(tx, attempt.enrollment_id, actor=actor)
    return True


def past_window(ctx: Context, attempt: PaymentAttempt, method_type: str | None) -> bool:
    """Whether a processing ``attempt`` has outlived its method's settlement window.

    The window counts business days from the day it started processing
    (its ``updated_at``, in the school's time zone) to today.
    """
    since = ctx.today(attempt.updated_at)
    return ctx.config.settlement_windows.overdue(since, ctx.today(), method_type)
