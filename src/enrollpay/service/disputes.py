"""Disputes (chargebacks) reported by the gateway: the record, the money, the access.

Every ``charge.dispute.*`` webhook carries the whole dispute as it stands,
so each one is applied the same way, in whatever order they come: the
dispute is found by the gateway's id (made, with ``payment.disputed``, the
first time any of its events arrives), moved forward to the stage the
report names (:func:`~enrollpay.domain.transitions.report_dispute`; an
older report is stale), and the enrollment's access follows the system's
:class:`~enrollpay.domain.disputes.DisputePolicy`. What the disputes
withhold is taken out of what counts as paid (:mod:`enrollpay.domain.disputes`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from enrollpay.domain import transitions
from enrollpay.domain.records import Dispute, Payment
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.ports import GatewayDispute, GatewayEvent, StoreTransaction
from enrollpay.service.context import Context
from enrollpay.service.lookups import payment_not_yet_recorded
from enrollpay.service.results import WebhookResult

__all__ = ["apply_dispute_event", "apply_dispute_report", "hold_for_disputes"]

logger = logging.getLogger(__name__)


def apply_dispute_event(
    ctx: Context, tx: StoreTransaction, event: GatewayEvent
) -> tuple[WebhookResult, str]:
    """Apply one dispute webhook; ``stale`` when it tells nothing new."""
    report = event.dispute
    assert report is not None  # noqa: S101 - the parser sets it for dispute events
    return apply_dispute_report(ctx, tx, report, reported_at=event.created, actor="gateway")


def apply_dispute_report(
    ctx: Context,
    tx: StoreTransaction,
    report: GatewayDispute,
    *,
    reported_at: datetime,
    actor: str,
) -> tuple[WebhookResult, str]:
    """Apply what the gateway reports of a dispute, dated ``reported_at``; audited as ``actor``.

    A webhook's report is dated by its event; drift re-sync's, read from the
    gateway's listing, by when it was read.
    """
    payment = (
        None
        if report.gateway_payment_id is None
        else tx.find_payment_by_gateway_id(report.gateway_payment_id)
    )
    if payment is None:
        if payment_not_yet_recorded(tx, report.gateway_payment_id):
            return "deferred", "dispute of a payment whose success has not arrived yet"
        return "ignored", "dispute of a payment we did not record"
    if report.amount.currency != payment.amount.currency:
        return (
            "ignored",
            f"dispute in {report.amount.currency}, payment in {payment.amount.currency}",
        )
    if report.status is None:
        return "ignored", f"dispute status {report.gateway_status!r} is not one we know"
    ctx.lock(tx, payment.enrollment_id)
    known = tx.find_dispute_by_gateway_id(report.dispute_id)
    if known is not None and known.payment_id != payment.id:
        return "ignored", "the dispute names another payment than the one it was recorded for"
    now = ctx.now()
    if known is None:
        dispute = _open(ctx, tx, payment, report, status=report.status, reported_at=reported_at)
        action = "dispute.opened"
    else:
        change = transitions.report_dispute(
            known,
            status=report.status,
            gateway_status=report.gateway_status,
            reported_at=reported_at,
            at=now,
            reason=report.reason,
            evidence_due_by=report.evidence_due_by,
        )
        if change.record is known:
            return "stale", f"dispute already {known.status}"
        dispute = change.record
        tx.update_dispute(dispute)
        ctx.emit(tx, change.events)
        action = (
            "dispute.updated" if dispute.status == known.status else f"dispute.{dispute.status}"
        )
    ctx.audit(
        tx,
        actor=actor,
        action=action,
        entity_type="dispute",
        entity_id=dispute.id,
        data=_audit_data(dispute),
    )
    hold_for_disputes(ctx, tx, payment.enrollment_id)
    logger.info("dispute %s of payment %s: %s", dispute.id, payment.id, dispute.status)
    return "processed", f"dispute {dispute.status}"


def _open(
    ctx: Context,
    tx: StoreTransaction,
    payment: Payment,
    report: GatewayDispute,
    *,
    status: DisputeStatus,
    reported_at: datetime,
) -> Dispute:
    change = transitions.open_dispute(
        dispute_id=ctx.new_id("dsp"),
        payment_id=payment.id,
        enrollment_id=payment.enrollment_id,
        gateway_dispute_id=report.dispute_id,
        amount=report.amount,
        status=status,
        gateway_status=report.gateway_status,
        reported_at=reported_at,
        at=ctx.now(),
        reason=report.reason,
        evidence_due_by=report.evidence_due_by,
    )
    tx.add_dispute(change.record)
    ctx.emit(tx, change.events)
    return change.record


def _audit_data(dispute: Dispute) -> dict[str, object]:
    return {
        "payment_id": dispute.payment_id,
        "gateway_dispute_id": dispute.gateway_dispute_id,
        "amount": dispute.amount,
        "status": dispute.status,
        "gateway_status": dispute.gateway_status,
        "evidence_due_by": dispute.evidence_due_by,
    }


def hold_for_disputes(ctx: Context, tx: StoreTransaction, enrollment_id: str) -> None:
    """Set whether the enrollment's disputes withhold access (the policy), and its status.

    ``access.suspended`` when a dispute starts withholding it,
    ``access.restored`` when the last one stops (won, say) and nothing
    else withholds it.
    """
    locked = ctx.lock(tx, enrollment_id)
    enrollment = locked.enrollment
    policy = ctx.config.dispute_policy
    held = policy.holds_any(d.status for d in tx.disputes_of(enrollment_id))
    at = ctx.now()
    change = transitions.hold_for_dispute(
        enrollment,
        locked.items,
        held=held,
        today=ctx.today(at),
        at=at,
        past_due_access=ctx.config.past_due_access,
        access=ctx.config.access_policy,
    )
    if change.record is enrollment:
        return
    updated = ctx.save_enrollment(tx, change)
    ctx.audit(
        tx,
        actor="gateway",
        action="enrollment.dispute_hold",
        entity_type="enrollment",
        entity_id=enrollment_id,
        data={"held": held, "from": enrollment.status, "to": updated.status},
    )
