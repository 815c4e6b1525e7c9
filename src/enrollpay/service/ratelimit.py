"""A token-bucket rate limiter, and a gateway that waits for it before each request.

``collect_due(rate_limit=R)`` (or ``SystemConfig.gateway_rate_limit``) keeps
the collection workers under a gateway's request limit: every request to the
gateway first takes a token from one bucket that all workers share. Time
comes from an injected monotonic source, so the limiter is tested with a
fake clock and no sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError
from enrollpay.ports import ChargeResult, Gateway, GatewayEvent, GatewayRefund, PaymentSession

__all__ = ["ThrottledGateway", "TokenBucket"]


class TokenBucket:
    """At most ``burst`` acquisitions at once, then ``rate`` per second on average.

    The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per
    second. :meth:`reserve` takes a token *now*, going into debt when the
    bucket is empty, and says how long the caller must wait before using
    it: the n-th caller in a row waits ``n / rate`` seconds, so the callers
    are spaced exactly ``1 / rate`` apart whatever the number of threads.
    Over any interval of ``t`` seconds at most ``burst + rate * t`` tokens
    are handed out. Thread-safe; waiting happens outside the lock.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise InvalidInputError(f"rate must be a positive number, got {rate!r}")
        if not math.isfinite(rate):
            raise InvalidInputError(f"rate must be finite, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not burst >= 1:
            raise InvalidInputError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = monotonic()

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 if none)."""
        with self._lock:
            now = self._monotonic()
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Take one token, sleeping until it may be used; return the time waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class ThrottledGateway:
    """A :class:`~enrollpay.ports.Gateway` whose requests each wait for a token first.

    Only the verbs that reach the gateway over the network are throttled;
    capabilities and webhook parsing are local and pass straight through.
    """

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

    def start_payment_method_update(self, *, customer_id: str, idempotency_key: str) -> str:
        """Throttled :meth:`~enrollpay.ports.Gateway.start_payment_method_update`."""
        self.bucket.acquire()
        return self.inner.start_payment_method_update(
            customer_id=customer_id, idempotency_key=idempotency_key
        )

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """The wrapped gateway's webhook parsing (local, not throttled)."""
        return self.inner.parse_webhook(payload, headers, now=now)
