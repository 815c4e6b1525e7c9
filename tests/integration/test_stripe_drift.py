"""Drift re-sync end to end: PaymentSystem on SQLite, StripeGateway, the real SDK, local Stripe.

What issue 17 asks of reconcile, over real HTTP: a dashboard refund whose
webhook was dropped is found and applied by the next reconcile, and access
follows; a second reconcile finds nothing; a lost ``payment_intent.succeeded``
is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from enrollpay import EnrollmentStatus, Installments, ItemStatus, Money, PaymentSystem
from enrollpay.clock import SystemClock
from enrollpay.domain.drift import DriftKind
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import StripeServer, isolate_sdk_config, running_server

INTENTS = "/v1/payment_intents"
REFUNDS = "/v1/refunds"


@attrs.frozen
class World:
    """The system under test and the Stripe it talks to."""

    system: PaymentSystem
    server: StripeServer
    clock: FrozenClock


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    """A payment system on an SQLite file and StripeGateway -> local Stripe (clock in 2027)."""
    isolate_sdk_config(monkeypatch, tmp_path)
    clock = FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'school.db'}")
    with running_server(clock=clock.now, signing_clock=SystemClock().now) as server:
        system = PaymentSystem(
            store=store, gateway=server.gateway(), clock=clock, ids=SequentialIds()
        )
        yield World(system, server, clock)
        assert system.verify_audit_chain().ok
    store.close()


def deliver_events(world: World) -> list[str]:
    """Send every event Stripe emitted to the system; return the outcomes."""
    return [
        world.system.handle_webhook(e.payload, dict(e.headers)).result
        for e in world.server.stripe.take_events()
    ]


def enroll_and_pay_first(world: World) -> str:
    """300 USD on 3 installments; the first paid in the browser, its webhook delivered."""
    product = world.system.register_product(
        product_type="course",
        product_id="react",
        name="React Masterclass",
        price=Money.of("300.00", "USD"),
        payment_plan=Installments(3),
    )
    result = world.system.enroll(user_id="u-1", product_id=product.id)
    (intent,) = world.server.stripe.intents.values()
    world.server.stripe.complete_payment(intent["id"], payment_method="pm_card_visa")
    assert deliver_events(world) == ["processed"]
    return result.enrollment_id


def test_a_dashboard_refund_with_its_webhook_dropped_is_applied_and_access_follows(
    world: World,
) -> None:
    """All 100.00 refunded in the dashboard, charge.refunded lost: access ends; then in sync."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    (payment,) = system.payment_details(enrollment_id).payments
    clock.advance(days=2)
    made = server.stripe.refund_from_dashboard(str(payment.gateway_payment_id), 10000)
    assert [e.event_type for e in server.stripe.take_events()] == ["charge.refunded"]  # dropped

    report = system.reconcile()

    (entry,) = report.drift.entries
    assert (entry.object_kind, entry.gateway_id, entry.kind, entry.applied) == (
        "refund",
        made["id"],
        DriftKind.REFUND_MISSING,
        True,
    )
    details = system.payment_details(enrollment_id)
    (refund,) = details.refunds
    assert (refund.amount, refund.status, refund.gateway_refund_id) == (
        Money.of("100.00", "USD"),
        "succeeded",
        made["id"],
    )
    assert details.enrollment.status == EnrollmentStatus.CANCELLED
    assert not details.has_access
    assert [i.status for i in details.items] == [
        ItemStatus.PAID,
        ItemStatus.CANCELLED,
        ItemStatus.CANCELLED,
    ]
    listed = server.requests_to("GET", REFUNDS)[-1]
    since = int((clock.now() - system.config.drift_lookback).timestamp())
    assert listed.query["created[gte]"] == [str(since)]
    assert (report.needs_person, report.in_sync) == (False, False)
    assert report.drift.cursors == {
        "payments": clock.now() - timedelta(days=2),
        "refunds": clock.now(),
        "disputes": None,
    }

    clock.advance(hours=1)
    again = system.reconcile()

    assert again.drift.entries == ()
    assert (again.in_sync, again.needs_person) == (True, False)
    relisted = server.requests_to("GET", REFUNDS)[-1]
    cursor = clock.now() - timedelta(hours=1)
    overlap = system.config.drift_overlap
    assert relisted.query["created[gte]"] == [str(int((cursor - overlap).timestamp()))]
    assert len(system.payment_details(enrollment_id).refunds) == 1


def test_a_partial_dashboard_refund_keeps_access(world: World) -> None:
    """30.00 of 100.00 given back elsewhere: recorded, the student keeps the course."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    (payment,) = system.payment_details(enrollment_id).payments
    server.stripe.refund_from_dashboard(str(payment.gateway_payment_id), 3000)
    server.stripe.take_events()

    (entry,) = system.reconcile().drift.entries

    assert (entry.kind, entry.amount) == (DriftKind.REFUND_MISSING, Money.of("30.00", "USD"))
    details = system.payment_details(enrollment_id)
    assert (details.refunded, details.has_access) == (Money.of("30.00", "USD"), True)
    assert details.enrollment.status == EnrollmentStatus.ACTIVE


def test_a_lost_payment_intent_succeeded_is_found(world: World) -> None:
    """Declined off-session, then paid on Stripe's page; both webhooks lost: the walk records it."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    second = system.payment_details(enrollment_id).items[1]
    clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    server.stripe.script_charge("insufficient_funds")
    (declined,) = system.collect_due().outcomes
    assert declined.result == "failed"
    attempt = system.payment_details(enrollment_id).attempts[-1]
    assert attempt.gateway_payment_id is not None
    clock.advance(hours=3)
    server.stripe.complete_payment(attempt.gateway_payment_id, payment_method="pm_card_visa")
    server.stripe.take_events()  # payment_failed and succeeded: both lost

    report = system.reconcile()

    (entry,) = report.drift.entries
    assert (entry.object_kind, entry.gateway_id, entry.kind, entry.applied) == (
        "payment",
        attempt.gateway_payment_id,
        DriftKind.PAYMENT_MISSING,
        True,
    )
    assert entry.change == "payment recorded: item paid, enrollment active"
    details = system.payment_details(enrollment_id)
    assert details.items[1].status == ItemStatus.PAID
    assert details.enrollment.status == EnrollmentStatus.ACTIVE
    assert details.paid == Money.of("200.00", "USD")
    assert len(server.stripe.succeeded_charges()) == 2
    assert system.reconcile().in_sync
    assert deliver_events(world) == []


def test_an_amount_that_differs_is_reported_for_a_person(world: World) -> None:
    """A 120.00 payment carrying our attempt's metadata for 100.00: reported, not applied."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    second = system.payment_details(enrollment_id).items[1]
    clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    server.drop(method="POST", path=INTENTS, times=3)  # the charge never reaches Stripe
    (lost,) = system.collect_due().outcomes
    assert lost.result == "unknown"
    customer = next(iter(server.stripe.customers))
    odd = server.stripe.handle(
        "POST",
        INTENTS,
        {
            "amount": "12000",
            "currency": "usd",
            "customer": customer,
            "metadata": {"attempt_id": str(lost.attempt_id), "enrollment_id": enrollment_id},
        },
        None,
    )[1]
    server.stripe.complete_payment(odd["id"])
    server.stripe.take_events()

    report = system.reconcile()

    (entry,) = report.drift.entries
    assert (entry.gateway_id, entry.kind, entry.applied) == (
        odd["id"],
        DriftKind.AMOUNT_MISMATCH,
        False,
    )
    assert report.needs_person
    assert system.payment_details(enrollment_id).paid == Money.of("100.00", "USD")


def test_a_dispute_opened_then_won_with_every_webhook_dropped(world: World) -> None:
    """Each reconcile finds the dispute's stage: suspended when the funds go, restored when won."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    (payment,) = system.payment_details(enrollment_id).payments
    assert payment.gateway_payment_id is not None
    clock.advance(days=1)
    dispute_id = server.stripe.create_dispute(payment.gateway_payment_id)
    assert [e.event_type for e in server.stripe.take_events()] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]

    (opened,) = system.reconcile().drift.entries

    assert (opened.object_kind, opened.gateway_id, opened.kind, opened.applied) == (
        "dispute",
        dispute_id,
        DriftKind.DISPUTE_MISSING,
        True,
    )
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.SUSPENDED, False)
    assert details.disputed == Money.of("100.00", "USD")

    clock.advance(days=30)  # hourly runs in between would have moved the cursor on
    assert system.reconcile().in_sync
    server.stripe.submit_evidence(dispute_id)
    server.stripe.decide_dispute(dispute_id, "won")
    server.stripe.take_events()  # closed and funds_reinstated: dropped

    won = system.reconcile()

    (entry,) = won.drift.entries
    assert (entry.kind, entry.applied) == (DriftKind.DISPUTE_MOVED, True)
    details = system.payment_details(enrollment_id)
    (dispute,) = details.disputes
    assert dispute.status == "won"
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.ACTIVE, True)
    listed = server.requests_to("GET", "/v1/disputes")[-1]
    reach = dispute.opened_at - system.config.drift_lookback
    assert listed.query["created[gte]"] == [str(int(reach.timestamp()))]
    assert system.reconcile().in_sync
