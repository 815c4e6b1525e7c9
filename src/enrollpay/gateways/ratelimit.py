"""A token-bucket rate limiter, and a gateway decorator that waits for it before each request.

:class:`ThrottledGateway` wraps any :class:`~enrollpay.ports.Gateway` and
offers exactly the capabilities of the gateway it wraps: wrapping a
:class:`~enrollpay.ports.SubscriptionGateway` gives one (its subscription
requests throttled too), wrapping a plain gateway does not.

``collect_due(rate_limit=R)`` (or ``SystemConfig.gateway_rate_limit``) keeps
the collection workers under a gateway's request limit: every request to the
gateway first takes a token from one bucket that all workers share. Time
comes from an injected monotonic source, so the limiter is tested with a
fake clock and no sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Literal, TypeVar, cast

from enrollpay.domain.money import Money
from enrollpay.gateways.bucket import TokenBucket
from enrollpay.ports import (
    LEDGER_PAGE_SIZE,
    ChargeResult,
    Gateway,
    GatewayEvent,
    GatewayRefund,
    InvoiceGateway,
    InvoiceInfo,
    LedgerDispute,
    LedgerGateway,
    LedgerPayment,
    LedgerRefund,
    LivemodeAware,
    PaymentSession,
    SubscriptionGateway,
    SubscriptionInfo,
)

__all__ = ["ThrottledGateway", "TokenBucket"]


class ThrottledGateway:
    """A :class:`~enrollpay.ports.Gateway` whose requests each wait for a token first.

    Only the verbs that reach the gateway over the network are throttled;
    capabilities and webhook parsing are local and pass straight through.

    The wrapper has the optional capabilities of the gateway it wraps and no
    others: ``ThrottledGateway(gateway, bucket)`` is an instance of
    :class:`~enrollpay.ports.SubscriptionGateway`,
    :class:`~enrollpay.ports.InvoiceGateway`,
    :class:`~enrollpay.ports.LedgerGateway` (each page of a listing waits
    for a token) or :class:`~enrollpay.ports.LivemodeAware` exactly when
    ``gateway`` is. (The
    constructor picks a subclass of this class that adds the forwarding
    verbs of each capability the wrapped gateway has.) Per-item invoices
    are reached through :func:`~enrollpay.gateways.ratelimit_invoices.item_invoices`.
    """

    inner: Gateway
    bucket: TokenBucket

    def __new__(cls, gateway: Gateway, bucket: TokenBucket) -> ThrottledGateway:
        """Pick the subclass with the wrapped gateway's capabilities (``bucket`` is unused)."""
        chosen = _WITH_CAPABILITIES[_capabilities(gateway)] if cls is ThrottledGateway else cls
        return super().__new__(chosen)

    def __init__(self, gateway: Gateway, bucket: TokenBucket) -> None:
        self.inner = gateway
        self.bucket = bucket
        self.name = gateway.name

    def __repr__(self) -> str:
        return f"ThrottledGateway({self.inner!r}, {self.bucket!r})"

    def amount_granularity(self, currency: str) -> int:
        """The wrapped gateway's granularity (local, not throttled)."""
        return self.inner.amount_granularity(currency)

    def minimum_charge(self, currency: str) -> Money | None:
        """The wrapped gateway's minimum charge (local, not throttled)."""
        return self.inner.minimum_charge(currency)

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Throttled :meth:`~enrollpay.ports.Gateway.ensure_customer`."""
        self.bucket.acquire()
        return self.inner.ensure_customer(user_id, idempotency_key=idempotency_key)

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Throttled :meth:`~enrollpay.ports.Gateway.start_payment`."""
        self.bucket.acquire()
        return self.inner.start_payment(
            customer_id=customer_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
            description=description,
        )

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Throttled :meth:`~enrollpay.ports.Gateway.charge_off_session`."""
        self.bucket.acquire()
        return self.inner.charge_off_session(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
            description=description,
        )

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Throttled :meth:`~enrollpay.ports.Gateway.payment_status`."""
        self.bucket.acquire()
        return self.inner.payment_status(
            gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key, amount=amount
        )

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Throttled :meth:`~enrollpay.ports.Gateway.cancel_payment`."""
        self.bucket.acquire()
        return self.inner.cancel_payment(
            gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key
        )

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Throttled :meth:`~enrollpay.ports.Gateway.refund`."""
        self.bucket.acquire()
        return self.inner.refund(
            gateway_payment_id=gateway_payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            reference=reference,
            reason=reason,
        )

    def start_payment_method_update(
        self,
        *,
        customer_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Throttled :meth:`~enrollpay.ports.Gateway.start_payment_method_update`."""
        self.bucket.acquire()
        return self.inner.start_payment_method_update(
            customer_id=customer_id, idempotency_key=idempotency_key, metadata=metadata
        )

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """The wrapped gateway's webhook parsing (local, not throttled)."""
        return self.inner.parse_webhook(payload, headers, now=now)


# -- the optional capabilities, forwarded only when the wrapped gateway has them ---------


class _ThrottledSubscriptions(ThrottledGateway):
    """Forwards the :class:`~enrollpay.ports.SubscriptionGateway` verbs, throttled."""

    def create_subscription(
        self,
        *,
        customer_id: str,
        price_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
        trial_days: int = 0,
        default_payment_method: str | None = None,
    ) -> SubscriptionInfo:
        """Throttled :meth:`~enrollpay.ports.SubscriptionGateway.create_subscription`."""
        self.bucket.acquire()
        return cast("SubscriptionGateway", self.inner).create_subscription(
            customer_id=customer_id,
            price_id=price_id,
            idempotency_key=idempotency_key,
            metadata=metadata,
            trial_days=trial_days,
            default_payment_method=default_payment_method,
        )

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """Throttled :meth:`~enrollpay.ports.SubscriptionGateway.cancel_subscription`."""
        self.bucket.acquire()
        return cast("SubscriptionGateway", self.inner).cancel_subscription(
            subscription_id, idempotency_key=idempotency_key
        )


class _ThrottledInvoices(ThrottledGateway):
    """Forwards the :class:`~enrollpay.ports.InvoiceGateway` verb, throttled."""

    def create_invoice(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        collection_method: Literal["charge_automatically", "send_invoice"] = (
            "charge_automatically"
        ),
        days_until_due: int | None = None,
    ) -> InvoiceInfo:
        """Throttled :meth:`~enrollpay.ports.InvoiceGateway.create_invoice`."""
        self.bucket.acquire()
        return cast("InvoiceGateway", self.inner).create_invoice(
            customer_id=customer_id,
            amount=amount,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata,
            collection_method=collection_method,
            days_until_due=days_until_due,
        )


T = TypeVar("T")


def _paced(bucket: TokenBucket, pages: Iterator[Sequence[T]]) -> Iterator[Sequence[T]]:
    """``pages``, each taken only after a token: one token per page request.

    The request that finds no further page takes a token too (the wrapper
    cannot know it will not reach the gateway): a listing spends at most one
    token more than it makes requests.
    """
    while True:
        bucket.acquire()
        page = next(pages, None)
        if page is None:
            return
        yield page


class _ThrottledLedger(ThrottledGateway):
    """Forwards the :class:`~enrollpay.ports.LedgerGateway` verbs, a token per page."""

    def list_payments(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerPayment]]:
        """Throttled :meth:`~enrollpay.ports.LedgerGateway.list_payments`."""
        inner = cast("LedgerGateway", self.inner)
        return _paced(self.bucket, inner.list_payments(since=since, page_size=page_size))

    def list_refunds(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerRefund]]:
        """Throttled :meth:`~enrollpay.ports.LedgerGateway.list_refunds`."""
        inner = cast("LedgerGateway", self.inner)
        return _paced(self.bucket, inner.list_refunds(since=since, page_size=page_size))

    def list_disputes(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerDispute]]:
        """Throttled :meth:`~enrollpay.ports.LedgerGateway.list_disputes`."""
        inner = cast("LedgerGateway", self.inner)
        return _paced(self.bucket, inner.list_disputes(since=since, page_size=page_size))


class _ThrottledLivemode(ThrottledGateway):
    """Reports the wrapped gateway's :class:`~enrollpay.ports.LivemodeAware` mode."""

    @property
    def livemode(self) -> bool:
        """The wrapped gateway's mode (read each time, never copied)."""
        return cast("LivemodeAware", self.inner).livemode


_Capabilities = tuple[bool, bool, bool, bool]
_PARTS: tuple[type[ThrottledGateway], ...] = (
    _ThrottledSubscriptions,
    _ThrottledInvoices,
    _ThrottledLedger,
    _ThrottledLivemode,
)


def _capabilities(gateway: Gateway) -> _Capabilities:
    return (
        isinstance(gateway, SubscriptionGateway),
        isinstance(gateway, InvoiceGateway),
        isinstance(gateway, LedgerGateway),
        isinstance(gateway, LivemodeAware),
    )


def _throttled_class(capabilities: _Capabilities) -> type[ThrottledGateway]:
    """The subclass of :class:`ThrottledGateway` with exactly these capabilities."""
    chosen = tuple(part for part, has in zip(_PARTS, capabilities, strict=True) if has)
    if not chosen:
        return ThrottledGateway
    if len(chosen) == 1:
        return chosen[0]
    return type("ThrottledGateway", chosen, {"__module__": __name__})


# All sixteen classes are made once, at import: a wrapper never builds a class.
_WITH_CAPABILITIES: dict[_Capabilities, type[ThrottledGateway]] = {
    (subs, invoices, ledger, livemode): _throttled_class((subs, invoices, ledger, livemode))
    for subs in (False, True)
    for invoices in (False, True)
    for ledger in (False, True)
    for livemode in (False, True)
}
