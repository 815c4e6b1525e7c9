"""One page of the gateway's record: look it up, compare it, apply what may be applied.

For a page of payments or refunds, :func:`settle_payments` and
:func:`settle_refunds` read every record the page may match in one read
snapshot, compare each object (:mod:`enrollpay.domain.drift`) and then,
for each applicable difference, open a transaction of its own, lock the
enrollment, compare again with what is there now (a webhook may have come
meanwhile) and apply it through the code the lost webhook would have run:
:func:`~enrollpay.service.settlement.apply_success` for a payment,
:func:`~enrollpay.service.outside_refunds.record_outside_refund` and
:func:`~enrollpay.service.refunds.record_refund_outcome` for refunds.

A difference that needs a person is written to the audit trail
(``drift.reported``, once per object and kind) so it is not lost with the
run's output; an applied one is audited as ``drift.applied``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Final, Literal, TypeVar

from enrollpay.domain.drift import (
    Drift,
    StoredPayment,
    StoredRefund,
    compare_payment,
    compare_refund,
)
from enrollpay.domain.drift import DriftKind as K
from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.ports import LedgerPayment, LedgerRefund, StoreReader, StoreTransaction
from enrollpay.service.context import Context
from enrollpay.service.drift_report import DriftEntry
from enrollpay.service.outside_refunds import record_outside_refund
from enrollpay.service.payers import customer_of_attempt
from enrollpay.service.refunds import record_refund_outcome
from enrollpay.service.settlement import apply_success

__all__ = [
    "ACTOR",
    "audit_drift",
    "report_drift",
    "settle_page",
    "settle_payments",
    "settle_refunds",
]

Seen = TypeVar("Seen")
Known = TypeVar("Known")

#: Who the audit trail says made the changes drift re-sync applies.
ACTOR: Final = "reconcile"


# -- a page ----------------------------------------------------------------------------


def settle_page(
    page: Sequence[Seen],
    known_of: Callable[[Seen], Known],
    compare: Callable[[Seen, Known], Drift | None],
    *,
    apply: Callable[[Seen, Known, Drift], DriftEntry | None],
    report: Callable[[Seen, Known, Drift], DriftEntry],
) -> list[DriftEntry]:
    """Compare each object of a page with what the store holds; apply or report what differs.

    ``apply`` returns None when the difference was gone by the time it held
    the lock (a webhook came meanwhile); such objects are left off the list.
    """
    entries = []
    for seen in page:
        known = known_of(seen)
        drift = compare(seen, known)
        if drift is None:
            continue
        entry = apply(seen, known, drift) if drift.applicable else report(seen, known, drift)
        if entry is not None:
            entries.append(entry)
    return entries


# -- payments --------------------------------------------------------------------------


def settle_payments(ctx: Context, page: Sequence[LedgerPayment]) -> list[DriftEntry]:
    """Compare a page of gateway payments with the store; apply or report each difference."""
    with ctx.store.reader() as view:
        facts = _payment_facts(view, page)
    return settle_page(
        page,
        lambda seen: facts[seen.gateway_payment_id],
        compare_payment,
        apply=lambda seen, known, drift: _apply_payment(ctx, seen, drift),
        report=lambda seen, known, drift: report_drift(
            ctx,
            drift,
            object_kind="payment",
            gid=seen.gateway_payment_id,
            amount=seen.amount,
            enrollment=_enrollment_of_payment(seen, known),
        ),
    )


def _payment_facts(view: StoreReader, page: Sequence[LedgerPayment]) -> dict[str, StoredPayment]:
    """What the store holds for each payment of the page, in at most three queries.

    A payment recorded in the store decides alone (see
    :func:`~enrollpay.domain.drift.compare_payment`), and one the gateway
    did not take needs nothing more; so attempts are looked up only for
    taken payments the store has not recorded (none, on a page in sync).
    """
    payments = {
        p.gateway_payment_id: p
        for p in view.find_payments(gateway_payment_ids=[p.gateway_payment_id for p in page])
    }
    open_ = [
        seen
        for seen in page
        if seen.status == "succeeded" and seen.gateway_payment_id not in payments
    ]
    attempts = (
        {
            a.gateway_payment_id: a
            for a in view.find_attempts(gateway_payment_ids=[s.gateway_payment_id for s in open_])
        }
        if open_
        else {}
    )
    wanted = {
        name
        for seen in open_
        if seen.gateway_payment_id not in attempts and (name := seen.metadata.get("attempt_id"))
    }
    named = {a.id: a for a in view.find_attempts(ids=wanted)} if wanted else {}
    facts = {}
    for seen in page:
        gid = seen.gateway_payment_id
        attempt = attempts.get(gid)
        by_name = None
        if gid not in payments and attempt is None:
            by_name = named.get(seen.metadata.get("attempt_id") or "")
        facts[gid] = StoredPayment(
            attempt=attempt,
            payment=payments.get(gid),
            named=by_name,
            named_customer=None if by_name is None else _customer_of(view, by_name),
        )
    return facts


def _customer_of(view: StoreReader, attempt: PaymentAttempt) -> str | None:
    """The gateway customer who pays this attempt's item (its payer's, or the student's)."""
    customer = customer_of_attempt(view, attempt)
    return None if customer is None else customer.gateway_customer_id


def _enrollment_of_payment(seen: LedgerPayment, known: StoredPayment) -> str | None:
    for record in (known.payment, known.attempt, known.named):
        if record is not None:
            return record.enrollment_id
    return seen.metadata.get("enrollment_id")


def _apply_payment(ctx: Context, seen: LedgerPayment, drift: Drift) -> DriftEntry | None:
    """Record the payment as ``payment_intent.succeeded`` would have; None if done meanwhile."""
    assert drift.target is not None  # noqa: S101 - payment_missing names its attempt
    gid = seen.gateway_payment_id
    with ctx.unit() as tx:
        attempt = ctx.lock_attempt(tx, drift.target)
        if not apply_success(
            ctx,
            tx,
            attempt.id,
            gateway_payment_id=gid,
            amount=seen.amount,
            payment_method_id=seen.payment_method_id,
            actor=ACTOR,
        ):
            return None  # a webhook or a worker recorded it since the look-up: in sync now
        item = tx.get_item(attempt.item_id)
        enrollment = tx.get_enrollment(attempt.enrollment_id)
        assert item is not None  # noqa: S101 - attempts belong to items
        assert enrollment is not None  # noqa: S101
        audit_drift(ctx, tx, "drift.applied", gid, drift)
        change = f"payment recorded: item {item.status}, enrollment {enrollment.status}"
    return DriftEntry(
        "payment",
        gid,
        drift.kind,
        seen.amount,
        drift.detail,
        applied=True,
        change=change,
        enrollment_id=enrollment.id,
    )


# -- refunds ---------------------------------------------------------------------------


def settle_refunds(ctx: Context, page: Sequence[LedgerRefund]) -> list[DriftEntry]:
    """Compare a page of gateway refunds with the store; apply or report each difference."""
    with ctx.store.reader() as view:
        facts = _refund_facts(view, page)
    return settle_page(
        page,
        lambda seen: facts[seen.gateway_refund_id],
        compare_refund,
        apply=lambda seen, known, drift: _apply_refund(ctx, seen),
        report=lambda seen, known, drift: report_drift(
            ctx,
            drift,
            object_kind="refund",
            gid=seen.gateway_refund_id,
            amount=seen.amount,
            enrollment=_enrollment_of_refund(known),
        ),
    )


def _refund_facts(view: StoreReader, page: Sequence[LedgerRefund]) -> dict[str, StoredRefund]:
    pids = {r.gateway_payment_id for r in page if r.gateway_payment_id}
    payments = {p.gateway_payment_id: p for p in view.find_payments(gateway_payment_ids=pids)}
    refunds = view.find_refunds(
        ids=[r.reference for r in page if r.reference],
        gateway_refund_ids=[r.gateway_refund_id for r in page],
        payment_ids=[p.id for p in payments.values()],
    )
    by_gid = {r.gateway_refund_id: r for r in refunds if r.gateway_refund_id}
    by_id = {r.id: r for r in refunds}
    of_payment: dict[str, list[Refund]] = defaultdict(list)
    for one in sorted(refunds, key=lambda r: (r.created_at, r.id)):
        of_payment[one.payment_id].append(one)
    unrecorded = pids - payments.keys()
    ours = (
        {a.gateway_payment_id for a in view.find_attempts(gateway_payment_ids=unrecorded)}
        if unrecorded
        else set()
    )
    facts = {}
    for seen in page:
        payment = None if seen.gateway_payment_id is None else payments.get(seen.gateway_payment_id)
        refund = by_gid.get(seen.gateway_refund_id)
        facts[seen.gateway_refund_id] = StoredRefund(
            refund=refund,
            named=by_id.get(seen.reference) if refund is None and seen.reference else None,
            payment=payment,
            payment_refunds=() if payment is None else tuple(of_payment[payment.id]),
            attempt_known=seen.gateway_payment_id in ours,
        )
    return facts


def _refund_facts_in(tx: StoreTransaction, seen: LedgerRefund, payment: Payment) -> StoredRefund:
    """What the store holds for ``seen`` now, in the transaction that holds the lock."""
    refund = tx.find_refund_by_gateway_id(seen.gateway_refund_id)
    named = tx.get_refund(seen.reference) if refund is None and seen.reference else None
    mine = tuple(r for r in tx.refunds_of(payment.enrollment_id) if r.payment_id == payment.id)
    return StoredRefund(refund=refund, named=named, payment=payment, payment_refunds=mine)


def _enrollment_of_refund(known: StoredRefund) -> str | None:
    for record in (known.payment, known.refund, known.named):
        if record is not None:
            return record.enrollment_id
    return None


def _apply_refund(ctx: Context, seen: LedgerRefund) -> DriftEntry | None:
    """Record or settle the refund as the refund webhook would have; compared again first."""
    gid = seen.gateway_refund_id
    with ctx.unit() as tx:
        # Applicable refund drift always has the refund's payment recorded.
        payment = tx.find_payment_by_gateway_id(seen.gateway_payment_id or "")
        assert payment is not None  # noqa: S101
        ctx.lock(tx, payment.enrollment_id)
        drift = compare_refund(seen, _refund_facts_in(tx, seen, payment))
        if drift is None:
            return None  # the webhook got here first
        if drift.applicable:
            change = _apply_refund_drift(ctx, tx, seen, payment, drift)
            audit_drift(ctx, tx, "drift.applied", gid, drift)
    if not drift.applicable:  # it changed into something for a person meanwhile
        return report_drift(
            ctx,
            drift,
            object_kind="refund",
            gid=gid,
            amount=seen.amount,
            enrollment=payment.enrollment_id,
        )
    return DriftEntry(
        "refund",
        gid,
        drift.kind,
        seen.amount,
        drift.detail,
        applied=True,
        change=change,
        enrollment_id=payment.enrollment_id,
    )


def _apply_refund_drift(
    ctx: Context, tx: StoreTransaction, seen: LedgerRefund, payment: Payment, drift: Drift
) -> str:
    """Apply ``refund_missing`` or ``refund_settled``; say what changed."""
    gid = seen.gateway_refund_id
    if drift.kind == K.REFUND_MISSING:
        # compare_refund never calls a failed refund missing: it gave nothing back.
        status: Literal["succeeded", "pending"] = (
            "pending" if seen.status == "pending" else "succeeded"
        )
        refund, ended = record_outside_refund(
            ctx, tx, payment, gateway_refund_id=gid, amount=seen.amount, status=status, actor=ACTOR
        )
        change = f"refund {refund.id} recorded ({refund.status})"
        if ended is not None:
            change += "; enrollment cancelled: everything paid was refunded"
        return change
    assert drift.target is not None  # noqa: S101 - refund_settled names the refund
    current = tx.get_refund(drift.target)
    assert current is not None  # noqa: S101
    record_refund_outcome(ctx, tx, current, status=seen.status, gateway_refund_id=gid)
    return f"refund {current.id} {seen.status}"


# -- reporting ---------------------------------------------------------------------------


def report_drift(
    ctx: Context,
    drift: Drift,
    *,
    object_kind: str,
    gid: str,
    amount: Money,
    enrollment: str | None,
) -> DriftEntry:
    """A difference for a person: audited once per object and kind, and listed."""
    with ctx.store.reader() as view:
        # The entries of one gateway object: a few at most.
        seen_before = any(
            e.action == "drift.reported" and e.data.get("kind") == drift.kind
            for e in view.list_audit(entity_type="gateway_object", entity_id=gid)
        )
    if not seen_before:
        with ctx.unit() as tx:
            audit_drift(ctx, tx, "drift.reported", gid, drift)
    return DriftEntry(
        object_kind, gid, drift.kind, amount, drift.detail, applied=False, enrollment_id=enrollment
    )


def audit_drift(ctx: Context, tx: StoreTransaction, action: str, gid: str, drift: Drift) -> None:
    """Write ``drift.applied`` or ``drift.reported`` for gateway object ``gid``."""
    ctx.audit(
        tx,
        actor=ACTOR,
        action=action,
        entity_type="gateway_object",
        entity_id=gid,
        data={"kind": drift.kind, "detail": drift.detail, "target": drift.target},
    )
