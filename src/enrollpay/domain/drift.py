"""Drift: where the gateway's record of one object and the store's disagree, and what to do.

``reconcile`` lists the gateway's own record (payments, refunds, disputes)
and, for each object, gathers what the store holds that it may match
(:class:`StoredPayment`, :class:`StoredRefund`; disputes:
:mod:`enrollpay.domain.drift_disputes`). The pure functions here
compare the two: ``None`` when they agree (or the object is none of the
library's), else a :class:`Drift` naming the difference. A drift of an
:data:`APPLICABLE` kind is applied as the lost webhook would have been;
the others are reported for a person and never guessed at:

=================  ==========================================================  ==========
kind               the gateway says                                            applied
=================  ==========================================================  ==========
payment_missing    it took a payment of ours the store has as not paid         yes
refund_missing     a payment of ours was refunded elsewhere (the dashboard)    yes
refund_settled     one of our pending refunds succeeded or failed              yes
dispute_missing    a payment of ours is disputed; the store has no record      yes
dispute_moved      a dispute of ours went on to a later stage (funds           yes
                   withdrawn, won, lost, an inquiry closed)
amount_mismatch    the amount differs from the store's, or a refund would      no
                   take back more than is left of its payment
unknown_object     it carries our metadata (or names our records) but          no
                   matches nothing the store holds
status_conflict    the store holds money (or a settled refund, or a dispute's  no
                   later stage) the gateway shows otherwise, or a dispute
                   is in a status the library does not know
=================  ==========================================================  ==========

A gateway object is the library's when it was recorded with one of its
payments, attempts or refunds, or carries the metadata the library sends
(:data:`OUR_PAYMENT_METADATA`); anything else (another product sold on the
same account) is left alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.domain.statuses import AttemptStatus, RefundStatus

__all__ = [
    "APPLICABLE",
    "OUR_PAYMENT_METADATA",
    "Drift",
    "DriftKind",
    "ListedPayment",
    "ListedRefund",
    "StoredPayment",
    "StoredRefund",
    "compare_payment",
    "compare_refund",
]

#: The metadata keys the library puts on every payment it starts.
OUR_PAYMENT_METADATA: Final = ("attempt_id", "item_id", "enrollment_id")


class DriftKind(enum.StrEnum):
    """How the gateway's record of an object differs from the store's."""

    PAYMENT_MISSING = "payment_missing"
    REFUND_MISSING = "refund_missing"
    REFUND_SETTLED = "refund_settled"
    DISPUTE_MISSING = "dispute_missing"
    DISPUTE_MOVED = "dispute_moved"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNKNOWN_OBJECT = "unknown_object"
    STATUS_CONFLICT = "status_conflict"
    #: A payment (a bank debit) still processing after its method's settlement window.
    SETTLEMENT_OVERDUE = "settlement_overdue"


#: The kinds that are applied (as the webhook would have); the rest need a person.
APPLICABLE: Final = frozenset(
    {
        DriftKind.PAYMENT_MISSING,
        DriftKind.REFUND_MISSING,
        DriftKind.REFUND_SETTLED,
        DriftKind.DISPUTE_MISSING,
        DriftKind.DISPUTE_MOVED,
    }
)


@attrs.frozen
class Drift:
    """One difference: its kind, a sentence saying what differs, the record it applies to.

    ``target`` is the record an applicable drift changes: the attempt that
    was paid (``payment_missing``), the payment that was refunded
    (``refund_missing``) or disputed (``dispute_missing``), the refund that
    settled (``refund_settled``) or the dispute that moved on
    (``dispute_moved``).
    """

    kind: DriftKind
    detail: str
    target: str | None = None

    @property
    def applicable(self) -> bool:
        """True when the difference is applied; False when a person must look."""
        return self.kind in APPLICABLE


class ListedPayment(Protocol):
    """What the comparison reads of a gateway payment (``LedgerPayment`` has it)."""

    @property
    def gateway_payment_id(self) -> str: ...  # noqa: D102 - the names say it
    @property
    def status(self) -> str: ...  # noqa: D102
    @property
    def amount(self) -> Money: ...  # noqa: D102
    @property
    def customer_id(self) -> str | None: ...  # noqa: D102
    @property
    def metadata(self) -> Mapping[str, str]: ...  # noqa: D102


class ListedRefund(Protocol):
    """What the comparison reads of a gateway refund (``LedgerRefund`` has it)."""

    @property
    def gateway_refund_id(self) -> str: ...  # noqa: D102 - the names say it
    @property
    def status(self) -> str: ...  # noqa: D102
    @property
    def amount(self) -> Money: ...  # noqa: D102
    @property
    def reference(self) -> str | None: ...  # noqa: D102


@attrs.frozen
class StoredPayment:
    """What the store holds that one gateway payment may match.

    ``attempt`` and ``payment`` carry its gateway payment id. ``named`` is
    the attempt its metadata names (``attempt_id``), looked up when no
    attempt carries the id yet (an answer lost before the id was kept);
    ``named_customer`` is the gateway customer of that attempt's student.
    """

    attempt: PaymentAttempt | None = None
    payment: Payment | None = None
    named: PaymentAttempt | None = None
    named_customer: str | None = None


@attrs.frozen
class StoredRefund:
    """What the store holds that one gateway refund may match.

    ``refund`` carries its gateway refund id; ``named`` is the refund its
    reference names (when none carries the id). ``payment`` is the payment
    recorded for the refund's gateway payment, ``payment_refunds`` every
    refund of that payment; ``attempt_known`` says the gateway payment is
    one of the library's attempts although no payment was recorded for it.
    """

    refund: Refund | None = None
    named: Refund | None = None
    payment: Payment | None = None
    payment_refunds: Sequence[Refund] = ()
    attempt_known: bool = False


def _ours(metadata: Mapping[str, str]) -> bool:
    return any(metadata.get(key) for key in OUR_PAYMENT_METADATA)


def compare_payment(seen: ListedPayment, known: StoredPayment) -> Drift | None:
    """How the gateway's payment ``seen`` differs from what the store ``known`` holds.

    Only a payment the gateway took can be missing from the store; one it
    did not take is drift only when the store recorded money for it.
    """
    gid = seen.gateway_payment_id
    if seen.status != "succeeded":
        if known.payment is None:
            return None  # nothing taken; attempts still in flight are looked up by id
        return Drift(
            DriftKind.STATUS_CONFLICT,
            f"the store holds payment {known.payment.id} of {known.payment.amount} for {gid}, "
            f"which the gateway shows as {seen.status}",
            known.payment.id,
        )
    if known.payment is not None:
        if known.payment.amount != seen.amount:
            return Drift(
                DriftKind.AMOUNT_MISMATCH,
                f"{gid} took {seen.amount}; the store recorded {known.payment.amount} "
                f"(payment {known.payment.id})",
                known.payment.id,
            )
        return None
    attempt = known.attempt
    if attempt is None:
        attempt = known.named
        if attempt is None:
            if not _ours(seen.metadata):
                return None  # not the library's payment
            named = seen.metadata.get("attempt_id") or "no attempt"
            return Drift(
                DriftKind.UNKNOWN_OBJECT,
                f"{gid} took {seen.amount} with our metadata ({named}), "
                "but matches no attempt in the store",
            )
        if attempt.gateway_payment_id not in (None, gid):
            return Drift(
                DriftKind.UNKNOWN_OBJECT,
                f"{gid} names attempt {attempt.id}, which belongs to gateway payment "
                f"{attempt.gateway_payment_id}",
                attempt.id,
            )
        if known.named_customer != seen.customer_id:
            return Drift(
                DriftKind.UNKNOWN_OBJECT,
                f"{gid} names attempt {attempt.id}, but its customer {seen.customer_id} "
                "is not that student's",
                attempt.id,
            )
    if attempt.amount != seen.amount:
        return Drift(
            DriftKind.AMOUNT_MISMATCH,
            f"{gid} took {seen.amount}; attempt {attempt.id} was for {attempt.amount}",
            attempt.id,
        )
    if attempt.status == AttemptStatus.SUCCEEDED:
        return Drift(
            DriftKind.STATUS_CONFLICT,
            f"attempt {attempt.id} succeeded but the store has no payment for {gid}",
            attempt.id,
        )
    return Drift(
        DriftKind.PAYMENT_MISSING,
        f"{gid} took {seen.amount}; the store has attempt {attempt.id} {attempt.status}",
        attempt.id,
    )


def _refunded(refunds: Sequence[Refund], *, leaving_out: str | None) -> int:
    """Minor units the refunds took back, failed ones (and ``leaving_out``) aside."""
    return sum(
        r.amount.minor for r in refunds if r.status != RefundStatus.FAILED and r.id != leaving_out
    )


def compare_refund(seen: ListedRefund, known: StoredRefund) -> Drift | None:
    """How the gateway's refund ``seen`` differs from what the store ``known`` holds.

    A refund of ours still pending takes the gateway's outcome; a settled
    one never moves on its own (it is a conflict for a person), except a
    refund the store gave up as failed before the gateway answered with an
    id, which takes the gateway's word as the refund webhook would.
    """
    gid = seen.gateway_refund_id
    payment = known.payment
    matched = known.refund
    if matched is None and known.named is not None:
        if payment is None or known.named.payment_id != payment.id:
            return Drift(
                DriftKind.UNKNOWN_OBJECT,
                f"{gid} names refund {known.named.id}, which refunds another payment",
                known.named.id,
            )
        matched = known.named
    if matched is not None:
        return _compare_known_refund(seen, matched, known)
    if seen.reference:
        return Drift(
            DriftKind.UNKNOWN_OBJECT,
            f"{gid} names refund {seen.reference}, which the store does not hold",
        )
    if payment is None:
        if not known.attempt_known:
            return None  # a refund of a payment that is none of the library's
        return Drift(
            DriftKind.UNKNOWN_OBJECT,
            f"{gid} refunds {seen.amount} of a payment of ours the store has not recorded",
        )
    if seen.status == RefundStatus.FAILED:
        return None  # it never gave anything back
    left = payment.amount.minor - _refunded(known.payment_refunds, leaving_out=None)
    if seen.amount.currency != payment.amount.currency or seen.amount.minor > left:
        return Drift(
            DriftKind.AMOUNT_MISMATCH,
            f"{gid} refunds {seen.amount} of payment {payment.id}, which has "
            f"{Money(left, payment.amount.currency)} left to refund",
            payment.id,
        )
    return Drift(
        DriftKind.REFUND_MISSING,
        f"{gid} refunded {seen.amount} of payment {payment.id} outside the library",
        payment.id,
    )


def _compare_known_refund(seen: ListedRefund, refund: Refund, known: StoredRefund) -> Drift | None:
    gid = seen.gateway_refund_id
    payment = known.payment
    if payment is None or refund.payment_id != payment.id:
        return Drift(
            DriftKind.STATUS_CONFLICT,
            f"refund {refund.id} refunds payment {refund.payment_id} in the store, "
            f"but {gid} refunds another payment at the gateway",
            refund.id,
        )
    if refund.amount != seen.amount:
        return Drift(
            DriftKind.AMOUNT_MISMATCH,
            f"{gid} refunds {seen.amount}; the store has refund {refund.id} of {refund.amount}",
            refund.id,
        )
    if seen.status in (RefundStatus.PENDING, refund.status):
        return None  # pending is no news; the same outcome is none either
    if refund.status == RefundStatus.PENDING or refund.gateway_refund_id is None:
        if (
            seen.status == RefundStatus.SUCCEEDED
            and refund.status == RefundStatus.FAILED
            and _refunded(known.payment_refunds, leaving_out=refund.id) + refund.amount.minor
            > payment.amount.minor
        ):
            return Drift(
                DriftKind.AMOUNT_MISMATCH,
                f"{gid} succeeded, but refund {refund.id} would take back more than is left "
                f"of payment {payment.id}",
                refund.id,
            )
        return Drift(
            DriftKind.REFUND_SETTLED,
            f"refund {refund.id} {seen.status} at the gateway; the store has it {refund.status}",
            refund.id,
        )
    return Drift(
        DriftKind.STATUS_CONFLICT,
        f"refund {refund.id} is {refund.status} in the store but {seen.status} at the gateway",
        refund.id,
    )
