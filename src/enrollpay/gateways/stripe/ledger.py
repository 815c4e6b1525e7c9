"""Stripe's own record, listed: PaymentIntents, Refunds and Disputes created since an instant.

The :class:`~enrollpay.ports.LedgerGateway` verbs of
:class:`~enrollpay.gateways.stripe.StripeGateway`, attached to it as methods
(they take the gateway as ``self``). Each lists with ``created[gte]`` and
``limit`` and follows Stripe's pagination (``starting_after`` the last
object while ``has_more``) with the SDK's own ``auto_paging_iter``, so every
request goes through the injected client's HTTP stack, retries and
options. Stripe lists newest first; a page of the port is one of Stripe's.

An object that cannot be read (a currency the library does not know, sold
by another product on the same account) is skipped with a warning: it is
none of the library's, whose objects are in currencies it made them in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import stripe
from stripe.params import DisputeListParams, PaymentIntentListParams, RefundListParams

from enrollpay.domain.calendar import ensure_aware
from enrollpay.errors import EnrollpayError, InvalidInputError

# The one reading of Stripe refund statuses lives with the event normaliser.
from enrollpay.gateways.events import read_dispute, refund_status
from enrollpay.gateways.stripe.answers import id_of, intent_result, plain, response_money
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.errors import translate
from enrollpay.gateways.stripe.params import REFUND_REFERENCE_METADATA
from enrollpay.ports import LEDGER_PAGE_SIZE, LedgerDispute, LedgerPayment, LedgerRefund

if TYPE_CHECKING:
    from enrollpay.gateways.stripe.gateway import StripeGateway

__all__ = [
    "dispute_of",
    "list_disputes",
    "list_payments",
    "list_refunds",
    "payment_of",
    "refund_of",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _created(data: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(data["created"]), UTC)


def _metadata(data: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}


def payment_of(data: Mapping[str, Any]) -> LedgerPayment:
    """A PaymentIntent (as a dict) as the port's :class:`~enrollpay.ports.LedgerPayment`."""
    result = intent_result(data)
    return LedgerPayment(
        gateway_payment_id=str(data["id"]),
        status=result.status,
        amount=result.amount,
        created=_created(data),
        customer_id=result.customer_id,
        payment_method_id=result.payment_method_id,
        metadata=_metadata(data),
    )


def refund_of(data: Mapping[str, Any]) -> LedgerRefund:
    """A Refund (as a dict) as the port's :class:`~enrollpay.ports.LedgerRefund`."""
    return LedgerRefund(
        gateway_refund_id=str(data["id"]),
        gateway_payment_id=id_of(data.get("payment_intent")),
        amount=response_money(data["amount"], data["currency"]),
        status=refund_status(data.get("status")),
        created=_created(data),
        reference=_metadata(data).get(REFUND_REFERENCE_METADATA),
    )


def dispute_of(data: Mapping[str, Any]) -> LedgerDispute:
    """A Dispute (as a dict) as the port's :class:`~enrollpay.ports.LedgerDispute`."""
    return LedgerDispute.of(read_dispute(data, response_money), created=_created(data))


def _window(since: datetime, page_size: int) -> int:
    """``created[gte]`` for ``since`` (checked, as is ``page_size``)."""
    since = ensure_aware(since, "since")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise InvalidInputError(f"page_size must be from 1 to 100, got {page_size!r}")
    # Stripe's times are whole seconds: flooring keeps an object made in ``since``'s second.
    return int(since.timestamp())


def _pages(
    calls: StripeCalls,
    *,
    action: str,
    first: Callable[[], Any],
    read: Callable[[Mapping[str, Any]], T],
    page_size: int,
) -> Iterator[Sequence[T]]:
    """Stripe's list, page by page: each of Stripe's pages read into the port's values."""
    page: list[T] = []
    try:
        for obj in first().auto_paging_iter():
            data = plain(obj)
            try:
                page.append(read(data))
            except (EnrollpayError, KeyError, TypeError, ValueError) as exc:
                logger.warning("%s: skipped %s, which cannot be read (%s)", action,
                               data.get("id"), type(exc).__name__)  # fmt: skip
            if len(page) == page_size:
                yield page
                page = []
    except stripe.StripeError as exc:
        raise translate(exc, action) from exc
    if page:
        yield page


def list_payments(
    self: StripeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerPayment]]:
    """PaymentIntents created at or after ``since``, newest first, a page per request."""
    calls = self._calls
    params: PaymentIntentListParams = {
        "created": {"gte": _window(since, page_size)},
        "limit": page_size,
    }
    return _pages(
        calls,
        action="list payments",
        first=lambda: calls.client.v1.payment_intents.list(params=params, options=calls.options()),
        read=payment_of,
        page_size=page_size,
    )


def list_refunds(
    self: StripeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerRefund]]:
    """Refunds created at or after ``since``, newest first, a page per request."""
    calls = self._calls
    params: RefundListParams = {"created": {"gte": _window(since, page_size)}, "limit": page_size}
    return _pages(
        calls,
        action="list refunds",
        first=lambda: calls.client.v1.refunds.list(params=params, options=calls.options()),
        read=refund_of,
        page_size=page_size,
    )


def list_disputes(
    self: StripeGateway, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
) -> Iterator[Sequence[LedgerDispute]]:
    """Disputes created at or after ``since``, newest first, a page per request."""
    calls = self._calls
    params: DisputeListParams = {"created": {"gte": _window(since, page_size)}, "limit": page_size}
    return _pages(
        calls,
        action="list disputes",
        first=lambda: calls.client.v1.disputes.list(params=params, options=calls.options()),
        read=dispute_of,
        page_size=page_size,
    )
