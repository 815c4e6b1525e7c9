"""Off-session collection, retries with backoff, unknown outcomes and reconciliation."""

from __future__ import annotations

from datetime import date

import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    PaymentSystem,
    PlanRule,
)
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


@pytest.fixture
def three_installments(system: PaymentSystem, fake: FakeGateway, course: Product) -> str:
    """An enrollment on 3 monthly installments whose first one is paid on-session."""
    system.set_plan_rules([PlanRule(plan=Installments(3))])
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


def walk(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, days: int
) -> list[tuple[date, str]]:
    """Run collect_due once a day, delivering webhooks; return (date, outcome) per charge."""
    seen: list[tuple[date, str]] = []
    for _ in range(days):
        clock.advance(days=1)
        for outcome in system.collect_due().outcomes:
            seen.append((system.today(), outcome.result))
        fake.deliver(system)
    return seen


def test_soft_declines_retry_after_1_3_7_days_then_recover(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """Three soft declines then success: attempts on due+0, +1, +4, +11; past_due then active."""
    fake.script(*[fake.decline("insufficient_funds")] * 3)
    statuses = []
    seen: list[tuple[date, str]] = []
    for _ in range(45):
        clock.advance(days=1)
        seen.extend((system.today(), o.result) for o in system.collect_due().outcomes)
        fake.deliver(system)
        statuses.append(system.get_enrollment(three_installments).status)

    due = date(2027, 4, 15)
    assert seen == [
        (due, "failed"),
        (date(2027, 4, 16), "failed"),
        (date(2027, 4, 19), "failed"),
        (date(2027, 4, 26), "succeeded"),
    ]
    assert [(d - due).days for d, _ in seen] == [0, 1, 4, 11]
    assert EnrollmentStatus.PAST_DUE in statuses
    assert statuses[-1] == EnrollmentStatus.ACTIVE
    item = system.list_schedule_items(enrollment_id=three_installments)[1]
    assert item.status == ItemStatus.PAID
    keys = [a.idempotency_key for a in system.payment_details(three_installments).attempts]
    assert keys[1:] == [f"item:{item.id}:attempt:{n}" for n in (1, 2, 3, 4)]


def test_four_soft_declines_default_and_suspend_then_a_bank_transfer_restores(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """The fourth decline defaults the item and suspends; a manual payment reactivates."""
    fake.script(*[fake.decline("insufficient_funds")] * 4)

    seen = walk(system, fake, clock, 45)

    assert [r for _, r in seen] == ["failed", "failed", "failed", "defaulted"]
    details = system.payment_details(three_installments)
    assert details.enrollment.status == EnrollmentStatus.SUSPENDED
    assert not details.has_access
    item = details.items[1]
    assert item.status == ItemStatus.DEFAULTED
    assert walk(system, fake, clock, 3) == []  # a defaulted item is not charged again

    system.record_manual_payment(
        item.id, method="bank_transfer", reference="TXN-12345", notes="wire", actor="admin-1"
    )

    details = system.payment_details(three_installments)
    assert details.enrollment.status == EnrollmentStatus.ACTIVE
    assert details.has_access
    assert details.items[1].status == ItemStatus.PAID
    assert details.payments[-1].method == "bank_transfer"


def test_hard_decline_is_not_retried_until_the_card_is_updated(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """A stolen-card decline needs a new method; updating the card charges exactly once."""
    fake.script(fake.decline("stolen_card"))

    seen = walk(system, fake, clock, 40)

    assert seen == [(date(2027, 4, 15), "requires_payment_method")]
    assert system.get_enrollment(three_installments).status == EnrollmentStatus.SUSPENDED
    charges_before = len(fake.calls)

    secret = system.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method="pm_card_new")
    outcomes = system.update_payment_method("u-1", "pm_card_new")

    assert [o.result for o in outcomes] == ["succeeded"]
    assert [c.verb for c in fake.calls[charges_before:]].count("charge_off_session") == 1
    assert system.get_enrollment(three_installments).status == EnrollmentStatus.ACTIVE


def test_card_numbers_are_refused_as_payment_methods(
    system: PaymentSystem, three_installments: str
) -> None:
    """The library never accepts card data, and the error does not echo it."""
    with pytest.raises(InvalidInputError) as info:
        system.update_payment_method("u-1", "4242 4242 4242 4242")
    assert "4242" not in str(info.value)


def test_authentication_required_waits_for_the_customer(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """An authentication decline is not retried; completing it on-session pays the item."""
    fake.script("requires_action")

    seen = walk(system, fake, clock, 31)

    assert seen == [(date(2027, 4, 15), "requires_action")]
    item = system.list_schedule_items(enrollment_id=three_installments)[1]
    assert item.status == ItemStatus.REQUIRES_ACTION
    assert system.get_enrollment(three_installments).status == EnrollmentStatus.PAST_DUE

    session = system.start_payment(item.id)
    fake.settle(session.gateway_payment_id)
    fake.deliver(system)

    assert system.list_schedule_items(enrollment_id=three_installments)[1].status == (
        ItemStatus.PAID
    )


def test_timeout_after_the_charge_is_unknown_then_reconciled_with_one_charge(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """The gateway charged but the answer was lost: no second charge, reconcile pays it."""
    fake.script("timeout_after")
    clock.set(clock.now().replace(month=4, day=15))

    report = system.collect_due()
    fake.take_events()  # the webhook is lost too

    assert [o.result for o in report.outcomes] == ["unknown"]
    item = system.list_schedule_items(enrollment_id=three_installments)[1]
    assert item.status == ItemStatus.PROCESSING
    assert system.payment_details(three_installments).attempts[-1].status == AttemptStatus.UNKNOWN

    clock.advance(days=1)
    assert system.collect_due().outcomes == ()  # not charged again
    reconciled = system.reconcile()

    assert reconciled.resolved == 1
    details = system.payment_details(three_installments)
    assert details.items[1].status == ItemStatus.PAID
    assert len(details.payments) == 2
    assert [c.amount for c in fake.charges] == [usd("100.00"), usd("100.00")]


def test_timeout_before_the_charge_is_resent_with_the_same_key(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """The request never reached the gateway: reconcile resends it with the same key."""
    fake.script("timeout_before")
    clock.set(clock.now().replace(month=4, day=15))
    assert [o.result for o in system.collect_due().outcomes] == ["unknown"]

    reconciled = system.reconcile()
    report = system.collect_due()
    fake.deliver(system)

    assert reconciled.resent == 1
    assert [o.result for o in report.outcomes] == ["succeeded"]
    details = system.payment_details(three_installments)
    keys = {a.idempotency_key for a in details.attempts if a.item_id == details.items[1].id}
    assert len(keys) == 1
    assert len(fake.charges) == 2


def test_a_worker_that_died_after_writing_the_attempt_is_taken_over(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three_installments: str
) -> None:
    """A leased item whose worker vanished is reclaimed after the lease with the same key."""
    clock.set(clock.now().replace(month=4, day=15))

    class CrashError(Exception):
        pass

    real_charge = fake.charge_off_session

    def crash_after_charge(**kwargs: object) -> object:
        real_charge(**kwargs)  # type: ignore[arg-type]
        raise CrashError

    fake.charge_off_session = crash_after_charge  # type: ignore[method-assign,assignment]
    with pytest.raises(CrashError):
        system.collect_due()
    fake.charge_off_session = real_charge  # type: ignore[method-assign]

    assert system.collect_due().outcomes == ()  # still leased
    clock.advance(minutes=11)
    report = system.collect_due()
    fake.deliver(system)

    assert [o.result for o in report.outcomes] == ["succeeded"]
    assert len(fake.charges) == 2  # the deposit-free first installment and this one
    assert len(system.payment_details(three_installments).payments) == 2


def test_paused_and_cancelled_enrollments_are_not_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """collect_due skips paused and cancelled enrollments."""
    system.set_plan_rules([PlanRule(plan=Installments(3))])
    first = system.enroll(user_id="u-1", product_id=course.id)
    second = system.enroll(user_id="u-2", product_id=course.id)
    for result in (first, second):
        assert result.client_secret is not None
        fake.complete_payment(result.client_secret)
    fake.deliver(system)
    system.pause(first.enrollment_id, actor="admin")
    system.cancel_enrollment(
        second.enrollment_id, reason="left", actor="admin", refund_amount=usd("0")
    )

    assert walk(system, fake, clock, 70) == []


def test_without_a_saved_method_the_item_waits_for_one(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """A due installment with no saved card becomes requires_payment_method, no charge."""
    system.set_plan_rules([PlanRule(plan=Installments(2))])
    result = system.enroll(user_id="u-1", product_id=course.id)
    item = result.schedule[0]
    system.record_manual_payment(item.id, method="cash", actor="desk")

    seen = walk(system, fake, clock, 35)

    assert seen == [(date(2027, 4, 15), "requires_payment_method")]
    assert not any(c.verb == "charge_off_session" for c in fake.calls)


def test_collect_due_validates_its_arguments(system: PaymentSystem) -> None:
    """A non-positive limit is refused."""
    with pytest.raises(InvalidInputError):
        system.collect_due(limit=0)
