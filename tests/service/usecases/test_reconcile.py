"""Use case ``reconcile``: unknown outcomes, lost webhooks, pending refunds."""

from __future__ import annotations

import attrs

from enrollpay import AttemptStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayNotConfiguredError
from enrollpay.service.drift_report import DriftReport
from enrollpay.service.results import ReconcileReport
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    calls_of,
    enroll_and_pay,
    everything,
    kinds,
    refused,
    run_retries,
)


def unknown_charge(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, how: str) -> str:
    """Charge the second installment with the gateway timing out ``how``; the attempt's id."""
    fake.script(how)
    run_retries(system, clock, 1)
    (charge,) = calls_of(fake, "charge_off_session")
    return str(charge.params["metadata"]["attempt_id"])


def test_with_nothing_open_reconcile_checks_nothing_but_the_gateways_record(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """Nothing to resolve: the only gateway calls list its record, which agrees; nothing written.

    The checkout's payment is the one object listed (since the first walk's look-back).
    """
    before = everything(system)
    calls = len(fake.calls)

    report = system.reconcile()

    assert attrs.evolve(report, drift=DriftReport()) == ReconcileReport()
    assert (report.drift.listed, report.drift.scanned) == (
        True,
        {"payments": 1, "refunds": 0, "disputes": 0},
    )
    assert report.drift.entries == ()
    assert report.in_sync
    assert [c.verb for c in fake.calls[calls:]] == [
        "list_payments",
        "list_refunds",
        "list_disputes",
    ]
    assert everything(system) == before


def test_a_charge_made_before_the_timeout_is_found_and_recorded(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """timeout_after: the gateway has it; reconcile records it; no second charge."""
    attempt_id = unknown_charge(system, fake, clock, "timeout_after")
    outbox.mark()

    report = system.reconcile()

    assert (report.checked, report.resolved, report.resent, report.still_unknown) == (1, 1, 0, 0)
    (lookup,) = calls_of(fake, "payment_status")
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.id == attempt_id
    assert lookup.params["idempotency_key"] == attempt.idempotency_key
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert kinds(outbox.new()) == ["installment.paid"]
    assert len(calls_of(fake, "charge_off_session")) == 1
    assert len(fake.charges) == 2  # the checkout and this one


def test_a_charge_that_never_reached_the_gateway_is_sent_again_with_its_key(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """timeout_before: resent later under the same key, never as a new attempt."""
    attempt_id = unknown_charge(system, fake, clock, "timeout_before")
    outbox.mark()

    report = system.reconcile()

    assert (report.checked, report.resolved, report.resent) == (1, 0, 1)
    attempt = system.payment_details(paid_first).attempts[-1]
    assert (attempt.id, attempt.status) == (attempt_id, AttemptStatus.PENDING)
    assert outbox.new() == []

    (outcome,) = system.collect_due().outcomes

    assert (outcome.result, outcome.attempt_id) == ("succeeded", attempt_id)
    keys = [c.params["idempotency_key"] for c in calls_of(fake, "charge_off_session")]
    assert keys == [attempt.idempotency_key, attempt.idempotency_key]
    assert len(system.payment_details(paid_first).attempts) == 2
    assert kinds(outbox.new()) == ["installment.paid"]


def test_a_charge_still_processing_is_settling_and_in_sync(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """The gateway is still working on it (within its window): settling; nothing written."""
    fake.script("processing")
    run_retries(system, clock, 1)
    outbox.mark()
    before = everything(system)

    report = system.reconcile()

    assert (report.checked, report.resolved, report.still_unknown, report.settling) == (1, 0, 0, 1)
    assert report.drift.open == 0
    assert everything(system) == before


def test_an_unreachable_gateway_leaves_everything_as_it_was(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """The look-up and the listings time out: still unknown, walks incomplete, nothing written."""
    unknown_charge(system, fake, clock, "timeout_after")
    for verb in ("payment_status", "list_payments", "list_refunds"):
        fake.script("timeout_before", verb=verb)
    before = everything(system)

    report = system.reconcile()

    assert (report.checked, report.resolved, report.still_unknown) == (1, 0, 1)
    assert report.drift.incomplete == ("payments", "refunds")
    assert report.drift.cursors == {"payments": None, "refunds": None, "disputes": None}
    assert not report.in_sync
    assert everything(system) == before


def test_a_lost_checkout_webhook_is_made_up_for(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The student paid; the webhook never came: reconcile records the payment."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.take_events()
    outbox.mark()

    report = system.reconcile()

    assert (report.checked, report.resolved) == (1, 1)
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert system.get_schedule_item(result.schedule[0].id).status == ItemStatus.PAID


def test_an_authentication_completed_while_its_webhook_was_lost_is_recorded(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """requires_action, then the customer authenticated: reconcile finds it paid."""
    fake.script("requires_action")
    run_retries(system, clock, 1)
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.gateway_payment_id is not None
    fake.settle(attempt.gateway_payment_id)
    fake.take_events()
    outbox.mark()

    report = system.reconcile()

    assert report.resolved == 1
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated"]


def test_a_declined_checkout_cancelled_at_the_gateway_is_closed(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Staff cancelled the declined payment; reconcile marks it so (``payment.canceled``)."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("card_declined"))
    fake.deliver(system)
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.gateway_payment_id is not None
    fake.cancel_payment(gateway_payment_id=attempt.gateway_payment_id, idempotency_key="staff")
    fake.take_events()
    outbox.mark()

    report = system.reconcile()

    assert (report.checked, report.resolved) == (1, 0)
    (event,) = outbox.new()
    assert (event.kind, event.data["attempt_id"]) == ("payment.canceled", attempt.id)
    (closed,) = system.payment_details(result.enrollment_id).attempts
    assert closed.status == AttemptStatus.CANCELED
    outbox.mark()
    assert system.reconcile().checked == 0  # a cancelled checkout is not looked at again
    assert outbox.new() == []


def test_an_attempt_a_worker_is_sending_is_left_to_it(clock: FrozenClock) -> None:
    """A pending off-session attempt under a live lease is not reconcile's to touch."""
    armed: list[PaymentSystem] = []
    reports: list[ReconcileReport] = []

    def faults(point: str) -> None:
        if point == "after_attempt_written" and armed and not reports:
            reports.append(armed[0].reconcile())  # runs between the write and the charge

    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(), faults=faults
    )
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    enroll_and_pay(system, fake, product)
    second = system.register_product(
        product_type="c", product_id="d", name="D", price=usd("20.00"),
    )  # fmt: skip
    later = system.enroll(user_id="u-1", product_id=second.id, start=SECOND_DUE.date())
    clock.set(SECOND_DUE)
    armed.append(system)

    (outcome,) = system.collect_due().outcomes

    (report,) = reports
    assert attrs.evolve(report, drift=DriftReport()) == ReconcileReport()
    assert report.drift.entries == ()
    assert outcome.result == "succeeded"
    assert calls_of(fake, "payment_status") == []
    assert system.get_schedule_item(later.schedule[0].id).status == ItemStatus.PAID


def test_reconcile_needs_a_gateway(clock: FrozenClock) -> None:
    """GatewayNotConfiguredError."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    with refused(system, GatewayNotConfiguredError):
        system.reconcile()
