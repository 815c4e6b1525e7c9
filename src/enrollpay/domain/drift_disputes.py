"""Drift of disputes: a dispute as the gateway lists it against what the store holds.

The dispute half of :mod:`enrollpay.domain.drift`: the same kinds of
difference (:class:`~enrollpay.domain.drift.DriftKind`), two of them its
own: ``dispute_missing`` and ``dispute_moved``, both applied through the
code the dispute webhooks run. A dispute only moves forward
(:func:`~enrollpay.domain.transitions.report_dispute`), so the store being
further on than the gateway is for a person, as is a status the gateway
adapter could not place in a stage.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from enrollpay.domain.drift import Drift, DriftKind
from enrollpay.domain.money import Money
from enrollpay.domain.records import Dispute, Payment
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.domain.transitions.disputes import moves_on

__all__ = ["ListedDispute", "StoredDispute", "compare_dispute"]


class ListedDispute(Protocol):
    """What the comparison reads of a gateway dispute (``LedgerDispute`` has it)."""

    @property
    def dispute_id(self) -> str: ...  # noqa: D102 - the names say it
    @property
    def amount(self) -> Money: ...  # noqa: D102
    @property
    def status(self) -> DisputeStatus | None: ...  # noqa: D102
    @property
    def gateway_status(self) -> str: ...  # noqa: D102


@attrs.frozen
class StoredDispute:
    """What the store holds that one gateway dispute may match.

    ``payment`` is the payment recorded for the disputed gateway payment,
    ``dispute`` the dispute recorded under the gateway's dispute id;
    ``attempt_known`` says the gateway payment is one of the library's
    attempts although no payment was recorded for it.
    """

    payment: Payment | None = None
    dispute: Dispute | None = None
    attempt_known: bool = False


def compare_dispute(seen: ListedDispute, known: StoredDispute) -> Drift | None:
    """How the gateway's dispute ``seen`` differs from what the store ``known`` holds.

    A dispute moves forward only (:func:`~enrollpay.domain.transitions.report_dispute`):
    one the store has not recorded, or holds at an earlier stage, is applied
    as its webhook would have been; one the store holds at a later stage
    (won in the store, still open at the gateway) is for a person.
    """
    gid = seen.dispute_id
    payment = known.payment
    if payment is None:
        if not known.attempt_known:
            return None  # a dispute of a payment that is none of the library's
        return Drift(
            DriftKind.UNKNOWN_OBJECT,
            f"{gid} disputes {seen.amount} of a payment of ours the store has not recorded",
        )
    dispute = known.dispute
    if dispute is not None and dispute.payment_id != payment.id:
        return Drift(
            DriftKind.UNKNOWN_OBJECT,
            f"{gid} disputes payment {payment.id}; the store has dispute {dispute.id} "
            f"of payment {dispute.payment_id}",
            dispute.id,
        )
    if seen.amount.currency != payment.amount.currency or seen.amount.minor > payment.amount.minor:
        return Drift(
            DriftKind.AMOUNT_MISMATCH,
            f"{gid} disputes {seen.amount} of payment {payment.id} of {payment.amount}",
            payment.id,
        )
    if seen.status is None:
        return Drift(
            DriftKind.STATUS_CONFLICT,
            f"{gid} is {seen.gateway_status!r} at the gateway, a status the library does not know",
            None if dispute is None else dispute.id,
        )
    if dispute is None:
        return Drift(
            DriftKind.DISPUTE_MISSING,
            f"{gid} disputes {seen.amount} of payment {payment.id} ({seen.status}); "
            "the store has no record of it",
            payment.id,
        )
    if dispute.amount != seen.amount:
        return Drift(
            DriftKind.AMOUNT_MISMATCH,
            f"{gid} disputes {seen.amount}; the store has dispute {dispute.id} of {dispute.amount}",
            dispute.id,
        )
    if seen.status == dispute.status:
        return None
    if moves_on(dispute.status, seen.status):
        return Drift(
            DriftKind.DISPUTE_MOVED,
            f"dispute {dispute.id} is {seen.status} at the gateway; the store has it "
            f"{dispute.status}",
            dispute.id,
        )
    return Drift(
        DriftKind.STATUS_CONFLICT,
        f"dispute {dispute.id} is {dispute.status} in the store but {seen.status} "
        f"({seen.gateway_status}) at the gateway",
        dispute.id,
    )
