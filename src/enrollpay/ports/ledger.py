"""The gateway's own record, listed: the capability drift re-sync reads.

A :class:`LedgerGateway` lists the objects it holds (payments, refunds)
created at or after an instant, newest first, a page per request.
``reconcile`` compares each with the store and applies what differs
(:mod:`enrollpay.service.drift`). It is an optional capability beside
:class:`~enrollpay.ports.Gateway`, checked with ``isinstance``.

The kinds of object are named in :data:`LEDGER_KINDS`; a new kind (disputes)
adds its listing verb here, a value, and a walk in the service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Final, Literal, Protocol, runtime_checkable

import attrs

from enrollpay.domain.money import Money
from enrollpay.ports.gateway import ChargeStatus

__all__ = [
    "LEDGER_KINDS",
    "LEDGER_PAGE_SIZE",
    "LedgerGateway",
    "LedgerKind",
    "LedgerPayment",
    "LedgerRefund",
]

#: The kinds of gateway object drift re-sync walks, in the order it walks them
#: (payments first: a refund found in the same run can then find its payment).
LedgerKind = Literal["payments", "refunds"]
LEDGER_KINDS: Final[tuple[LedgerKind, ...]] = ("payments", "refunds")

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


@runtime_checkable
class LedgerGateway(Protocol):
    """A gateway that lists its own record of payments and refunds.

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
