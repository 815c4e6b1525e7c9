"""Use case ``start_payment``: opening, reopening and renewing on-session payments."""

from __future__ import annotations

import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    GatewayNotConfiguredError,
    InvalidStateError,
    ItemNotPayableError,
    ScheduleItemNotFoundError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    calls_of,
    enroll_and_pay,
    kinds,
    refused,
    run_retries,
    usd_data,
)


def test_reopening_the_enrollment_checkout_returns_the_same_payment(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Clicking "pay" again: same payment, same secret, one status look-up, nothing written."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    outbox.mark()
    before = len(fake.calls)
    details = system.payment_details(result.enrollment_id)

    session = system.start_payment(result.schedule[0].id)

    assert session.client_secret == result.client_secret
    assert session.gateway_payment_id == details.attempts[0].gateway_payment_id
    assert session.status == "requires_payment_method"
    assert [c.verb for c in fake.calls[before:]] == ["payment_status"]
    assert system.payment_details(result.enrollment_id).attempts == details.attempts
    assert outbox.new() == []


def test_paying_a_later_installment_early_opens_a_new_on_session_attempt(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Item 2 before its due date: attempt 1 of that item, processing for the checkout window."""
    result = enroll_and_pay(system, fake, three)
    outbox.mark()
    before = len(fake.calls)
    item_id = result.schedule[1].id

    session = system.start_payment(item_id)

    item = system.get_schedule_item(item_id)
    assert item.status == ItemStatus.PROCESSING
    assert item.lease_until == clock.now() + system.config.checkout_window
    attempt = system.payment_details(result.enrollment_id).attempts[-1]
    assert (attempt.item_id, attempt.number, attempt.mode) == (item_id, 1, "on_session")
    assert attempt.status == AttemptStatus.PENDING
    assert attempt.gateway_payment_id == session.gateway_payment_id
    # The customer exists already: one call, under the attempt's key.
    (start,) = fake.calls[before:]
    assert start.verb == "start_payment"
    assert start.params["idempotency_key"] == f"item:{item_id}:attempt:1"
    assert start.params["amount"] == usd("100.00")
    assert outbox.new() == []  # opening a checkout changes no status worth an event

    fake.complete_payment(session.gateway_payment_id)
    fake.deliver(system)

    (paid,) = outbox.new()
    assert paid.kind == "installment.paid"
    assert paid.enrollment_id == result.enrollment_id
    assert dict(paid.data) == {
        "item_id": item_id,
        "seq": 2,
        "amount": usd_data(10000),
        "paid": usd_data(10000),
    }
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_an_on_session_decline_asks_for_another_card_without_counting_a_failure(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The customer's card is declined at the checkout: requires_payment_method, no retry."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    outbox.mark()

    fake.complete_payment(result.client_secret, fake.decline("card_declined"))
    fake.deliver(system)

    (event,) = outbox.new()
    assert event.kind == "installment.requires_payment_method"
    assert dict(event.data) == {
        "item_id": result.schedule[0].id,
        "seq": 1,
        "decline_code": "card_declined",
        "failures": 0,
        "next_retry_at": None,
    }
    item = system.get_schedule_item(result.schedule[0].id)
    assert (item.status, item.failures, item.next_attempt_at) == (
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        0,
        None,
    )
    # Nothing was paid yet, so the enrollment still waits for its first payment.
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.decline_code == "card_declined"


def test_after_a_decline_the_checkout_reopens_on_the_same_payment(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Another card on the same payment: no second attempt; paying it activates."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("card_declined"))
    fake.deliver(system)
    outbox.mark()

    session = system.start_payment(result.schedule[0].id)
    assert session.client_secret == result.client_secret
    assert session.status == "requires_payment_method"
    assert len(system.payment_details(result.enrollment_id).attempts) == 1

    fake.complete_payment(session.client_secret)
    fake.deliver(system)

    assert outbox.new_kinds() == ["installment.paid", "enrollment.activated", "access.granted"]
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert attempt.decline_code is None  # the earlier decline on the same payment is cleared
    assert len(fake.charges) == 1


def test_a_payment_cancelled_at_the_gateway_is_replaced_by_a_new_one(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Staff cancelled the intent: payment.canceled, then attempt 2 with its own key."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    (first,) = system.payment_details(result.enrollment_id).attempts
    assert first.gateway_payment_id is not None
    fake.cancel_payment(gateway_payment_id=first.gateway_payment_id, idempotency_key="staff")
    fake.deliver(system)
    outbox.mark()

    session = system.start_payment(result.schedule[0].id)

    assert session.gateway_payment_id != first.gateway_payment_id
    (event,) = outbox.new()
    assert event.kind == "payment.canceled"
    assert event.enrollment_id == result.enrollment_id
    assert dict(event.data) == {"item_id": first.item_id, "attempt_id": first.id, "number": 1}
    old, new = system.payment_details(result.enrollment_id).attempts
    assert old.status == AttemptStatus.CANCELED
    assert (new.number, new.status, new.mode) == (2, AttemptStatus.PENDING, "on_session")
    assert new.idempotency_key == f"item:{first.item_id}:attempt:2"
    assert calls_of(fake, "start_payment")[-1].params["idempotency_key"] == new.idempotency_key


def test_a_payment_whose_webhook_was_lost_is_recorded_and_not_reopened(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The status look-up finds it paid: the payment is recorded, then ItemNotPayableError."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.take_events()  # the webhook is lost
    outbox.mark()

    with pytest.raises(ItemNotPayableError, match="paid"):
        system.start_payment(result.schedule[0].id)

    assert outbox.new_kinds() == ["installment.paid", "enrollment.activated", "access.granted"]
    details = system.payment_details(result.enrollment_id)
    assert details.items[0].status == ItemStatus.PAID
    assert [p.amount for p in details.payments] == [usd("100.00")]
    assert len(calls_of(fake, "start_payment")) == 1


def test_a_charge_waiting_for_authentication_is_reopened_not_duplicated(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """An off-session charge that needs 3-D Secure: the student completes that very payment."""
    result = enroll_and_pay(system, fake, three)
    fake.script("requires_action")
    clock.advance(days=31)
    system.collect_due()
    item_id = result.schedule[1].id
    outbox.mark()
    before = len(fake.calls)

    session = system.start_payment(item_id)

    (attempt,) = [a for a in system.payment_details(result.enrollment_id).attempts
                  if a.item_id == item_id]  # fmt: skip
    assert session.status == "requires_action"
    assert session.gateway_payment_id == attempt.gateway_payment_id
    assert [c.verb for c in fake.calls[before:]] == ["payment_status"]
    assert outbox.new() == []

    fake.settle(session.gateway_payment_id)
    fake.deliver(system)

    assert outbox.new_kinds() == ["installment.paid", "enrollment.activated"]
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_paying_a_defaulted_item_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """After four declines the student pays by hand at the checkout: restored, with access."""
    result = enroll_and_pay(system, fake, three)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    item_id = result.schedule[1].id
    assert system.get_schedule_item(item_id).status == ItemStatus.DEFAULTED
    outbox.mark()

    session = system.start_payment(item_id)
    attempt = system.payment_details(result.enrollment_id).attempts[-1]
    assert (attempt.number, attempt.mode) == (5, "on_session")  # after four off-session tries
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.SUSPENDED
    fake.complete_payment(session.gateway_payment_id)
    fake.deliver(system)

    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.restored"]
    assert dict(events[1].data) == {"from": "suspended", "to": "active"}
    assert system.has_access(system.get_enrollment(result.enrollment_id))


def test_opening_a_checkout_does_not_restore_a_past_due_enrollment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """The status waits for the outcome: still past due while the payment is open."""
    result = enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    clock.advance(days=31)
    system.collect_due()
    outbox.mark()

    system.start_payment(result.schedule[1].id)

    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PAST_DUE
    item = system.get_schedule_item(result.schedule[1].id)
    assert item.status == ItemStatus.PROCESSING
    assert item.next_attempt_at is None  # the pending off-session retry is superseded
    assert outbox.new() == []


def test_the_customer_back_at_an_open_checkout_gets_a_full_window(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Reopening 20 hours later extends the item's lease to now + checkout_window."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    clock.advance(hours=20)

    system.start_payment(result.schedule[0].id)

    item = system.get_schedule_item(result.schedule[0].id)
    assert item.lease_until == clock.now() + system.config.checkout_window
    assert result.schedule[0].lease_until == START + system.config.checkout_window


# -- refusals ---------------------------------------------------------------------------


def test_an_unknown_item_is_refused(system: PaymentSystem, fake: FakeGateway) -> None:
    """ScheduleItemNotFoundError; no gateway call."""
    with refused(system, ScheduleItemNotFoundError, fake=fake):
        system.start_payment("itm_missing")


def test_a_paid_item_is_refused(system: PaymentSystem, fake: FakeGateway, three: Product) -> None:
    """ItemNotPayableError names the status."""
    result = enroll_and_pay(system, fake, three)
    with refused(system, ItemNotPayableError, fake=fake, match="paid"):
        system.start_payment(result.schedule[0].id)


def test_a_waived_item_is_refused(system: PaymentSystem, fake: FakeGateway, three: Product) -> None:
    """Nothing is owed on a waived item."""
    result = enroll_and_pay(system, fake, three)
    system.waive_item(result.schedule[2].id, actor="admin")
    with refused(system, ItemNotPayableError, fake=fake, match="waived"):
        system.start_payment(result.schedule[2].id)


@pytest.mark.parametrize("how", ["cancel", "pause"])
def test_an_item_of_a_cancelled_or_paused_enrollment_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product, how: str
) -> None:
    """InvalidStateError names the enrollment's status."""
    result = enroll_and_pay(system, fake, three)
    if how == "cancel":
        system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")
    else:
        system.pause(result.enrollment_id, actor="admin")
    with refused(system, InvalidStateError, fake=fake):
        system.start_payment(result.schedule[1].id)


def test_an_item_whose_charge_outcome_is_unknown_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """A second payment beside an unknown one could take the money twice."""
    result = enroll_and_pay(system, fake, three)
    fake.script("timeout_after")
    clock.advance(days=31)
    system.collect_due()
    with refused(system, ItemNotPayableError, fake=fake, match="reconciliation"):
        system.start_payment(result.schedule[1].id)


def test_without_a_gateway_there_is_no_checkout(clock: FrozenClock) -> None:
    """GatewayNotConfiguredError, nothing written."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    with refused(system, GatewayNotConfiguredError):
        system.start_payment(result.schedule[0].id)
