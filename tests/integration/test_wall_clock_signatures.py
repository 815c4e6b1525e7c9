"""Stripe-signed webhooks against a frozen business clock: the wall clock times signatures.

Stripe signs each delivery with the real time. A test suite that freezes the
business clock a year away must still accept those deliveries, and still
refuse a delivery whose signature is stale by the real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
import stripe

from enrollpay import ItemStatus, Money, PaymentSystem
from enrollpay.clock import SystemClock
from enrollpay.errors import WebhookSignatureError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import (
    WEBHOOK_SECRET,
    SignedEvent,
    StripeServer,
    isolate_sdk_config,
    running_server,
)

YEAR = timedelta(days=365)


@attrs.frozen
class Shop:
    """A system on StripeGateway whose business clock is far from the real time."""

    system: PaymentSystem
    server: StripeServer
    enrollment_id: str
    succeeded: SignedEvent


@pytest.fixture(params=[YEAR, -YEAR], ids=["a year ahead", "a year behind"])
def shop(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Shop]:
    """Enrolled and paid in the browser; the succeeded event not delivered yet."""
    isolate_sdk_config(monkeypatch, tmp_path)
    clock = FrozenClock(SystemClock().now() + request.param)
    with running_server(clock=clock.now) as server:
        system = PaymentSystem(store=InMemoryStore(), gateway=server.gateway(), clock=clock,
                               ids=SequentialIds())  # fmt: skip
        product = system.register_product(
            product_type="course",
            product_id="react",
            name="React Masterclass",
            price=Money.of("300.00", "USD"),
        )
        enrolled = system.enroll(user_id="u-1", product_id=product.id)
        (intent,) = server.stripe.intents.values()
        server.stripe.complete_payment(intent["id"], payment_method="pm_card_visa")
        (succeeded,) = server.stripe.take_events()
        assert succeeded.event_type == "payment_intent.succeeded"
        yield Shop(system, server, enrolled.enrollment_id, succeeded)
        assert system.verify_audit_chain().ok


def stripe_signed(payload: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The ``Stripe-Signature`` header made by the Stripe SDK's own helper (default: now)."""
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), WEBHOOK_SECRET, timestamp
    )
    return {"Stripe-Signature": header}


def test_a_genuine_delivery_signed_now_is_applied(shop: Shop) -> None:
    """Signed by the SDK at the real time: processed, and the item is paid."""
    headers = stripe_signed(shop.succeeded.payload)

    outcome = shop.system.handle_webhook(shop.succeeded.payload, headers)

    assert outcome.result == "processed"
    details = shop.system.payment_details(shop.enrollment_id)
    assert [item.status for item in details.items] == [ItemStatus.PAID]
    assert details.paid == Money.of("300.00", "USD")


@pytest.mark.parametrize(("age", "reason"), [(301, "too old"), (-301, "in the future")])
def test_a_signature_off_by_more_than_the_tolerance_in_real_time_is_refused(
    shop: Shop, age: int, reason: str
) -> None:
    """301 s from the real time either way: refused, nothing recorded; a fresh copy then goes in."""
    stale = stripe_signed(shop.succeeded.payload, int(time.time()) - age)

    with pytest.raises(WebhookSignatureError, match=reason):
        shop.system.handle_webhook(shop.succeeded.payload, stale)

    assert shop.system.payment_details(shop.enrollment_id).payments == ()
    fresh = shop.system.handle_webhook(
        shop.succeeded.payload, stripe_signed(shop.succeeded.payload)
    )
    assert fresh.result == "processed"


def test_an_injected_wall_clock_is_what_the_tolerance_is_measured_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A wall clock frozen at the signing time accepts it 300 s later and refuses it at 301 s."""
    isolate_sdk_config(monkeypatch, tmp_path)
    business = FrozenClock(SystemClock().now() + YEAR)
    wall = FrozenClock(SystemClock().now().replace(microsecond=0))
    with running_server(clock=business.now) as server:
        system = PaymentSystem(store=InMemoryStore(), gateway=server.gateway(), clock=business,
                               wall_clock=wall)  # fmt: skip
        hook = server.stripe.event("customer.created", {"id": "cus_1", "object": "customer"})
        headers = stripe_signed(hook.payload, int(wall.now().timestamp()))
        wall.advance(seconds=300)
        assert system.handle_webhook(hook.payload, headers).result == "ignored"
        wall.advance(seconds=1)
        with pytest.raises(WebhookSignatureError, match="too old"):
            system.handle_webhook(hook.payload, headers)
