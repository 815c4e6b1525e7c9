"""Use cases of a trial that collects a card: ``enroll``, ``start_setup`` and saving the card.

The scenario itself (enrol, save the card, trial, first charge) runs on every
store in ``tests/service/test_trials.py``; here are its edges: a gateway
that cannot be reached, setups opened again, refusals, duplicate and
misdirected webhooks, pauses, cancellations and a first charge declined.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from enrollpay import EnrollmentStatus, Interval, ItemStatus, Money, PaymentSystem, Subscription
from enrollpay.domain.records import Product
from enrollpay.errors import (
    EnrollmentNotFoundError,
    GatewayNotConfiguredError,
    GatewayRequestError,
    InvalidInputError,
    InvalidStateError,
)
from enrollpay.service.results import EnrollmentResult
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.usecases.support import Outbox, audited, calls_of, kinds, refused

TRIAL_END = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def club(system: PaymentSystem) -> Product:
    """A 20.00 USD monthly membership with a 14-day trial."""
    return system.register_product(
        product_type="membership",
        product_id="club",
        name="Club",
        price=Money.of("20", "USD"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )


def enroll_and_save(system: PaymentSystem, fake: FakeGateway, club: Product) -> EnrollmentResult:
    """u-1 enrolls in the trial and saves ``pm_card_visa`` (its webhook delivered)."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    assert result.setup_client_secret is not None
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    fake.deliver(system)
    return result


def status_of(system: PaymentSystem, enrollment_id: str) -> tuple[EnrollmentStatus, bool, bool]:
    """(status, awaiting a card, has access)."""
    enrollment = system.get_enrollment(enrollment_id)
    return enrollment.status, enrollment.awaiting_payment_method, system.has_access(enrollment)


WAITING = (EnrollmentStatus.PENDING_PAYMENT, True, False)
STARTED = (EnrollmentStatus.ACTIVE, False, True)


def test_start_setup_reopens_the_same_flow_by_the_enrollments_key(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """Asked again: the same secret, the same key, no second customer, nothing written."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    outbox.mark()
    audit = len(system.audit_log())

    again = system.start_setup(result.enrollment_id)

    assert again == result.setup_client_secret
    setups = calls_of(fake, "start_payment_method_update")
    assert [c.params["idempotency_key"] for c in setups] == [
        f"setup:enrollment:{result.enrollment_id}"
    ] * 2
    assert len(calls_of(fake, "ensure_customer")) == 1
    assert outbox.new() == []
    assert len(system.audit_log()) == audit
    assert status_of(system, result.enrollment_id) == WAITING


def test_a_gateway_down_at_enrollment_keeps_the_trial_and_start_setup_opens_it_later(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """Timeout before the setup is made: payment_error, the enrollment kept; later, the flow."""
    fake.script("timeout_before", verb="start_payment_method_update")

    result = system.enroll(user_id="u-1", product_id=club.id)

    assert result.setup_client_secret is None
    assert result.payment_error is not None
    assert result.payment_error.startswith("gateway unavailable")
    assert status_of(system, result.enrollment_id) == WAITING
    assert kinds(outbox.new()) == ["enrollment.created"]
    # The customer was stored before the setup call: nothing to make again.
    (created,) = audited(system, "u-1", "customer.created")
    assert created.data == {"gateway_customer_id": "cus_fake_000001"}

    secret = system.start_setup(result.enrollment_id)
    fake.complete_setup(secret, payment_method="pm_card_visa")
    fake.deliver(system)

    assert len(calls_of(fake, "ensure_customer")) == 1
    assert status_of(system, result.enrollment_id) == STARTED


def test_a_setup_made_but_unanswered_is_found_again_not_made_twice(
    system: PaymentSystem, fake: FakeGateway, club: Product
) -> None:
    """Timeout after the gateway made the flow: start_setup gets that very flow back."""
    fake.script("timeout_after", verb="start_payment_method_update")

    result = system.enroll(user_id="u-1", product_id=club.id)
    secret = system.start_setup(result.enrollment_id)

    assert result.payment_error is not None
    assert secret == "seti_fake_000002_secret"  # the flow made by the unanswered call
    fake.complete_setup(secret, payment_method="pm_card_visa")
    fake.deliver(system)
    assert status_of(system, result.enrollment_id) == STARTED
    with pytest.raises(GatewayRequestError, match="already succeeded"):
        fake.complete_setup(secret, payment_method="pm_card_visa")


def test_start_setup_refuses_what_waits_for_no_card_and_writes_nothing(
    system: PaymentSystem, fake: FakeGateway, club: Product, three: Product
) -> None:
    """Unknown, blank, not a trial, card saved, cancelled: typed errors, no call, no write."""
    started = enroll_and_save(system, fake, club)
    installments = system.enroll(user_id="u-2", product_id=three.id)
    cancelled = system.enroll(user_id="u-3", product_id=club.id)
    system.cancel_enrollment(cancelled.enrollment_id, reason="changed mind", actor="admin")

    with refused(system, EnrollmentNotFoundError, fake=fake):
        system.start_setup("enr_nope")
    with refused(system, InvalidInputError, fake=fake):
        system.start_setup(" ")
    for enrollment_id in (
        started.enrollment_id,
        installments.enrollment_id,
        cancelled.enrollment_id,
    ):
        with refused(system, InvalidStateError, fake=fake, match="waits for no payment method"):
            system.start_setup(enrollment_id)


def test_without_a_gateway_start_setup_is_a_configuration_error(clock: FrozenClock) -> None:
    """Manual payments only: there is no setup flow to open."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    with pytest.raises(GatewayNotConfiguredError):
        system.start_setup("enr_1")


def test_the_payers_call_before_the_webhook_starts_the_trial_once(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """update_payment_method first (the page's return), then the webhook: one activation."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    assert result.setup_client_secret is not None
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    outbox.mark()

    assert system.update_payment_method("u-1", "pm_card_visa", actor="u-1") == []
    (outcome,) = fake.deliver(system)

    assert (outcome.result, outcome.detail) == ("processed", "0 item(s) will be retried")
    assert status_of(system, result.enrollment_id) == STARTED
    assert kinds(outbox.new()) == ["enrollment.activated", "access.granted"]
    (saved,) = audited(system, result.enrollment_id, "enrollment.payment_method_saved")
    assert (saved.actor, saved.data) == ("u-1", {"from": "pending_payment", "to": "active"})
    assert calls_of(fake, "charge_off_session") == []


def test_the_webhook_starts_every_trial_of_the_customer_and_names_the_setup(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """Two trials waiting; one setup saves the card: both start; the audit names the setup."""
    other = system.register_product(
        product_type="membership", product_id="gym", name="Gym", price=Money.of("30", "USD"),
        payment_plan=Subscription(Interval.months(1), trial_days=7),
    )  # fmt: skip
    first = system.enroll(user_id="u-1", product_id=club.id)
    second = system.enroll(user_id="u-1", product_id=other.id)
    assert first.setup_client_secret != second.setup_client_secret
    assert first.setup_client_secret is not None
    fake.complete_setup(first.setup_client_secret, payment_method="pm_card_visa")
    outbox.mark()

    (outcome,) = fake.deliver(system)

    assert outcome.detail == "0 item(s) will be retried; 2 enrollment(s) no longer wait for a card"
    assert status_of(system, first.enrollment_id) == STARTED
    assert status_of(system, second.enrollment_id) == STARTED
    assert [(e.kind, e.enrollment_id) for e in outbox.new()] == [
        ("enrollment.activated", first.enrollment_id),
        ("access.granted", first.enrollment_id),
        ("enrollment.activated", second.enrollment_id),
        ("access.granted", second.enrollment_id),
    ]
    (entry,) = audited(system, "u-1", "customer.payment_method_updated")
    assert entry.data == {
        "items_to_retry": 0,
        "no_longer_waiting": [first.enrollment_id, second.enrollment_id],
        "setup_for": first.enrollment_id,
    }


def test_metadata_naming_another_customers_trial_starts_nothing_of_theirs(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """The card is the event customer's: a trial of someone else stays waiting."""
    victim = system.enroll(user_id="u-1", product_id=club.id)
    mine = system.enroll(user_id="u-2", product_id=club.id)
    assert mine.setup_client_secret is not None
    customer = fake.ensure_customer("u-2", idempotency_key="customer:u-2")
    outbox.mark()
    forged = fake.webhook(
        "setup_intent.succeeded",
        {
            "id": "seti_other",
            "object": "setup_intent",
            "customer": customer,
            "payment_method": "pm_card_visa",
            "status": "succeeded",
            "metadata": {"enrollment_id": victim.enrollment_id},
        },
    )

    outcome = system.handle_webhook(forged.payload, forged.headers)

    assert outcome.result == "processed"
    assert status_of(system, victim.enrollment_id) == WAITING
    assert status_of(system, mine.enrollment_id) == STARTED
    assert {e.enrollment_id for e in outbox.new()} == {mine.enrollment_id}


def test_a_cancelled_trial_stays_cancelled_when_the_card_comes(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """Cancelled while waiting, the card saved afterwards: nothing moves, nothing is charged."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    system.cancel_enrollment(result.enrollment_id, reason="changed mind", actor="admin")
    assert result.setup_client_secret is not None
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    outbox.mark()

    (outcome,) = fake.deliver(system)

    assert outcome.result == "processed"
    enrollment = system.get_enrollment(result.enrollment_id)
    assert (enrollment.status, enrollment.awaiting_payment_method) == (
        EnrollmentStatus.CANCELLED,
        True,
    )
    assert outbox.new() == []


def test_a_trial_paused_while_waiting_starts_on_resume_once_its_card_is_saved(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, club: Product
) -> None:
    """Card saved during the pause: still paused; the resume activates and grants access."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    system.pause(result.enrollment_id, actor="admin")
    assert result.setup_client_secret is not None
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    fake.deliver(system)
    assert status_of(system, result.enrollment_id) == (EnrollmentStatus.PAUSED, False, False)
    outbox.mark()

    system.resume(result.enrollment_id, actor="admin")

    assert status_of(system, result.enrollment_id) == STARTED
    assert kinds(outbox.new()) == ["enrollment.resumed", "access.granted"]


def test_a_declined_first_charge_after_the_trial_withholds_access_until_a_retry_pays(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, club: Product
) -> None:
    """Nothing paid yet: a decline at the trial's end is pending_payment; the retry restores."""
    result = enroll_and_save(system, fake, club)
    first = result.schedule[0]
    fake.script(fake.decline())
    clock.set(TRIAL_END)
    outbox.mark()

    (declined,) = system.collect_due().outcomes

    assert declined.result == "failed"
    assert status_of(system, result.enrollment_id) == (
        EnrollmentStatus.PENDING_PAYMENT,
        False,
        False,
    )
    assert kinds(outbox.new()) == [
        "payment.failed",
        "enrollment.pending_payment",
        "access.suspended",
    ]
    outbox.mark()
    clock.advance(days=1)

    (retried,) = system.collect_due().outcomes

    assert retried.result == "succeeded"
    assert status_of(system, result.enrollment_id) == STARTED
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.restored"]
    keys = [c.params["idempotency_key"] for c in calls_of(fake, "charge_off_session")]
    assert keys == [f"item:{first.id}:attempt:1", f"item:{first.id}:attempt:2"]


def test_a_later_start_on_installments_still_starts_without_a_card(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Only trials collect a card: a later start on installments is active, no setup flow."""
    result = system.enroll(user_id="u-1", product_id=three.id, start=date(2027, 4, 1))

    assert result.setup_client_secret is None
    assert status_of(system, result.enrollment_id) == STARTED
    assert fake.calls == []


def test_a_trial_paid_by_hand_is_active_though_its_card_is_still_awaited(
    system: PaymentSystem, club: Product, outbox: Outbox
) -> None:
    """A payment counts more than the wait: the first period paid by hand activates it."""
    result = system.enroll(user_id="u-1", product_id=club.id)
    outbox.mark()

    system.record_manual_payment(result.schedule[0].id, method="cash", actor="desk")

    assert status_of(system, result.enrollment_id) == (EnrollmentStatus.ACTIVE, True, True)
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
    items = system.payment_details(result.enrollment_id).items
    assert items[0].status == ItemStatus.PAID
