"""``ThrottledGateway``: a gateway decorator that has exactly the capabilities it wraps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from enrollpay import Money
from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.gateways.stripe.client import build_client
from enrollpay.ports import (
    ChargeResult,
    Gateway,
    GatewayEvent,
    GatewayRefund,
    InvoiceGateway,
    LedgerGateway,
    LivemodeAware,
    PaymentSession,
    SubscriptionGateway,
    SubscriptionInfo,
)
from enrollpay.testing import FakeGateway, FrozenClock
from tests.unit.test_ratelimit import FakeMonotonic

USD10 = Money.of("10.00", "USD")


class PaymentsOnly:
    """A gateway with the payment verbs and nothing else (no billing, no mode)."""

    name = "payments-only"

    def __init__(self) -> None:
        self.inner = FakeGateway(clock=FrozenClock(datetime(2027, 1, 4, tzinfo=UTC)))

    def amount_granularity(self, currency: str) -> int:
        """The fake's."""
        return self.inner.amount_granularity(currency)

    def minimum_charge(self, currency: str) -> Money | None:
        """The fake's."""
        return self.inner.minimum_charge(currency)

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """The fake's."""
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
        """The fake's."""
        return self.inner.start_payment(
            customer_id=customer_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
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
        """The fake's."""
        return self.inner.charge_off_session(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The fake's."""
        return self.inner.payment_status(
            gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key, amount=amount
        )

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """The fake's."""
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
        """The fake's."""
        return self.inner.refund(
            gateway_payment_id=gateway_payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            reference=reference,
        )

    def start_payment_method_update(
        self, *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """The fake's."""
        return self.inner.start_payment_method_update(
            customer_id=customer_id, idempotency_key=idempotency_key, metadata=metadata
        )

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """The fake's."""
        return self.inner.parse_webhook(payload, headers, now=now)


class SubscriptionsToo(PaymentsOnly):
    """Payments plus the subscription verbs; still no invoices and no mode."""

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
        """The fake's."""
        return self.inner.create_subscription(
            customer_id=customer_id, price_id=price_id, idempotency_key=idempotency_key
        )

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """The fake's."""
        return self.inner.cancel_subscription(subscription_id, idempotency_key=idempotency_key)


def capabilities(gateway: object) -> tuple[bool, bool, bool]:
    """Whether ``gateway`` is a subscription gateway, an invoice gateway, mode-aware."""
    return (
        isinstance(gateway, SubscriptionGateway),
        isinstance(gateway, InvoiceGateway),
        isinstance(gateway, LivemodeAware),
    )


def bucket() -> TokenBucket:
    """A bucket of one token a second on a clock that only moves when slept on."""
    clock = FakeMonotonic()
    return TokenBucket(1, monotonic=clock, sleep=clock.sleep)


def test_wrapping_stripe_keeps_every_capability_and_the_mode() -> None:
    """A throttled Stripe gateway is still a subscription and invoice gateway, and live."""
    stripe_gw = StripeGateway(build_client("sk_live_notreal"), ["whsec_x"])
    throttled = ThrottledGateway(stripe_gw, bucket())
    assert capabilities(stripe_gw) == (True, True, True)
    assert capabilities(throttled) == (True, True, True)
    assert isinstance(throttled, LedgerGateway)
    assert isinstance(throttled, LivemodeAware)
    assert throttled.livemode is True
    assert isinstance(throttled, ThrottledGateway)
    assert repr(throttled).startswith("ThrottledGateway(StripeGateway(livemode=True")


@pytest.mark.parametrize(
    ("make", "expected"),
    [(PaymentsOnly, (False, False, False)), (SubscriptionsToo, (True, False, False))],
)
def test_a_wrapper_claims_no_capability_its_gateway_lacks(
    make: type[PaymentsOnly], expected: tuple[bool, bool, bool]
) -> None:
    """Wrapping a gateway without billing or a mode gives a wrapper without them."""
    gateway: Gateway = make()
    throttled = ThrottledGateway(gateway, bucket())
    assert capabilities(gateway) == expected
    assert capabilities(throttled) == expected
    assert not hasattr(throttled, "create_invoice")
    assert not hasattr(throttled, "livemode")


def test_billing_verbs_are_throttled_and_reach_the_wrapped_gateway() -> None:
    """Each subscription and invoice request waits for a token, then goes through."""
    clock = FakeMonotonic()
    fake = FakeGateway(clock=FrozenClock(datetime(2027, 1, 4, tzinfo=UTC)))
    throttled = ThrottledGateway(fake, TokenBucket(2, monotonic=clock, sleep=clock.sleep))
    customer = throttled.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert isinstance(throttled, SubscriptionGateway)
    assert isinstance(throttled, InvoiceGateway)
    created = throttled.create_subscription(
        customer_id=customer, price_id="price_monthly", idempotency_key="sub:e-1"
    )
    cancelled = throttled.cancel_subscription(
        created.subscription_id, idempotency_key="sub:e-1:cancel"
    )
    invoice = throttled.create_invoice(customer_id=customer, amount=USD10, idempotency_key="inv:1")
    assert cancelled.status == "canceled"
    assert invoice.amount == USD10
    assert [call.verb for call in fake.calls] == [
        "ensure_customer",
        "create_subscription",
        "cancel_subscription",
        "create_invoice",
    ]
    assert clock.slept == pytest.approx([0.5, 0.5, 0.5])


def test_the_mode_is_read_through_not_copied() -> None:
    """The wrapper reports the wrapped gateway's mode as it is now."""
    fake = FakeGateway(clock=FrozenClock(datetime(2027, 1, 4, tzinfo=UTC)))
    throttled = ThrottledGateway(fake, bucket())
    assert isinstance(throttled, LivemodeAware)
    assert throttled.livemode is False
    fake.livemode = True
    assert throttled.livemode is True


def test_listing_the_record_waits_for_a_token_per_page() -> None:
    """Three pages of payments: three tokens before them, one for the request that ends it."""
    clock = FakeMonotonic()
    frozen = FrozenClock(datetime(2027, 1, 4, tzinfo=UTC))
    fake = FakeGateway(clock=frozen)
    customer = fake.ensure_customer("u-1", idempotency_key="customer:u-1")
    for n in range(5):
        session = fake.start_payment(
            customer_id=customer, amount=USD10, idempotency_key=f"k{n}", metadata={}
        )
        fake.complete_payment(session.gateway_payment_id)
    throttled = ThrottledGateway(fake, TokenBucket(2, monotonic=clock, sleep=clock.sleep))
    assert isinstance(throttled, LedgerGateway)
    assert not isinstance(ThrottledGateway(PaymentsOnly(), bucket()), LedgerGateway)

    pages = list(throttled.list_payments(since=frozen.now(), page_size=2))

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [c.verb for c in fake.calls].count("list_payments") == 3
    assert clock.slept == pytest.approx([0.5, 0.5, 0.5])  # 4 tokens at 2/s, the first free
    refunds = list(throttled.list_refunds(since=frozen.now()))
    assert refunds == []
    fake.disputes.open(pages[0][0].gateway_payment_id)
    slept = len(clock.slept)
    (disputes,) = throttled.list_disputes(since=frozen.now())
    assert [d.gateway_payment_id for d in disputes] == [pages[0][0].gateway_payment_id]
    assert len(clock.slept) > slept  # its page waited for a token too
