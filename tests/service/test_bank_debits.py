"""Bank debits against the fake gateway, on every store: processing for days, then settled.

A student pays the first installment by card, then saves a SEPA Direct
Debit mandate; the second installment is debited. While it is processing
nothing is retried or charged again, the student keeps access, the sweep
does not count it overdue and reconcile reports no failure (exit 0).
Then it clears on day 5, or fails on day 6 and the dunning cycle starts
(the retry policy's 1/3/7 days) with no charge in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, Installments, ItemStatus, PaymentSystem
from enrollpay.cli.drift import exit_status
from enrollpay.domain.drift import DriftKind
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.service.base import SystemConfig
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import SECOND_DUE, calls_of, enroll_and_pay, save_card

SEPA = "pm_sepa_debit"


@pytest.fixture
def three(system: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments of 100.00."""
    return system.register_product(product_type="course", product_id="three",
                                   name="Three installments", price=usd("300.00"),
                                   payment_plan=Installments(3))  # fmt: skip


def debit_second(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product,
                 *scripted: object) -> str:  # fmt: skip
    """u-1 pays the first item by card, saves a SEPA mandate; the second item is debited."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    save_card(system, fake, "u-1", SEPA)
    fake.script_method(SEPA, *scripted)  # type: ignore[arg-type]
    clock.set(SECOND_DUE)
    (outcome,) = system.collect_due().outcomes
    assert outcome.result == "processing"
    return enrollment_id


def a_day_passes(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock) -> None:
    """The bank moves on (the fake settles what is due), webhooks arrive, the jobs run."""
    clock.advance(days=1)
    fake.advance()
    fake.deliver(system)
    system.collect_due()
    system.sweep()


def second(system: PaymentSystem, enrollment_id: str) -> tuple[ItemStatus, AttemptStatus]:
    """The second item's status and its last attempt's."""
    details = system.payment_details(enrollment_id)
    item = details.items[1]
    attempt = [a for a in details.attempts if a.item_id == item.id][-1]
    return item.status, attempt.status


def kinds_since(system: PaymentSystem, count: int) -> list[str]:
    """The kinds of the events after the first ``count``."""
    return [e.kind for e in system.list_events()[count:]]


def test_a_sepa_debit_that_clears_after_five_days(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Processing for 5 days (no retry, access kept, reconcile 0), then paid: one charge."""
    enrollment_id = debit_second(system, fake, clock, three, fake.debit(clears_after_days=5))
    charges = len(calls_of(fake, "charge_off_session"))
    assert second(system, enrollment_id) == (ItemStatus.PROCESSING, AttemptStatus.PROCESSING)
    assert "payment.processing" in [e.kind for e in system.list_events()]
    fake.deliver(system)  # payment_intent.processing: the charge's answer said so already

    for _day in range(4):
        a_day_passes(system, fake, clock)
        assert second(system, enrollment_id) == (ItemStatus.PROCESSING, AttemptStatus.PROCESSING)
        assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.ACTIVE
        report = system.reconcile()
        assert (report.settling, report.still_unknown, report.drift.open) == (1, 0, 0)
        assert exit_status(report) == 0
    seen = len(system.list_events())
    a_day_passes(system, fake, clock)  # day 5: the debit clears

    assert second(system, enrollment_id) == (ItemStatus.PAID, AttemptStatus.SUCCEEDED)
    assert kinds_since(system, seen) == ["installment.paid"]
    assert len(calls_of(fake, "charge_off_session")) == charges == 1  # the debit, sent once
    assert exit_status(system.reconcile()) == 0


def test_a_sepa_debit_that_fails_on_day_six_starts_dunning_with_no_charge_between(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Day 6: payment.failed, item failed with its retry 1 day later; charged again only then."""
    enrollment_id = debit_second(system, fake, clock, three, fake.debit(fails_after_days=6))
    charges = len(calls_of(fake, "charge_off_session"))
    for _day in range(5):
        a_day_passes(system, fake, clock)
        assert second(system, enrollment_id) == (ItemStatus.PROCESSING, AttemptStatus.PROCESSING)
    seen = len(system.list_events())
    a_day_passes(system, fake, clock)  # day 6: the debit bounces

    details = system.payment_details(enrollment_id)
    item = details.items[1]
    assert (item.status, item.failures) == (ItemStatus.FAILED, 1)
    assert item.next_attempt_at == clock.now() + timedelta(days=1)
    assert details.attempts[-1].decline_code == "insufficient_funds"
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PAST_DUE
    assert "payment.failed" in kinds_since(system, seen)
    assert len(calls_of(fake, "charge_off_session")) == charges  # nothing charged in between

    a_day_passes(system, fake, clock)  # the first retry of the dunning cycle
    assert len(calls_of(fake, "charge_off_session")) == charges + 1
    assert second(system, enrollment_id) == (ItemStatus.PAID, AttemptStatus.SUCCEEDED)
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.ACTIVE


def test_a_debit_processing_past_its_window_needs_a_person(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """14 business days is young; the 15th is past SEPA's window: exit 2, nothing guessed."""
    enrollment_id = debit_second(system, fake, clock, three, "processing")
    clock.advance(days=20)  # Thu 15 Apr + 20 days = Wed 5 May: the 14th business day
    young = system.reconcile()
    assert (young.settling, young.drift.open, exit_status(young)) == (1, 0, 0)
    clock.advance(days=1)
    before = system.payment_details(enrollment_id)

    old = system.reconcile()

    (entry,) = old.drift.entries
    assert (entry.kind, entry.applied, entry.enrollment_id) == (
        DriftKind.SETTLEMENT_OVERDUE,
        False,
        enrollment_id,
    )
    assert "sepa_debit" in entry.detail
    assert (old.settling, old.needs_person, exit_status(old)) == (0, True, 2)
    assert system.payment_details(enrollment_id) == before


def test_a_checkout_or_retry_is_refused_while_a_debit_processes(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """No second payment for an item whose debit is processing."""
    enrollment_id = debit_second(system, fake, clock, three, "processing")
    item_id = system.payment_details(enrollment_id).items[1].id
    with pytest.raises(Exception, match="processing"):
        system.start_payment(item_id)
    with pytest.raises(Exception, match="processing"):
        system.retry_now(item_id)
    clock.advance(days=3)
    assert system.collect_due().outcomes == ()
    assert len(system.payment_details(enrollment_id).attempts) == 2


@pytest.fixture
def suspending(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """A system whose policy suspends access while a debit processes."""
    payment_system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds(),
                                   config=SystemConfig(debit_access="suspend"))  # fmt: skip
    yield payment_system
    assert payment_system.verify_audit_chain().ok


def test_the_suspend_policy_withholds_access_until_the_debit_clears(
    suspending: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """debit_access="suspend": suspended while processing, active again once it clears."""
    system = suspending
    three = system.register_product(product_type="course", product_id="three",
                                    name="Three installments", price=usd("300.00"),
                                    payment_plan=Installments(3))  # fmt: skip
    enrollment_id = debit_second(system, fake, clock, three, fake.debit(clears_after_days=2))
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.SUSPENDED
    a_day_passes(system, fake, clock)
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.SUSPENDED
    a_day_passes(system, fake, clock)
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.ACTIVE
    assert second(system, enrollment_id) == (ItemStatus.PAID, AttemptStatus.SUCCEEDED)
