"""Reconciliation: settle unknown outcomes, finish pending refunds, re-sync drift.

The last step walks the gateway's own record and sets right what differs
(:mod:`enrollpay.service.resync`). A payment still processing (a bank
debit clearing) is no failure while younger than its method's settlement
window; past it, it is listed for a person (``settlement_overdue``).
"""

from __future__ import annotations

import logging
from datetime import datetime

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.drift import DriftKind
from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.records import PaymentAttempt
from enrollpay.errors import GatewayUnavailableError
from enrollpay.ports import ChargeResult, StoreTransaction
from enrollpay.service.attempts import mark_checkout_cancelled
from enrollpay.service.context import Context
from enrollpay.service.debits import past_window
from enrollpay.service.drift_report import DriftEntry
from enrollpay.service.refunds import finish_pending_refunds
from enrollpay.service.results import ReconcileReport
from enrollpay.service.resync import resync
from enrollpay.service.settlement import apply_charge_result

__all__ = ["reconcile"]

logger = logging.getLogger(__name__)

#: Attempt statuses reconcile looks at (failed ones: open on-session checkouts only).
_STILL_OPEN = frozenset(
    {
        AttemptStatus.UNKNOWN,
        AttemptStatus.PENDING,
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.FAILED,
        AttemptStatus.PROCESSING,
    }
)
_WAITING = (AttemptStatus.UNKNOWN, AttemptStatus.PROCESSING)


def reconcile(ctx: Context) -> ReconcileReport:
    """Resolve unknown outcomes, finish pending refunds, then re-sync the gateway's record."""
    gateway = ctx.require_gateway()
    now = ctx.now()
    checked = resolved = resent = still_unknown = settling = 0
    overdue: list[DriftEntry] = []
    with ctx.store.reader() as view:
        attempts = [
            a
            for a in view.list_attempts(statuses=_STILL_OPEN)
            if a.status != AttemptStatus.FAILED
            or (a.mode == "on_session" and a.gateway_payment_id is not None)
        ]
    for attempt in attempts:
        if attempt.status == AttemptStatus.PENDING:
            with ctx.unit() as tx:
                item = tx.get_item(attempt.item_id)
            if attempt.mode == "off_session" and (
                item is None or item.lease_until is None or item.lease_until > now
            ):
                continue  # a worker holds it (or will resend it): not ours to touch
        checked += 1
        try:
            result = gateway.payment_status(
                gateway_payment_id=attempt.gateway_payment_id,
                idempotency_key=attempt.idempotency_key,
                amount=attempt.amount,
            )
        except GatewayUnavailableError:
            still_unknown += attempt.status in _WAITING
            continue
        if result is not None and result.status == "processing":
            known, young, late = _processing(ctx, attempt, result)
            resolved, settling = resolved + known, settling + young
            overdue.extend(late)
            continue
        with ctx.unit() as tx:
            if result is None:
                if attempt.mode == "off_session" and attempt.status == AttemptStatus.UNKNOWN:
                    resent += _resend_later(ctx, tx, attempt, now)
                continue
            if apply_charge_result(ctx, tx, attempt.id, result) is not None:
                resolved += 1
            elif result.status == "canceled":
                # A declined checkout cancelled at the gateway: stop looking at it.
                current = ctx.lock_attempt(tx, attempt.id)
                if not mark_checkout_cancelled(
                    ctx, tx, current, "the payment was canceled at the gateway"
                ):
                    continue
                ctx.audit(
                    tx,
                    actor="gateway",
                    action="payment.checkout_canceled",
                    entity_type="schedule_item",
                    entity_id=attempt.item_id,
                    data={"attempt_id": attempt.id},
                )
    done, failed = finish_pending_refunds(ctx, gateway)
    drift = resync(ctx, gateway)
    drift = attrs.evolve(drift, entries=(*drift.entries, *overdue))
    report = ReconcileReport(
        checked, resolved, resent, still_unknown, done, failed, drift, settling=settling
    )
    logger.info("reconcile: %s", report.summary())
    return report


def _resend_later(
    ctx: Context, tx: StoreTransaction, attempt: PaymentAttempt, now: datetime
) -> bool:
    """The gateway never saw the attempt: make it collectible again, same key."""
    attempt = ctx.lock_attempt(tx, attempt.id)
    if attempt.status != AttemptStatus.UNKNOWN:
        return False  # someone resolved it meanwhile
    tx.update_attempt(transitions.resend_attempt(attempt, at=now))
    item = ctx.lock_item(tx, attempt.item_id)
    assert item is not None  # noqa: S101
    # An expired lease on a processing item is what claim_due picks up.
    tx.update_item(attrs.evolve(item, lease_until=now))
    ctx.audit(
        tx,
        actor="system",
        action="attempt.not_at_gateway",
        entity_type="schedule_item",
        entity_id=item.id,
        data={"attempt_id": attempt.id},
    )
    return True


def _processing(
    ctx: Context, attempt: PaymentAttempt, result: ChargeResult
) -> tuple[int, int, tuple[DriftEntry, ...]]:
    """A payment the gateway says is processing: (resolved, settling, entries for a person).

    An unknown outcome becomes ``processing`` (resolved); a processing
    debit within its window is settling, one past it is listed, never guessed.
    Off-session no customer is to act, so processing means settling later,
    whatever the gateway's flag; on-session it may be a checkout still open.
    """
    if attempt.mode == "off_session":
        result = attrs.evolve(result, settles_later=True)
    with ctx.unit() as tx:
        resolved = int(apply_charge_result(ctx, tx, attempt.id, result) is not None)
        current = ctx.lock_attempt(tx, attempt.id)
    if current.status != AttemptStatus.PROCESSING:
        return resolved, 0, ()  # an on-session payment not confirmed yet
    if past_window(ctx, current, result.payment_method_type):
        return resolved, 0, (_overdue_entry(ctx, current, result.payment_method_type),)
    return resolved, 1, ()


def _overdue_entry(ctx: Context, attempt: PaymentAttempt, method_type: str | None) -> DriftEntry:
    """A debit still processing past its window: listed for a person, nothing changed."""
    windows = ctx.config.settlement_windows
    since = ctx.today(attempt.updated_at)
    days = windows.for_method(method_type)
    return DriftEntry(
        object_kind="payment",
        gateway_id=attempt.gateway_payment_id or attempt.idempotency_key,
        kind=DriftKind.SETTLEMENT_OVERDUE,
        amount=attempt.amount,
        detail=(
            f"attempt {attempt.id} ({method_type or 'unknown method type'}) is processing since "
            f"{since.isoformat()}, past its window of {days} business day(s) "
            f"(until {windows.deadline(since, method_type).isoformat()}); ask the gateway or bank"
        ),
        applied=False,
        enrollment_id=attempt.enrollment_id,
    )
