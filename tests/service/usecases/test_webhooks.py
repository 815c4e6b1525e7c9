"""Use case ``handle_webhook``: verified, applied once, never backwards, each kind's effects."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.clock import SystemClock
from enrollpay.domain import transitions
from enrollpay.domain.records import Product
from enrollpay.errors import (
    GatewayNotConfiguredError,
    InvalidInputError,
    WebhookSignatureError,
)
from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    enroll_and_pay,
    kinds,
    refused,
    run_retries,
    usd_data,
)


@pytest.fixture
def paid_hook(system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product) -> str:
    """An enrollment whose checkout was paid; its webhook is queued at the fake."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    outbox.mark()
    return result.enrollment_id


def test_a_payment_webhook_is_applied_with_its_events(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_hook: str
) -> None:
    """processed: the installment is paid, the enrollment active, access granted."""
    (outcome,) = fake.deliver(system)

    assert (outcome.result, outcome.event_type, outcome.detail) == (
        "processed",
        "payment_intent.succeeded",
        "payment recorded",
    )
    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert {e.enrollment_id for e in events} == {paid_hook}
    assert events[0].data["paid"] == usd_data(10000)
    details = system.payment_details(paid_hook)
    assert details.enrollment.status == EnrollmentStatus.ACTIVE
    (payment,) = details.payments
    assert payment.method == "gateway"
    assert payment.gateway_payment_id == details.attempts[0].gateway_payment_id


@pytest.mark.parametrize("times", [2, 5])
def test_a_redelivered_event_is_a_duplicate_and_writes_nothing(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_hook: str, times: int
) -> None:
    """Every delivery after the first is ``duplicate``: one payment, one set of events."""
    outcomes = fake.deliver(system, times=times)

    assert [o.result for o in outcomes] == ["processed"] + ["duplicate"] * (times - 1)
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert len(system.payment_details(paid_hook).payments) == 1


def test_a_duplicate_delivered_later_and_signed_again_is_still_a_duplicate(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_hook: str
) -> None:
    """The receipt is keyed by the event id, not by the signature."""
    (hook,) = fake.take_events()
    system.handle_webhook(hook.payload, hook.headers)
    clock.advance(hours=2)
    before = system.list_events()

    outcome = system.handle_webhook(hook.payload, fake.sign(hook.payload))

    assert outcome.result == "duplicate"
    assert system.list_events() == before


def test_a_bad_signature_is_refused_and_nothing_is_written(
    system: PaymentSystem, fake: FakeGateway, paid_hook: str
) -> None:
    """Signed with another secret: WebhookSignatureError; redelivering the genuine one works."""
    (hook,) = fake.take_events()
    forged = fake.sign(hook.payload, secret="whsec_attacker")

    with refused(system, WebhookSignatureError):
        system.handle_webhook(hook.payload, forged)
    assert system.handle_webhook(hook.payload, hook.headers).result == "processed"


def test_a_changed_body_under_a_genuine_signature_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_hook: str
) -> None:
    """One byte changed breaks the signature."""
    (hook,) = fake.take_events()
    changed = hook.payload.replace(b'"amount": 10000', b'"amount": 1').replace(
        b'"amount":10000', b'"amount":1'
    )
    assert changed != hook.payload
    with refused(system, WebhookSignatureError):
        system.handle_webhook(changed, hook.headers)


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(days=1)])
def test_a_delivery_older_than_the_tolerance_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_hook: str, age: timedelta
) -> None:
    """The signature's time must be within five minutes of the wall clock (the real time).

    Moving the business clock instead changes nothing: Stripe signs with the real time.
    """
    (hook,) = fake.take_events()
    clock.advance(age)
    assert system.handle_webhook(hook.payload, hook.headers).result == "processed"
    signed_long_ago = fake.sign(hook.payload, at=SystemClock().now() - age)
    with refused(system, WebhookSignatureError, match="too old"):
        system.handle_webhook(hook.payload, signed_long_ago)


def test_an_event_from_live_mode_is_refused_by_a_test_mode_system(
    system: PaymentSystem, fake: FakeGateway, paid_hook: str
) -> None:
    """``livemode`` must match the gateway's mode."""
    (hook,) = fake.take_events()
    body = json.loads(hook.payload)
    body["livemode"] = True
    payload = json.dumps(body).encode()
    with refused(system, WebhookSignatureError, match="livemode"):
        system.handle_webhook(payload, fake.sign(payload))


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]"], ids=["not-json", "not-object"])
def test_a_signed_body_that_is_not_an_event_is_refused(
    system: PaymentSystem, fake: FakeGateway, payload: bytes
) -> None:
    """InvalidInputError (the payload errors derive from it); nothing written."""
    with refused(system, InvalidInputError):
        system.handle_webhook(payload, fake.sign(payload))


def test_an_event_type_we_do_not_act_on_is_ignored_once(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """``ignored`` (with the reason), then ``duplicate``; no event."""
    hook = fake.webhook("customer.created", {"id": "cus_x", "object": "customer"})

    first = system.handle_webhook(hook.payload, hook.headers)
    second = system.handle_webhook(hook.payload, hook.headers)

    assert (first.result, first.detail) == ("ignored", "customer.created needs no action")
    assert second.result == "duplicate"
    assert outbox.new() == []


def test_without_a_gateway_webhooks_are_refused(clock: FrozenClock) -> None:
    """GatewayNotConfiguredError: there is nothing to verify them with."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    with refused(system, GatewayNotConfiguredError):
        system.handle_webhook(b"{}", {})


# -- a new card from the setup flow -------------------------------------------------------


def test_a_new_card_requeues_a_defaulted_item_and_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """setup_intent.succeeded: saved, the defaulted item is due now; the student is past due.

    Past due keeps access under the default policy, so access is restored
    while the retry is pending; the next collection charges the new card.
    """
    result = enroll_and_pay(system, fake, three)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    assert {o.result for o in fake.deliver(system)} == {"stale"}  # the declines, known already
    secret = system.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method="pm_new")
    outbox.mark()

    (outcome,) = fake.deliver(system)

    assert (outcome.result, outcome.detail) == ("processed", "1 item(s) will be retried")
    events = outbox.new()
    assert kinds(events) == ["enrollment.past_due", "access.restored"]
    assert dict(events[0].data) == {"from": "suspended", "to": "past_due"}
    item = system.get_schedule_item(result.schedule[1].id)
    assert (item.status, item.next_attempt_at) == (ItemStatus.FAILED, clock.now())
    outbox.mark()

    (charged,) = system.collect_due().outcomes

    assert charged.result == "succeeded"
    assert [c.params["payment_method_id"] for c in fake.calls if c.verb == "charge_off_session"][
        -1
    ] == "pm_new"
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated"]


def test_the_same_card_attached_again_requeues_nothing(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The card is the saved one already: processed, zero items, no event."""
    enroll_and_pay(system, fake, three)
    secret = system.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method="pm_card_visa")
    outbox.mark()

    (outcome,) = fake.deliver(system)

    assert (outcome.result, outcome.detail) == ("processed", "0 item(s) will be retried")
    assert outbox.new() == []


def test_a_card_for_an_unknown_customer_is_ignored(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """No customer of ours: ignored."""
    customer = fake.ensure_customer("stranger", idempotency_key="k")
    secret = fake.start_payment_method_update(customer_id=customer, idempotency_key="s")
    fake.complete_setup(secret, payment_method="pm_x")

    (outcome,) = fake.deliver(system)

    assert (outcome.result, outcome.detail) == ("ignored", "unknown customer")
    assert outbox.new() == []


# -- refunds and subscriptions -----------------------------------------------------------


def test_a_dashboard_refund_is_recorded_once_with_its_event(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """charge.refunded for a refund made elsewhere: one refund, ``refund.issued``."""
    result = enroll_and_pay(system, fake, three)
    (payment,) = system.payment_details(result.enrollment_id).payments
    assert payment.gateway_payment_id is not None
    fake.refund_from_dashboard(payment.gateway_payment_id, usd("25.00"))
    outbox.mark()

    outcomes = fake.deliver(system, times=2)

    assert [o.result for o in outcomes] == ["processed", "duplicate"]
    (event,) = outbox.new()
    (refund,) = system.payment_details(result.enrollment_id).refunds
    assert event.kind == "refund.issued"
    assert dict(event.data) == {
        "refund_id": refund.id,
        "payment_id": payment.id,
        "amount": usd_data(2500),
        "method": "gateway",
    }
    assert (refund.status, refund.actor) == ("succeeded", "gateway")


def test_a_refund_event_for_a_payment_we_did_not_record_is_ignored(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """``ignored``: nothing to attach it to."""
    hook = fake.webhook(
        "charge.refunded",
        {"id": "ch_x", "object": "charge", "amount": 100, "amount_refunded": 100,
         "currency": "usd", "payment_intent": "pi_unknown", "refunds": {"data": []}},
    )  # fmt: skip

    outcome = system.handle_webhook(hook.payload, hook.headers)

    assert (outcome.result, outcome.detail) == (
        "ignored",
        "refund for a payment we did not record",
    )
    assert outbox.new() == []


def _link_subscription(store: Store, enrollment_id: str, subscription_id: str) -> None:
    """Set-up only: give an enrollment a gateway subscription (no public method does)."""
    with store.transaction() as tx:
        enrollment = tx.get_enrollment(enrollment_id)
        assert enrollment is not None
        tx.update_enrollment(attrs.evolve(enrollment, gateway_subscription_id=subscription_id))


def test_a_subscription_ended_at_the_gateway_cancels_the_enrollment(
    system: PaymentSystem, store: Store, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """customer.subscription.deleted: open items cancelled, enrollment cancelled, access revoked."""
    result = enroll_and_pay(system, fake, three)
    _link_subscription(store, result.enrollment_id, "sub_123")
    hook = fake.webhook("customer.subscription.deleted", {"id": "sub_123", "object": "subscription",
                                                          "status": "canceled"})  # fmt: skip
    outbox.mark()

    outcome = system.handle_webhook(hook.payload, hook.headers)
    again = fake.webhook("customer.subscription.deleted", {"id": "sub_123",
                                                           "object": "subscription"})  # fmt: skip
    stale = system.handle_webhook(again.payload, again.headers)

    assert (outcome.result, outcome.detail) == ("processed", "enrollment cancelled")
    assert (stale.result, stale.detail) == ("stale", "already cancelled")
    events = outbox.new()
    assert kinds(events) == [
        "subscription.updated",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
    ]
    assert events[0].data["status"] == "canceled"
    assert [e.data["seq"] for e in events[1:3]] == [2, 3]
    enrollment = system.get_enrollment(result.enrollment_id)
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert enrollment.cancel_reason == "subscription ended at the gateway"


def test_a_subscription_we_do_not_know_is_ignored(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """No enrollment has it: ignored."""
    hook = fake.webhook("customer.subscription.deleted", {"id": "sub_x", "object": "subscription"})

    outcome = system.handle_webhook(hook.payload, hook.headers)

    assert (outcome.result, outcome.detail) == ("ignored", "no enrollment has this subscription")
    assert outbox.new() == []


def test_money_taken_on_a_checkout_we_gave_up_is_still_recorded(
    system: PaymentSystem, store: Store, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """payment_intent.succeeded for an attempt marked canceled: recorded, not a crash.

    Collection gives an abandoned checkout up when the gateway reports it
    failed, even if the gateway refused to cancel it, so the student can
    still pay it. The gateway is the truth: the money is recorded against the
    item (which is then paid), instead of the webhook failing on every
    redelivery while the money stays unrecorded.
    """
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    with store.transaction() as tx:  # the state a refused cancel leaves behind
        (attempt,) = tx.attempts_of(result.schedule[0].id)
        gave_up = transitions.cancel_attempt(attempt, message="checkout abandoned", at=START)
        tx.update_attempt(gave_up.record)
    outbox.mark()
    fake.complete_payment(result.client_secret)

    (outcome,) = fake.deliver(system)

    assert (outcome.event_type, outcome.result) == ("payment_intent.succeeded", "processed")
    details = system.payment_details(result.enrollment_id)
    assert details.attempts[0].status == AttemptStatus.SUCCEEDED
    assert details.items[0].status == ItemStatus.PAID
    assert [p.amount for p in details.payments] == [usd("100.00")]
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
