"""The gateway's own record, listed: the capability drift re-sync reads.

A :class:`LedgerGateway` lists the objects it holds (payments, refunds,
disputes) created at or after an instant, newest first, a page per request.
``reconcile`` compares each with the store and applies what differs
(:mod:`enrollpay.service.drift`). It is an optional capability beside
:class:`~enrollpay.ports.Gateway`, checked with ``isinstance``.

The kinds of object are named in :data:`LEDGER_KINDS`; a new kind adds its
listing verb here, a value, and a walk in the service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Final, Literal, Protocol, runtime_checkable

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.ports.gateway import ChargeStatus, GatewayDispute

__all__ = [
    "LEDGER_KINDS",
    "LEDGER_PAGE_SIZE",
    "LedgerDispute",
    "LedgerGateway",
    "LedgerKind",
    "LedgerPayment",
    "LedgerRefund",
]

#: The kinds of gateway object drift re-sync walks, in the order it walks them
#: (payments first: a refund or a dispute found in the same run can then find
#: its payment).
LedgerKind = Literal["payments", "refunds", "disputes"]
LEDGER_KINDS: Final[tuple[LedgerKind, ...]] = ("payments", "refunds", "disputes")

#: Objects per page (Stripe's largest ``limit``).
LEDGER_PAGE_SIZE: Final = 100


@attrs.frozen
class LedgerPayment:
    """A payment as the gateway's record lists it.

    ``status`` reads the gateway's state as :class:`~enrollpay.ports.ChargeResult`
    does (``succeeded`` means the money was taken). ``metadata`` is what
    the payment was created with; the library's own payments carry
    ``attempt_id``, ``item_id`` and ``enrollment_id``.
    """

    gateway_payment_id: str
    status: ChargeStatus
    amount: Money
    created: datetime
    customer_id: str | None = None
    payment_method_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class LedgerRefund:
    """A refund as the gateway's record lists it.

    ``reference`` is the library's refund id when the library asked for the
    refund (the gateway keeps it with the refund); a refund made elsewhere
    (the dashboard) has none.
    """

    gateway_refund_id: str
    gateway_payment_id: str | None
    amount: Money
    status: Literal["succeeded", "pending", "failed"]
    created: datetime
    reference: str | None = None


@attrs.frozen
class LedgerDispute:
    """A dispute as the gateway's record lists it: as it stands now.

    The fields are those of :class:`~enrollpay.ports.GatewayDispute` (the
    stage in the library's terms, None for a status the adapter does not
    know), and ``created``, when the cardholder opened it.
    """

    dispute_id: str
    gateway_payment_id: str | None
    amount: Money
    status: DisputeStatus | None
    gateway_status: str
    created: datetime
    reason: str | None = None
    evidence_due_by: datetime | None = None

    @classmethod
    def of(cls, report: GatewayDispute, *, created: datetime) -> LedgerDispute:
        """The listed dispute that ``report`` describes, opened at ``created``."""
        return cls(
            dispute_id=report.dispute_id,
            gateway_payment_id=report.gateway_payment_id,
            amount=report.amount,
            status=report.status,
            gateway_status=report.gateway_status,
            created=created,
            reason=report.reason,
            evidence_due_by=report.evidence_due_by,
        )

    @property
    def report(self) -> GatewayDispute:
        """The dispute as a webhook would report it (what settling it applies)."""
        return GatewayDispute(
            dispute_id=self.dispute_id,
            gateway_payment_id=self.gateway_payment_id,
            amount=self.amount,
            status=self.status,
            gateway_status=self.gateway_status,
            reason=self.reason,
            evidence_due_by=self.evidence_due_by,
        )


@runtime_checkable
class LedgerGateway(Protocol):
    """A gateway that lists its own record of payments, refunds and disputes.

    Each verb yields pages (one gateway request each, at most
    ``page_size`` objects) of the objects created at or after ``since``,
    newest first, following the gateway's pagination to the end. A page is
    requested only when the one before it has been taken, so a caller can
    stop early and hold one page at a time. Exceptions mean what they mean
    for every verb: :class:`~enrollpay.errors.GatewayUnavailableError`, the
    listing could not be finished now.
    """

    def list_payments(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerPayment]]:
        """Payments created at or after ``since``, newest first, a page at a time."""
        ...

    def list_refunds(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerRefund]]:
        """Refunds created at or after ``since``, newest first, a page at a time."""
        ...

    def list_disputes(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerDispute]]:
        """Disputes created at or after ``since``, newest first, a page at a time."""
        ...
