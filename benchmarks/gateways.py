"""A gateway that answers at once and keeps nothing, for measuring the library itself.

The fake gateway records every call, intent and webhook it makes, which is
what tests want but would make a 100,000-item run measure the fake. This
one succeeds every off-session charge (optionally after a delay) and only
counts them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from datetime import datetime

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError
from enrollpay.ports import ChargeResult, GatewayEvent, GatewayRefund, PaymentSession

__all__ = ["InstantGateway"]


class InstantGateway:
    """Every off-session charge succeeds (after ``latency`` seconds); only a count is kept."""

    name = "instant"

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.charged = 0
        self._lock = threading.Lock()

    def amount_granularity(self, currency: str) -> int:
        """Any amount goes."""
        return 1

    def minimum_charge(self, currency: str) -> Money | None:
        """No minimum."""
        return None

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Customers are seeded with the data."""
        return f"cus_{user_id}"

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Not used by the collection benchmarks."""
        raise GatewayRequestError("on-session payments are not benchmarked with this gateway")

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
        """Succeed, with a payment id derived from the idempotency key."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.charged += 1
        digest = hashlib.blake2b(idempotency_key.encode(), digest_size=12).hexdigest()
        return ChargeResult(
            "succeeded",
            f"pi_{digest}",
            amount,
            payment_method_id=payment_method_id,
            customer_id=customer_id,
        )

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Unknown outcomes do not happen here."""
        return None

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Not used by the collection benchmarks."""
        raise GatewayRequestError("no on-session payments to cancel")

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Not used by the collection benchmarks."""
        raise GatewayRequestError("refunds are not benchmarked")

    def start_payment_method_update(
        self, *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Not used by the collection benchmarks."""
        raise GatewayRequestError("setup flows are not benchmarked")

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Not used by the collection benchmarks."""
        raise GatewayRequestError("webhooks are not benchmarked with this gateway")
