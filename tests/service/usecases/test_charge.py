"""Charging one claimed item (``service/charge.py``), driven through ``collect_due``.

The attempt is written before the gateway call; abandoned checkouts are
cancelled before a saved card is charged; outages and slow settlements
leave the attempt unknown; a refused request asks for a new card.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayRequestError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    calls_of,
    kinds,
    save_card,
)

AFTER_WINDOW = timedelta(hours=24)


def test_an_abandoned_checkout_is_cancelled_then_the_saved_card_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """After the window: cancel (keyed by the attempt), ``payment.canceled``, attempt 2 pays."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    save_card(system, fake, "u-1", "pm_u1")
    (checkout,) = system.payment_details(result.enrollment_id).attempts
    outbox.mark()
    before = len(fake.calls)
    clock.advance(AFTER_WINDOW)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    assert [c.verb for c in fake.calls[before:]] == ["cancel_payment", "charge_off_session"]
    (cancel,) = calls_of(fake, "cancel_payment", before)
    assert cancel.params == {
        "gateway_payment_id": checkout.gateway_payment_id,
        "idempotency_key": f"cancel:{checkout.id}",
    }
    (charge,) = calls_of(fake, "charge_off_session", before)
    assert charge.params["payment_method_id"] == "pm_u1"
    assert charge.params["idempotency_key"] == f"item:{checkout.item_id}:attempt:2"
    events = outbox.new()
    assert kinds(events) == [
        "payment.canceled",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]
    assert dict(events[0].data) == {
        "item_id": checkout.item_id,
        "attempt_id": checkout.id,
        "number": 1,
    }
    first, second = system.payment_details(result.enrollment_id).attempts
    assert (first.status, second.status) == (AttemptStatus.CANCELED, AttemptStatus.SUCCEEDED)
    assert second.mode == "off_session"
    assert len(fake.charges) == 1
    assert result.client_secret is not None
    with pytest.raises(GatewayRequestError):
        fake.complete_payment(result.client_secret)


def test_inside_the_checkout_window_the_open_checkout_is_left_alone(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """22 hours in: not claimed, no call, no event."""
    system.enroll(user_id="u-1", product_id=three.id)
    save_card(system, fake, "u-1", "pm_u1")
    outbox.mark()
    before = len(fake.calls)
    clock.advance(hours=22)

    assert system.collect_due().outcomes == ()
    assert fake.calls[before:] == []
    assert outbox.new() == []


def test_an_abandoned_checkout_without_a_saved_card_waits_for_one(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Cancelled at the gateway, then requires_payment_method (reason: no saved card)."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    outbox.mark()
    clock.advance(AFTER_WINDOW)

    (outcome,) = system.collect_due().outcomes

    assert (outcome.result, outcome.attempt_id) == ("requires_payment_method", None)
    events = outbox.new()
    assert kinds(events) == ["payment.canceled", "installment.requires_payment_method"]
    assert dict(events[1].data) == {
        "item_id": result.schedule[0].id,
        "seq": 1,
        "reason": "no saved payment method",
    }
    assert calls_of(fake, "charge_off_session") == []
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT


def test_a_checkout_paid_while_its_webhook_was_lost_is_recorded_not_charged_again(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The cancel finds it succeeded: the payment is recorded; no off-session charge."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.take_events()  # lost
    outbox.mark()
    clock.advance(AFTER_WINDOW)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    assert calls_of(fake, "charge_off_session") == []
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert len(fake.charges) == 1


def test_an_outage_while_closing_a_checkout_postpones_the_item(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The cancel cannot reach the gateway: skipped, leased another period, nothing charged."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    save_card(system, fake, "u-1", "pm_u1")
    outbox.mark()
    clock.advance(AFTER_WINDOW)
    fake.script("timeout_before", verb="cancel_payment")

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "skipped"
    item = system.get_schedule_item(result.schedule[0].id)
    assert item.status == ItemStatus.PROCESSING
    assert item.lease_until == clock.now() + system.config.lease
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.PENDING
    assert outbox.new() == []
    assert calls_of(fake, "charge_off_session") == []

    clock.advance(system.config.lease)
    (later,) = system.collect_due().outcomes
    assert later.result == "succeeded"
    assert kinds(outbox.new()) == [
        "payment.canceled",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]


def test_a_due_item_without_a_saved_card_waits_for_one(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """An enrollment that started later: at its due date no card, so it waits; access withheld."""
    result = system.enroll(user_id="u-1", product_id=three.id, start=date(2027, 3, 20))
    outbox.mark()
    clock.set(datetime(2027, 3, 20, 9, tzinfo=UTC))

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "requires_payment_method"
    events = outbox.new()
    assert kinds(events) == [
        "installment.requires_payment_method",
        "enrollment.pending_payment",
        "access.suspended",
    ]
    assert dict(events[0].data) == {
        "item_id": result.schedule[0].id,
        "seq": 1,
        "reason": "no saved payment method",
    }
    assert dict(events[1].data) == {"from": "active", "to": "pending_payment"}
    assert fake.calls == []
    details = system.payment_details(result.enrollment_id)
    assert details.attempts == ()
    assert details.items[0].status == ItemStatus.REQUIRES_PAYMENT_METHOD


def test_a_card_saved_later_charges_the_waiting_item_on_the_next_run(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The setup webhook requeues the item; collection pays it; access is restored."""
    result = system.enroll(user_id="u-1", product_id=three.id, start=date(2027, 3, 20))
    clock.set(datetime(2027, 3, 20, 9, tzinfo=UTC))
    system.collect_due()
    save_card(system, fake, "u-1", "pm_u1")
    assert system.get_schedule_item(result.schedule[0].id).status == ItemStatus.FAILED
    outbox.mark()

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.restored"]


def test_a_request_the_gateway_refuses_asks_for_a_new_card(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """A method the gateway does not know: the attempt fails with the message, item waits."""
    system.update_payment_method("u-1", "pm_not_attached")
    outbox.mark()
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "requires_payment_method"
    events = outbox.new()
    assert kinds(events) == [
        "installment.requires_payment_method",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert events[0].data["reason"] == "the gateway refused the request"
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.decline_code is None
    assert attempt.message is not None
    assert attempt.payment_method_id == "pm_not_attached"


@pytest.mark.parametrize("outage", ["timeout_before", "timeout_after"])
def test_an_outage_during_the_charge_leaves_the_outcome_unknown(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    outbox: Outbox,
    paid_first: str,
    outage: str,
) -> None:
    """Unknown attempt, item still processing (lease released), no event, no new attempt later."""
    fake.script(outage)
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "unknown"
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.id == outcome.attempt_id
    assert attempt.status == AttemptStatus.UNKNOWN
    item = system.get_schedule_item(outcome.item_id)
    assert (item.status, item.lease_until) == (ItemStatus.PROCESSING, None)
    assert outbox.new() == []
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.ACTIVE
    clock.advance(days=1)
    assert system.collect_due().outcomes == ()  # reconcile decides, not another charge
    assert len(calls_of(fake, "charge_off_session")) == 1


def test_a_charge_still_processing_is_recorded_when_its_webhook_arrives(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """``processing``: processing with the gateway id; the settlement webhook pays the item."""
    fake.script("processing")
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "processing"
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.status == AttemptStatus.PROCESSING
    assert attempt.gateway_payment_id is not None
    assert kinds(outbox.take()) == ["payment.processing"]
    fake.deliver(system)  # payment_intent.processing: stale, the answer said so already
    assert outbox.new() == []

    fake.settle(attempt.gateway_payment_id)
    fake.deliver(system)

    assert kinds(outbox.new()) == ["installment.paid"]
    assert system.payment_details(paid_first).attempts[-1].status == AttemptStatus.SUCCEEDED
    assert len(fake.charges) == 2


def test_a_worker_that_died_after_writing_the_attempt_is_resumed_with_the_same_key(
    clock: FrozenClock,
) -> None:
    """The crash leaves a pending attempt; after the lease the next run sends it, once."""
    crash = {"armed": True}

    def faults(point: str) -> None:
        if point == "after_attempt_written" and crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("worker died")

    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(), faults=faults
    )
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u", product_id=product.id, start=date(2027, 3, 16))
    save_card(system, fake, "u", "pm_u")
    mark = len(system.list_events())
    clock.set(datetime(2027, 3, 16, 9, tzinfo=UTC))

    with pytest.raises(RuntimeError, match="worker died"):
        system.collect_due()
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.PENDING
    assert calls_of(fake, "charge_off_session") == []
    assert system.collect_due().outcomes == ()  # the dead worker's lease still holds

    clock.advance(system.config.lease)
    (outcome,) = system.collect_due().outcomes

    assert (outcome.result, outcome.attempt_id) == ("succeeded", attempt.id)
    (charge,) = calls_of(fake, "charge_off_session")
    assert charge.params["idempotency_key"] == attempt.idempotency_key
    assert len(system.payment_details(result.enrollment_id).attempts) == 1
    assert kinds(system.list_events()[mark:]) == ["installment.paid", "enrollment.completed"]


def test_a_charge_in_flight_when_the_enrollment_is_cancelled_closes_its_item_if_it_fails(
    clock: FrozenClock,
) -> None:
    """Cancelled mid-charge, the item stays open; the decline then cancels it, no retry."""
    fake = FakeGateway(clock=clock)
    holder: dict[str, PaymentSystem] = {}

    def faults(point: str) -> None:
        if point == "after_attempt_written":
            system = holder["system"]
            (enrollment,) = system.list_enrollments()
            system.cancel_enrollment(
                enrollment.id, reason="left", actor="admin", refund_amount=usd("0")
            )

    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(), faults=faults
    )
    holder["system"] = system
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u", product_id=product.id, start=date(2027, 3, 16))
    save_card(system, fake, "u", "pm_u")
    mark = len(system.list_events())
    fake.script(fake.decline())
    clock.set(datetime(2027, 3, 16, 9, tzinfo=UTC))

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "failed"
    assert kinds(system.list_events()[mark:]) == [
        "enrollment.cancelled",
        "access.revoked",
        "installment.cancelled",
    ]
    item = system.get_schedule_item(result.schedule[0].id)
    assert (item.status, item.next_attempt_at) == (ItemStatus.CANCELLED, None)


def test_the_attempt_amount_is_what_is_outstanding_after_a_partial_manual_payment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """40.00 paid in cash: the off-session charge asks for the 60.00 left."""
    item_id = system.list_schedule_items(enrollment_id=paid_first)[1].id
    system.record_manual_payment(item_id, method="cash", actor="admin", amount=usd("40.00"))
    outbox.mark()
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    (charge,) = calls_of(fake, "charge_off_session")
    assert charge.params["amount"] == usd("60.00")
    (event,) = outbox.new()
    assert event.kind == "installment.paid"
    assert event.data["paid"] == {"minor": 10000, "currency": "USD"}
