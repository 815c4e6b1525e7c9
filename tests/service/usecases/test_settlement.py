"""Settling a gateway outcome (``service/settlement.py``), whoever reports it.

A charge's answer, a webhook and reconciliation all end in one place: a
success is recorded once, partial and excess amounts follow the one
partial-payment rule, money for an item that no longer wants it is kept
and flagged, and settled attempts never move back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Interval,
    ItemStatus,
    PaymentSystem,
    Subscription,
)
from enrollpay.domain.records import Product
from enrollpay.testing import FakeGateway, FrozenClock, SignedWebhook
from tests.service.conftest import usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    calls_of,
    enroll_and_pay,
    kinds,
    usd_data,
)


def intent_event(
    fake: FakeGateway,
    event_type: str,
    *,
    payment_id: str,
    minor: int,
    customer: str,
    status: str = "succeeded",
    method: str | None = "pm_card_visa",
    metadata: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> SignedWebhook:
    """A signed ``payment_intent.*`` event about ``payment_id``, as the gateway sends it."""
    return fake.webhook(
        event_type,
        {
            "id": payment_id,
            "object": "payment_intent",
            "amount": minor,
            "currency": "usd",
            "customer": customer,
            "payment_method": method,
            "status": status,
            "metadata": metadata or {},
            "last_payment_error": error,
        },
    )


@pytest.fixture
def checkout(system: PaymentSystem, outbox: Outbox, three: Product) -> tuple[str, str, str]:
    """An open enrollment checkout: (enrollment id, gateway payment id, customer id)."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.gateway_payment_id is not None
    outbox.mark()
    return result.enrollment_id, attempt.gateway_payment_id, "cus_fake_000001"


def test_a_success_reported_by_the_charge_and_its_webhook_is_recorded_once(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The synchronous answer records it; the webhook is stale and writes no event."""
    result = enroll_and_pay(system, fake, three)
    clock.set(SECOND_DUE)
    system.collect_due()
    outbox.mark()

    outcomes = fake.deliver(system)

    assert [(o.result, o.detail) for o in outcomes] == [("stale", "already paid")]
    assert outbox.new() == []
    assert len(system.payment_details(result.enrollment_id).payments) == 2


def test_a_partial_gateway_payment_leaves_the_rest_scheduled(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    checkout: tuple[str, str, str],
) -> None:
    """40.00 of 100.00: ``installment.partially_paid``; the item is collectible for the rest."""
    enrollment_id, payment_id, customer = checkout
    hook = intent_event(
        fake, "payment_intent.succeeded", payment_id=payment_id, minor=4000, customer=customer
    )

    outcome = system.handle_webhook(hook.payload, hook.headers)

    assert outcome.result == "processed"
    (event,) = outbox.new()
    item = system.list_schedule_items(enrollment_id=enrollment_id)[0]
    assert event.kind == "installment.partially_paid"
    assert dict(event.data) == {
        "item_id": item.id,
        "seq": 1,
        "received": usd_data(4000),
        "paid": usd_data(4000),
    }
    assert (item.status, item.amount_paid, item.outstanding) == (
        ItemStatus.SCHEDULED,
        usd("40.00"),
        usd("60.00"),
    )
    assert item.lease_until is None
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT


def test_the_rest_of_a_partial_payment_is_charged_to_the_saved_card(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    checkout: tuple[str, str, str],
) -> None:
    """The next run charges 60.00 off-session; the item is paid, the enrollment active."""
    enrollment_id, payment_id, customer = checkout
    hook = intent_event(
        fake, "payment_intent.succeeded", payment_id=payment_id, minor=4000, customer=customer
    )
    system.handle_webhook(hook.payload, hook.headers)
    fake.attach_payment_method(customer, "pm_card_visa")  # the card the checkout used
    outbox.mark()

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    (charge,) = calls_of(fake, "charge_off_session")
    assert charge.params["amount"] == usd("60.00")
    assert charge.params["payment_method_id"] == "pm_card_visa"
    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert events[0].data["paid"] == usd_data(10000)
    assert system.payment_details(enrollment_id).paid == usd("100.00")


def test_more_than_the_item_pays_it_and_flags_the_excess(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    checkout: tuple[str, str, str],
) -> None:
    """150.00 for a 100.00 item: paid (paid 150.00 in the event), ``payment.excess`` audited."""
    enrollment_id, payment_id, customer = checkout
    hook = intent_event(
        fake, "payment_intent.succeeded", payment_id=payment_id, minor=15000, customer=customer
    )

    system.handle_webhook(hook.payload, hook.headers)

    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert events[0].data["amount"] == usd_data(10000)
    assert events[0].data["paid"] == usd_data(15000)
    (payment,) = system.payment_details(enrollment_id).payments
    assert payment.amount == usd("150.00")
    (excess,) = [e for e in system.audit_log(entity_id=payment.id) if e.action == "payment.excess"]
    assert excess.data["excess"] == usd_data(5000)


def test_money_for_an_item_that_was_waived_meanwhile_is_kept_and_flagged(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, checkout: tuple[str, str, str]
) -> None:
    """Paid at the checkout as staff waived the item: recorded, unapplied, no installment event.

    The first card was declined, so the checkout stays open (the item waits
    for a card); the student's second card succeeds while the webhook is on
    its way, and the waiver's closing of the checkout finds it paid.
    """
    enrollment_id, payment_id, _ = checkout
    fake.complete_payment(payment_id, fake.decline("card_declined"))
    fake.deliver(system)
    fake.complete_payment(payment_id)  # the webhook is still on its way
    item_id = system.list_schedule_items(enrollment_id=enrollment_id)[0].id
    outbox.mark()

    system.waive_item(item_id, actor="admin")

    assert kinds(outbox.new()) == ["installment.waived", "enrollment.activated", "access.granted"]
    (payment,) = system.payment_details(enrollment_id).payments
    assert payment.amount == usd("100.00")
    assert system.get_schedule_item(item_id).status == ItemStatus.WAIVED
    (flag,) = [e for e in system.audit_log(entity_id=payment.id) if e.action == "payment.unapplied"]
    assert flag.data["item_status"] == "waived"
    outbox.mark()
    fake.deliver(system)
    assert outbox.new() == []


def test_a_failure_after_a_success_does_not_move_the_item_back(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, checkout: tuple[str, str, str]
) -> None:
    """A late ``payment_failed`` for a paid attempt is stale: nothing written."""
    enrollment_id, payment_id, customer = checkout
    fake.complete_payment(payment_id)
    fake.deliver(system)
    outbox.mark()
    late = intent_event(
        fake, "payment_intent.payment_failed", payment_id=payment_id, minor=10000,
        customer=customer, status="requires_payment_method",
        error={"code": "card_declined", "decline_code": "insufficient_funds", "message": "no"},
    )  # fmt: skip

    outcome = system.handle_webhook(late.payload, late.headers)

    assert outcome.result == "stale"
    assert outbox.new() == []
    details = system.payment_details(enrollment_id)
    assert details.items[0].status == ItemStatus.PAID
    assert details.attempts[0].status == AttemptStatus.SUCCEEDED


def test_a_repeated_requires_action_is_stale(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The second report of the same authentication request changes nothing."""
    result = enroll_and_pay(system, fake, three)
    fake.script("requires_action")
    clock.set(SECOND_DUE)
    system.collect_due()
    outbox.mark()
    attempt = system.payment_details(result.enrollment_id).attempts[-1]
    assert attempt.gateway_payment_id is not None
    again = intent_event(
        fake, "payment_intent.requires_action", payment_id=attempt.gateway_payment_id,
        minor=10000, customer="cus_fake_000001", status="requires_action",
    )  # fmt: skip

    outcome = system.handle_webhook(again.payload, again.headers)

    assert outcome.result == "stale"
    assert outbox.new() == []


def test_a_checkout_card_becomes_the_saved_card_for_later_charges(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Paid on-session with a Mastercard: the next installment is charged to it."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, payment_method="pm_card_mastercard")
    fake.deliver(system)
    clock.set(SECOND_DUE)

    system.collect_due()

    (charge,) = calls_of(fake, "charge_off_session")
    assert charge.params["payment_method_id"] == "pm_card_mastercard"
    saved = system.audit_log(entity_type="customer", entity_id="u-1")
    assert "customer.payment_method_saved" in [e.action for e in saved]


def test_each_subscription_payment_keeps_the_horizon_scheduled(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox
) -> None:
    """Paying a period schedules the next one: open items stay at the horizon, no extra events."""
    product = system.register_product(
        product_type="membership", product_id="club", name="Club", price=usd("20.00"),
        payment_plan=Subscription(Interval.months(1)),
    )  # fmt: skip
    horizon = system.config.subscription_horizon
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert len(result.schedule) == horizon
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)

    items = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert len(items) == horizon + 1
    assert [i.seq for i in items] == list(range(1, horizon + 2))
    assert sum(i.status != ItemStatus.PAID for i in items) == horizon
    assert items[-1].due == datetime(2028, 3, 15, tzinfo=UTC).date()
    assert kinds(outbox.new()) == [
        "enrollment.created",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]


def test_a_payment_event_for_no_attempt_of_ours_is_ignored(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, checkout: tuple[str, str, str]
) -> None:
    """Unknown payment id and no metadata: ignored, nothing written but the receipt."""
    enrollment_id, _, customer = checkout
    stray = intent_event(
        fake, "payment_intent.succeeded", payment_id="pi_elsewhere", minor=10000,
        customer=customer,
    )  # fmt: skip
    before = system.payment_details(enrollment_id)

    outcome = system.handle_webhook(stray.payload, stray.headers)

    assert (outcome.result, outcome.detail) == (
        "ignored",
        "no attempt of ours matches this payment",
    )
    assert outbox.new() == []
    assert system.payment_details(enrollment_id) == before


def test_metadata_naming_our_attempt_with_another_amount_is_ignored(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, checkout: tuple[str, str, str]
) -> None:
    """Found only by metadata, the event must agree on the amount."""
    enrollment_id, _, customer = checkout
    (attempt,) = system.payment_details(enrollment_id).attempts
    odd = intent_event(
        fake, "payment_intent.succeeded", payment_id="pi_other", minor=1,
        customer=customer, metadata={"attempt_id": attempt.id},
    )  # fmt: skip

    outcome = system.handle_webhook(odd.payload, odd.headers)

    assert outcome.result == "ignored"
    assert outbox.new() == []
    assert system.payment_details(enrollment_id).payments == ()
