"""Webhooks are applied exactly once, in any order, and only when genuine."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import WebhookSignatureError
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import START, state_of, usd


def _enroll_and_pay(system: PaymentSystem, fake: FakeGateway, course: Product) -> str:
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    return result.enrollment_id


@pytest.mark.parametrize("times", [2, 10])
def test_the_same_event_delivered_repeatedly_records_one_payment(
    system: PaymentSystem, fake: FakeGateway, course: Product, times: int
) -> None:
    """Redelivery of a succeeded event is a duplicate: one payment, item paid once."""
    enrollment_id = _enroll_and_pay(system, fake, course)

    outcomes = fake.deliver(system, times=times)

    assert [o.result for o in outcomes] == ["processed"] + ["duplicate"] * (times - 1)
    details = system.payment_details(enrollment_id)
    assert len(details.payments) == 1
    assert [i.status for i in details.items] == [ItemStatus.PAID]
    assert sum(1 for e in system.audit_log() if e.action == "payment.succeeded") == 1


def test_a_failure_event_arriving_after_success_does_not_regress(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Decline then success on one payment, delivered in reverse order: paid stays paid."""
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("insufficient_funds"))
    fake.complete_payment(result.client_secret)

    outcomes = fake.deliver(system, reverse=True)

    assert [(o.event_type, o.result) for o in outcomes] == [
        ("payment_intent.succeeded", "processed"),
        ("payment_intent.payment_failed", "stale"),
    ]
    details = system.payment_details(result.enrollment_id)
    assert [i.status for i in details.items] == [ItemStatus.PAID]
    assert len(details.payments) == 1
    assert details.enrollment.status == EnrollmentStatus.COMPLETED


def test_failure_then_success_in_order_ends_paid(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """An on-session decline waits for the customer; their second card then pays."""
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("insufficient_funds"))
    fake.deliver(system)
    item = system.list_schedule_items(enrollment_id=result.enrollment_id)[0]
    assert item.status == ItemStatus.REQUIRES_PAYMENT_METHOD
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT

    session = system.start_payment(item.id)
    assert session.client_secret == result.client_secret  # same payment, no second intent
    fake.complete_payment(session.client_secret)
    fake.deliver(system)

    details = system.payment_details(result.enrollment_id)
    assert [i.status for i in details.items] == [ItemStatus.PAID]
    assert len(fake.charges) == 1


def test_a_bad_signature_is_refused_and_nothing_is_written(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A webhook signed with another secret raises and changes nothing."""
    enrollment_id = _enroll_and_pay(system, fake, course)
    (genuine,) = fake.take_events()
    forged = FakeGateway(webhook_secret="whsec_attacker", clock=fake._clock).webhook(
        "payment_intent.succeeded", json.loads(genuine.payload)["data"]["object"]
    )
    before = state_of(system)

    with pytest.raises(WebhookSignatureError):
        system.handle_webhook(forged.payload, forged.headers)
    with pytest.raises(WebhookSignatureError):
        system.handle_webhook(genuine.payload + b" ", genuine.headers)

    assert state_of(system) == before
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT


def test_stale_and_future_signatures_are_refused(store: Store, clock: FrozenClock) -> None:
    """Timestamps more than the tolerance from the wall clock, past or future, are refused."""
    wall = FrozenClock(START)
    fake = FakeGateway(clock=clock, wall_clock=wall)
    system = PaymentSystem(store=store, gateway=fake, clock=clock, wall_clock=wall)
    course = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=usd("299.99"),
        auto_assign_payment_plan=True,
    )
    _enroll_and_pay(system, fake, course)
    (genuine,) = fake.take_events()
    wall.advance(seconds=301)
    with pytest.raises(WebhookSignatureError, match="too old"):
        system.handle_webhook(genuine.payload, genuine.headers)
    future = fake.webhook("payment_intent.succeeded", {}, at=wall.now() + timedelta(seconds=301))
    with pytest.raises(WebhookSignatureError, match="future"):
        system.handle_webhook(future.payload, future.headers)


def test_unknown_event_types_are_acknowledged_and_ignored(
    system: PaymentSystem, fake: FakeGateway
) -> None:
    """An event type the library does not act on is ignored, and remembered."""
    hook = fake.webhook("customer.created", {"id": "cus_x", "object": "customer"})

    first = system.handle_webhook(hook.payload, hook.headers)
    second = system.handle_webhook(hook.payload, hook.headers)

    assert (first.result, second.result) == ("ignored", "duplicate")


def test_metadata_pointing_at_another_customers_attempt_is_ignored(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A payment event whose metadata names someone else's attempt changes nothing."""
    victim = system.enroll(user_id="victim", product_id=course.id)
    attacker_customer = fake.ensure_customer("attacker", idempotency_key="x")
    attempt = system.payment_details(victim.enrollment_id).attempts[0]
    hook = fake.webhook(
        "payment_intent.succeeded",
        {
            "id": "pi_attacker",
            "object": "payment_intent",
            "amount": 29999,
            "currency": "usd",
            "customer": attacker_customer,
            "status": "succeeded",
            "metadata": {"attempt_id": attempt.id, "item_id": attempt.item_id},
        },
    )

    outcome = system.handle_webhook(hook.payload, hook.headers)

    assert outcome.result == "ignored"
    details = system.payment_details(victim.enrollment_id)
    assert details.payments == ()
    assert details.items[0].status == ItemStatus.PROCESSING


def test_dashboard_refund_is_recorded_once_whatever_the_order(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """charge.refunded events (two refunds, delivered reversed and twice) record each once."""
    enrollment_id = _enroll_and_pay(system, fake, course)
    fake.deliver(system)
    pi = system.payment_details(enrollment_id).payments[0].gateway_payment_id
    assert pi is not None
    fake.refund_from_dashboard(pi, usd("10.00"))
    fake.refund_from_dashboard(pi, usd("5.00"))

    fake.deliver(system, reverse=True, times=2)

    details = system.payment_details(enrollment_id)
    assert sorted(r.amount.minor for r in details.refunds) == [500, 1000]
    assert details.refunded == usd("15.00")
