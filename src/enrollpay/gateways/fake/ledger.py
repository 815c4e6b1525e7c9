"""The fake's own record: refunds made in its "dashboard", and listings of its record.

:func:`refund_from_dashboard` is what staff do outside the library;
:func:`list_payments`, :func:`list_refunds` and :func:`list_disputes` list
the record as a :class:`~enrollpay.ports.LedgerGateway` does, for drift
re-sync.

The listings are like Stripe's list endpoints with a ``created[gte]`` filter: the objects
created at or after ``since``, newest first (ties by id, newest first),
a page of ``page_size`` per request, each page starting after the last
object of the page before. Every page is one call in the fake's log
(``list_payments`` / ``list_refunds`` / ``list_disputes``, with ``since``, ``starting_after``
and ``limit``) and takes its scripted outcome, so a test can make the
listing time out halfway.

The functions take the :class:`~enrollpay.gateways.fake.FakeGateway` as
``self``: the class attaches them as its methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError
from enrollpay.gateways.fake.intents import intent_ledger
from enrollpay.ports import (
    LEDGER_PAGE_SIZE,
    GatewayRefund,
    LedgerDispute,
    LedgerPayment,
    LedgerRefund,
)

if TYPE_CHECKING:
    from enrollpay.gateways.fake.gateway import FakeGateway

__all__ = [
    "list_disputes",
    "list_payments",
    "list_refunds",
    "record",
    "refund_from_dashboard",
    "refunds_for",
]


def refund_from_dashboard(
    self: FakeGateway, gateway_payment_id: str, amount: Money
) -> GatewayRefund:
    """A refund made outside the library (by staff in the gateway's dashboard)."""
    return self._payments.refund_from_dashboard(gateway_payment_id, amount)


def refunds_for(self: FakeGateway, gateway_payment_id: str) -> list[GatewayRefund]:
    """Refunds the fake made for a payment."""
    return self._payments.refunds_for(gateway_payment_id)


def record(gateway: FakeGateway) -> tuple[list[LedgerPayment], list[LedgerRefund]]:
    """Every intent and refund of the fake, as its record lists them (in no order).

    Each is dated by when its id was made (:class:`~enrollpay.gateways.fake.records.FakeIds`).
    """
    payments, made_at = gateway._payments, gateway._ids.made_at
    with payments._lock:
        listed = [intent_ledger(i, made_at[i.id]) for i in payments._intents.values()]
        refunds = [
            LedgerRefund(
                gateway_refund_id=r.gateway_refund_id,
                gateway_payment_id=r.gateway_payment_id,
                amount=r.amount,
                status=r.status,
                created=made_at[r.gateway_refund_id],
                reference=r.reference,
            )
            for made in payments._refunds.values()
            for r in made
        ]
    return listed, refunds


class _Listed(Protocol):
    @property
    def created(self) -> datetime: ...


T = TypeVar("T", bound=_Listed)


def _pages(
    gateway: FakeGateway,
    *,
    verb: str,
    objects: Callable[[], list[T]],
    ident: Callable[[T], str],
    since: datetime,
    page_size: int,
) -> Iterator[Sequence[T]]:
    """Check the arguments now; list the pages as they are asked for."""
    since = ensure_aware(since, "since")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise InvalidInputError(f"page_size must be from 1 to 100, got {page_size!r}")
    return _walk(gateway, verb=verb, objects=objects, ident=ident, since=since, page_size=page_size)


def _walk(
    gateway: FakeGateway,
    *,
    verb: str,
    objects: Callable[[], list[T]],
    ident: Callable[[T], str],
    since: datetime,
    page_size: int,
) -> Iterator[Sequence[T]]:
    after: str | None = None
    while True:
        gateway._enter(verb, since=since, starting_after=after, limit=page_size)
        # Read afresh for each page, as each request does: what was made
        # meanwhile is newer than the first page and does not shift the rest.
        listed = sorted(
            (o for o in objects() if o.created >= since),
            key=lambda o: (o.created, ident(o)),
            reverse=True,
        )
        ids = [ident(o) for o in listed]
        start = 0 if after is None else ids.index(after) + 1
        page = listed[start : start + page_size]
        if page:
            yield page
        if start + page_size >= len(listed):
            return
        after = ident(page[-1])


def list_payments(
    self: FakeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerPayment]]:
    """Intents created at or after ``since``, newest first, a page per call."""
    return _pages(
        self,
        verb="list_payments",
        objects=lambda: record(self)[0],
        ident=lambda p: p.gateway_payment_id,
        since=since,
        page_size=page_size,
    )


def list_refunds(
    self: FakeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerRefund]]:
    """Refunds created at or after ``since``, newest first, a page per call."""
    return _pages(
        self,
        verb="list_refunds",
        objects=lambda: record(self)[1],
        ident=lambda r: r.gateway_refund_id,
        since=since,
        page_size=page_size,
    )


def list_disputes(
    self: FakeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerDispute]]:
    """Disputes created at or after ``since``, newest first, a page per call."""
    return _pages(
        self,
        verb="list_disputes",
        objects=self.disputes.listed,
        ident=lambda d: d.dispute_id,
        since=since,
        page_size=page_size,
    )
