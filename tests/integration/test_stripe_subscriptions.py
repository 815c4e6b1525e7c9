"""Gateway subscriptions end to end: PaymentSystem on StripeGateway, the real SDK, a local Stripe.

The local Stripe answers in the shapes of the API version the SDK pins
(periods on subscription items, an invoice's subscription under
``parent``, its PaymentIntent under ``payments``); the webhooks it signs
are delivered in order, then shuffled and repeated to fresh systems, and
the stores compared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from enrollpay import EnrollmentStatus, Interval, ItemStatus, Money, PaymentSystem, Subscription
from enrollpay.clock import SystemClock
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import (
    SignedEvent,
    StripeServer,
    isolate_sdk_config,
    running_server,
)

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
FEE = Money.of("20", "USD")


@contextmanager
def _stripe_history() -> Iterator[tuple[PaymentSystem, StripeServer, str, list[SignedEvent]]]:
    """Subscribed; first invoice paid; active; renewed, declined, past_due, declined again."""
    clock = FrozenClock(START)
    with running_server(clock=clock.now, signing_clock=SystemClock().now) as server:
        system = PaymentSystem(store=InMemoryStore(), gateway=server.gateway(), clock=clock,
                               ids=SequentialIds())  # fmt: skip
        product = system.register_product(
            product_type="membership", product_id="club", name="Club", price=FEE,
            payment_plan=Subscription(Interval.months(1)),
        )  # fmt: skip
        enrollment_id = system.enroll(user_id="u-1", product_id=product.id).enrollment_id
        sub = system.subscribe_at_gateway(enrollment_id, price_id="price_club").subscription_id
        stripe = server.stripe
        clock.advance(timedelta(minutes=1))
        stripe.bill_subscription(sub, 2000)
        clock.advance(timedelta(minutes=1))
        stripe.advance_subscription(sub, status="active")
        clock.set(START.replace(month=2))
        stripe.advance_subscription(sub, renew=True)
        failed = stripe.bill_subscription(sub, 2000, outcome="card_declined")
        clock.advance(timedelta(minutes=1))
        stripe.advance_subscription(sub, status="past_due")
        clock.advance(timedelta(days=3))
        stripe.bill_subscription(sub, 2000, outcome="card_declined", invoice_id=failed)
        yield system, server, enrollment_id, stripe.take_events()


def _deliver(system: PaymentSystem, events: Sequence[SignedEvent]) -> list[str]:
    return [system.handle_webhook(e.payload, dict(e.headers)).result for e in events]


def _outcome(system: PaymentSystem, enrollment_id: str) -> dict[str, Any]:
    enrollment = system.get_enrollment(enrollment_id)
    details = system.payment_details(enrollment_id)
    return {
        "status": enrollment.status,
        "subscription": enrollment.subscription,
        "items": [(i.seq, i.status, i.amount_paid, i.failures) for i in details.items],
        "payments": sorted((p.amount.minor, p.gateway_payment_id) for p in details.payments),
        "attempts": sorted((a.idempotency_key, a.status) for a in details.attempts),
    }


@pytest.fixture(autouse=True)
def _sdk_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_sdk_config(monkeypatch, tmp_path)


def test_stripe_subscription_events_are_read_as_stripe_sends_them() -> None:
    """The item's period, the invoice's subscription, try number, period and PaymentIntent."""
    with _stripe_history() as (system, server, _enrollment_id, events):
        gateway = server.gateway()
        parsed = [gateway.parse_webhook(e.payload, dict(e.headers), now=datetime.now(UTC))
                  for e in events]  # fmt: skip
        renewed = parsed[3]
        item = server.stripe.subscriptions[renewed.subscription_id or ""]["items"]["data"][0]
        assert renewed.subscription_state == SubscriptionState(
            status="active",
            as_of=START.replace(month=2),
            current_period_start=datetime.fromtimestamp(item["current_period_start"], UTC),
            current_period_end=datetime.fromtimestamp(item["current_period_end"], UTC),
        )
        assert renewed.subscription_state.current_period_start == START.replace(month=2)
        retried = parsed[-1]
        assert (retried.kind, retried.subscription_id, retried.invoice_attempt) == (
            "invoice_payment_failed",
            renewed.subscription_id,
            2,
        )
        assert retried.invoice_period_start == START.replace(month=2)
        assert retried.amount == FEE
        invoice = server.stripe.invoices[retried.invoice_id or ""]
        assert (
            retried.gateway_payment_id
            == invoice["payments"]["data"][-1]["payment"]["payment_intent"]
        )
        assert system.get_enrollment(_enrollment_id).gateway_subscription_id == (
            renewed.subscription_id
        )


def test_in_order_over_http_the_invoices_settle_the_items_and_dunning_starts() -> None:
    """First period paid once; the renewal declined twice: item 2 failed twice, past_due."""
    with _stripe_history() as (system, _server, enrollment_id, events):
        assert _deliver(system, events) == ["processed"] * 7
        outcome = _outcome(system, enrollment_id)
        assert outcome["status"] == EnrollmentStatus.PAST_DUE
        assert outcome["subscription"].status == "past_due"
        assert outcome["items"][:2] == [
            (1, ItemStatus.PAID, FEE, 0),
            (2, ItemStatus.FAILED, Money(0, "USD"), 2),
        ]
        assert [amount for amount, _pi in outcome["payments"]] == [2000]
        assert set(_deliver(system, events)) == {"duplicate"}
        assert _outcome(system, enrollment_id) == outcome


@pytest.mark.parametrize(
    "order",
    [[6, 5, 4, 3, 2, 1, 0], [3, 0, 6, 1, 5, 2, 4], [4, 6, 2, 0, 3, 5, 1]],
    ids=["reversed", "mixed", "failures-first"],
)
def test_shuffled_and_repeated_over_http_ends_as_in_order(order: list[int]) -> None:
    """Each order, with every other event sent twice, stores what in-order delivery stores."""
    with _stripe_history() as (system, _server, enrollment_id, events):
        _deliver(system, events)
        expected = _outcome(system, enrollment_id)
    with _stripe_history() as (system, _server, enrollment_id, events):
        shuffled = [events[i] for i in order]
        results = _deliver(system, shuffled + shuffled[::2])
        assert results.count("duplicate") == len(shuffled[::2])
        assert _outcome(system, enrollment_id) == expected


def test_deleted_at_stripe_cancels_the_enrollment_whatever_the_order() -> None:
    """created, updated to past_due, deleted: the deletion first or last, the enrollment ends."""
    runs = []
    for first in (False, True):
        with _stripe_history() as (system, server, enrollment_id, events):
            sub = system.get_enrollment(enrollment_id).gateway_subscription_id or ""
            server.gateway().cancel_subscription(sub, idempotency_key="end")
            (deleted,) = server.stripe.take_events()
            updates = [events[0], events[5]]
            order = [deleted, *updates, deleted] if first else [*updates, deleted, updates[0]]
            _deliver(system, order)
            enrollment = system.get_enrollment(enrollment_id)
            assert enrollment.status == EnrollmentStatus.CANCELLED
            assert enrollment.subscription is not None
            assert enrollment.subscription.status == "canceled"
            runs.append((enrollment.status, enrollment.subscription))
    assert runs[0] == runs[1]
