"""One page of the gateway's disputes: look them up, compare them, apply what may be applied.

:func:`settle_disputes` reads what the store holds for every dispute of the
page in one read snapshot (the disputed payments in one query, then the
disputes of their enrollments), compares each
(:func:`~enrollpay.domain.drift.compare_dispute`) and, for a dispute the
store has not recorded or holds at an earlier stage, opens a transaction of
its own, compares again under the enrollment's lock (its webhook may have
come meanwhile) and applies it through the code the webhook runs
(:func:`~enrollpay.service.disputes.apply_dispute_report`): the dispute
recorded or moved on, its events, and access as the dispute policy says.

The listing shows each dispute as it stands when read, so the report it
applies is dated by that reading: a webhook older than the reading that
arrives afterwards is stale, as it would be after any newer report.
"""

from __future__ import annotations

from collections.abc import Sequence

from enrollpay.domain.drift import Drift
from enrollpay.domain.drift_disputes import StoredDispute, compare_dispute
from enrollpay.domain.records import Dispute, Payment
from enrollpay.ports import LedgerDispute, StoreReader
from enrollpay.service.context import Context
from enrollpay.service.disputes import apply_dispute_report
from enrollpay.service.drift_apply import ACTOR, audit_drift, report_drift, settle_page
from enrollpay.service.drift_report import DriftEntry

__all__ = ["settle_disputes"]


def settle_disputes(ctx: Context, page: Sequence[LedgerDispute]) -> list[DriftEntry]:
    """Compare a page of gateway disputes with the store; apply or report each difference."""
    with ctx.store.reader() as view:
        facts = _dispute_facts(view, page)
    return settle_page(
        page,
        lambda seen: facts[seen.dispute_id],
        compare_dispute,
        apply=lambda seen, known, drift: _apply(ctx, seen, _payment_of(known)),
        report=lambda seen, known, drift: _report(ctx, drift, seen, known.payment),
    )


def _payment_of(known: StoredDispute) -> Payment:
    assert known.payment is not None  # noqa: S101 - applicable drift has its payment
    return known.payment


def _dispute_facts(view: StoreReader, page: Sequence[LedgerDispute]) -> dict[str, StoredDispute]:
    """What the store holds for each dispute of the page."""
    pids = {d.gateway_payment_id for d in page if d.gateway_payment_id}
    payments = {p.gateway_payment_id: p for p in view.find_payments(gateway_payment_ids=pids)}
    by_gid: dict[str, Dispute] = {}
    for enrollment_id in sorted({p.enrollment_id for p in payments.values()}):
        by_gid.update((d.gateway_dispute_id, d) for d in view.disputes_of(enrollment_id))
    unrecorded = pids - payments.keys()
    ours = (
        {a.gateway_payment_id for a in view.find_attempts(gateway_payment_ids=unrecorded)}
        if unrecorded
        else set()
    )
    facts = {}
    for seen in page:
        gid = seen.gateway_payment_id
        facts[seen.dispute_id] = StoredDispute(
            payment=None if gid is None else payments.get(gid),
            dispute=by_gid.get(seen.dispute_id),
            attempt_known=gid is not None and gid in ours,
        )
    return facts


def _apply(ctx: Context, seen: LedgerDispute, payment: Payment) -> DriftEntry | None:
    """Record the dispute or move it on, as its webhook would have; compared again first."""
    with ctx.unit() as tx:
        ctx.lock(tx, payment.enrollment_id)
        known = StoredDispute(
            payment=payment, dispute=tx.find_dispute_by_gateway_id(seen.dispute_id)
        )
        drift = compare_dispute(seen, known)
        if drift is None:
            return None  # the webhook got here first
        if drift.applicable:
            apply_dispute_report(ctx, tx, seen.report, reported_at=ctx.now(), actor=ACTOR)
            audit_drift(ctx, tx, "drift.applied", seen.dispute_id, drift)
            enrollment = tx.get_enrollment(payment.enrollment_id)
            assert enrollment is not None  # noqa: S101 - payments belong to enrollments
            change = f"dispute {seen.status}: enrollment {enrollment.status}"
    if not drift.applicable:  # it changed into something for a person meanwhile
        return _report(ctx, drift, seen, payment)
    return DriftEntry(
        "dispute",
        seen.dispute_id,
        drift.kind,
        seen.amount,
        drift.detail,
        applied=True,
        change=change,
        enrollment_id=payment.enrollment_id,
    )


def _report(ctx: Context, drift: Drift, seen: LedgerDispute, payment: Payment | None) -> DriftEntry:
    return report_drift(
        ctx,
        drift,
        object_kind="dispute",
        gid=seen.dispute_id,
        amount=seen.amount,
        enrollment=None if payment is None else payment.enrollment_id,
    )
