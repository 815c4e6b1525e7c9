"""Enrollments billed by a gateway subscription, against the fake gateway, on every store.

The gateway's moves (a renewal, a status change, an invoice paid or
declined, the end) are played by the fake; their webhooks are then
delivered in order, shuffled and repeated, and the outcomes compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from enrollpay import Money, PaymentSystem
from enrollpay.domain.calendar import Interval
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.plans import Subscription
from enrollpay.errors import GatewayNotConfiguredError, InvalidStateError
from enrollpay.gateways.fake.webhooks import SignedWebhook
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

from .conftest import START

FEE = Money.of("20", "USD")
DAY = timedelta(days=1)


def _system(store: Store) -> tuple[PaymentSystem, FakeGateway, FrozenClock]:
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock, id_namespace="t")
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
    return system, fake, clock


def _subscribed(system: PaymentSystem) -> tuple[str, str]:
    """A monthly 20 USD membership, enrolled and handed to the gateway's billing."""
    product = system.register_product(
        product_type="membership", product_id="club", name="Club", price=FEE,
        payment_plan=Subscription(Interval.months(1)),
    )  # fmt: skip
    enrollment_id = system.enroll(user_id="u-1", product_id=product.id).enrollment_id
    info = system.subscribe_at_gateway(enrollment_id, price_id="price_club")
    return enrollment_id, info.subscription_id


History = tuple[PaymentSystem, FakeGateway, FrozenClock, str, list[SignedWebhook]]


def _history(store: Store) -> History:
    """Created, first invoice paid, active; renewed into past_due, its invoice declined twice."""
    system, fake, clock = _system(store)
    enrollment_id, sub = _subscribed(system)
    clock.advance(timedelta(minutes=1))
    fake.billing.bill_subscription(sub, FEE)
    clock.advance(timedelta(minutes=1))
    fake.billing.update_subscription(sub, status="active")
    clock.set(START.replace(month=4))
    fake.billing.update_subscription(sub, renew=True)
    failed = fake.billing.bill_subscription(sub, FEE, outcome="insufficient_funds")
    clock.advance(timedelta(minutes=1))
    fake.billing.update_subscription(sub, status="past_due")
    clock.advance(2 * DAY)
    fake.billing.bill_subscription(sub, FEE, outcome="insufficient_funds", invoice_id=failed)
    return system, fake, clock, enrollment_id, fake.take_events()


def _outcome(system: PaymentSystem, enrollment_id: str) -> dict[str, Any]:
    """What the store says, without the ids and times the order of delivery may change."""
    enrollment = system.get_enrollment(enrollment_id)
    items = sorted(system.list_schedule_items(enrollment_id=enrollment_id), key=lambda i: i.seq)
    details = system.payment_details(enrollment_id)
    return {
        "status": enrollment.status,
        "subscription": enrollment.subscription,
        "items": [(i.seq, i.status, i.amount_paid, i.failures) for i in items],
        "paid": sorted(p.amount.minor for p in details.payments),
        "attempts": sorted((a.idempotency_key, a.status) for a in details.attempts),
    }


def _deliver(system: PaymentSystem, webhooks: Sequence[SignedWebhook]) -> list[str]:
    return [system.handle_webhook(w.payload, w.headers).result for w in webhooks]


def test_subscribing_stores_the_subscription_id_once(store: Store) -> None:
    """The id is on the enrollment (subscription.created); a second call makes nothing new."""
    system, fake, _clock = _system(store)
    enrollment_id, sub = _subscribed(system)
    assert system.get_enrollment(enrollment_id).gateway_subscription_id == sub
    again = system.subscribe_at_gateway(enrollment_id, price_id="price_club")
    assert again.subscription_id == sub
    assert len(fake.billing.subscriptions) == 1
    assert [e.data for e in system.list_events() if e.kind == "subscription.created"] == [
        {"subscription_id": sub}
    ]
    created = fake.take_events()
    assert [w.event_type for w in created] == ["customer.subscription.created"]
    assert _deliver(system, created) == ["processed"]
    assert system.get_enrollment(enrollment_id).subscription.status == "incomplete"  # type: ignore[union-attr]


def test_a_cancelled_enrollment_or_a_gateway_without_billing_is_refused(store: Store) -> None:
    """Nothing is asked of the gateway for a cancelled enrollment; no gateway, no subscription."""
    system, fake, _clock = _system(store)
    enrollment_id, _sub = _subscribed(system)
    fake.take_events()
    system.cancel_enrollment(enrollment_id, reason="left", actor="admin")
    with pytest.raises(InvalidStateError):
        system.subscribe_at_gateway(enrollment_id, price_id="price_club")
    # The cancellation ended the subscription at the gateway; no second one was made.
    assert [s["status"] for s in fake.billing.subscriptions.values()] == ["canceled"]
    bare = PaymentSystem(store=store, clock=FrozenClock(START))
    with pytest.raises(GatewayNotConfiguredError):
        bare.subscribe_at_gateway(enrollment_id, price_id="price_club")


def test_in_order_the_invoices_settle_the_items_and_the_decline_starts_dunning(
    store: Store,
) -> None:
    """First period paid once; the renewal's declined invoice fails item 2 with a retry pending."""
    system, _fake, _clock, enrollment_id, webhooks = _history(store)
    assert [w.event_type for w in webhooks] == [
        "customer.subscription.created",
        "invoice.paid",
        "customer.subscription.updated",
        "customer.subscription.updated",
        "invoice.payment_failed",
        "customer.subscription.updated",
        "invoice.payment_failed",
    ]
    mark = len(system.list_events())
    assert _deliver(system, webhooks) == ["processed"] * 7
    outcome = _outcome(system, enrollment_id)
    assert outcome["status"] == EnrollmentStatus.PAST_DUE
    assert outcome["subscription"].status == "past_due"
    assert outcome["items"][:2] == [
        (1, ItemStatus.PAID, FEE, 0),
        (2, ItemStatus.FAILED, Money(0, "USD"), 2),
    ]
    assert outcome["paid"] == [2000]
    kinds = [e.kind for e in system.list_events()[mark:]]
    assert kinds.count("installment.paid") == 1
    assert kinds.count("payment.failed") == 2
    assert "subscription.updated" in kinds
    assert "enrollment.past_due" in kinds
    second = sorted(system.list_schedule_items(enrollment_id=enrollment_id), key=lambda i: i.seq)[1]
    # The retry rules as for a declined charge: 3 days after the second failure.
    assert second.next_attempt_at == system.clock.now() + 3 * DAY
    # Delivered again: every one is a duplicate, nothing moves.
    assert set(_deliver(system, webhooks)) == {"duplicate"}
    assert _outcome(system, enrollment_id) == outcome


def test_collection_leaves_a_gateway_billed_item_to_the_gateway(store: Store) -> None:
    """collect_due charges nothing for it, even with its item due and a card saved."""
    system, fake, _clock, enrollment_id, webhooks = _history(store)
    _deliver(system, webhooks)
    charges_before = len(fake.charges)
    system.collect_due(now=system.clock.now() + 30 * DAY)
    assert len(fake.charges) == charges_before
    assert (
        sorted(system.list_schedule_items(enrollment_id=enrollment_id), key=lambda i: i.seq)[
            1
        ].status
        == ItemStatus.FAILED
    )


def test_any_order_with_repeats_ends_as_in_order(store_factory: Callable[[], Store]) -> None:
    """Shuffled (every rotation and a reversal) and each event twice: the in-order outcome."""
    system, _f, _c, enrollment_id, webhooks = _history(store_factory())
    _deliver(system, webhooks)
    expected = _outcome(system, enrollment_id)
    n = len(webhooks)
    orders = [list(reversed(range(n)))] + [[(i + k) % n for i in range(n)] for k in range(1, n)]
    for order in orders[:4]:
        other, _f2, _c2, other_id, again = _history(store_factory())
        shuffled = [again[i] for i in order]
        _deliver(other, shuffled + shuffled[::2])
        assert _outcome(other, other_id) == expected, order


def test_every_order_of_the_subscription_reports_ends_cancelled_as_in_order(
    store_factory: Callable[[], Store],
) -> None:
    """Created, updated to past_due, deleted: all six orders, each with a repeat, end cancelled."""

    def reports(store: Store) -> tuple[PaymentSystem, str, list[SignedWebhook]]:
        system, fake, clock = _system(store)
        enrollment_id, sub = _subscribed(system)
        clock.advance(DAY)
        fake.billing.update_subscription(sub, status="past_due")
        clock.advance(DAY)
        fake.cancel_subscription(sub, idempotency_key="end")
        return system, enrollment_id, fake.take_events()

    system, enrollment_id, webhooks = reports(store_factory())
    assert _deliver(system, webhooks) == ["processed"] * 3
    expected = _outcome(system, enrollment_id)
    assert expected["status"] == EnrollmentStatus.CANCELLED
    assert expected["subscription"].status == "canceled"
    for order in itertools.permutations(range(3)):
        other, other_id, again = reports(store_factory())
        shuffled = [again[i] for i in order]
        results = _deliver(other, [shuffled[0], *shuffled, shuffled[-1]])
        assert results.count("duplicate") == 2
        assert _outcome(other, other_id) == expected, order


def test_a_report_without_a_status_is_not_guessed_at(store: Store) -> None:
    """An update that states no status changes nothing; a deletion without one is a cancellation."""
    system, fake, _clock = _system(store)
    enrollment_id, sub = _subscribed(system)
    fake.take_events()
    bare = fake.webhook("customer.subscription.updated", {"id": sub, "object": "subscription"})
    outcome = system.handle_webhook(bare.payload, bare.headers)
    assert (outcome.result, outcome.detail) == (
        "ignored",
        "the event states no subscription status",
    )
    assert system.get_enrollment(enrollment_id).subscription is None
    gone = fake.webhook("customer.subscription.deleted", {"id": sub, "object": "subscription"})
    assert system.handle_webhook(gone.payload, gone.headers).detail == "enrollment cancelled"
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert enrollment.subscription is not None
    assert enrollment.subscription.status == "canceled"
