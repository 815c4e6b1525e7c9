"""Admin operations: cancel with refunds, manual payments, dates, pause/resume, waive."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enrollpay import (
    EnrollmentStatus,
    Installments,
    ItemStatus,
    PaymentSystem,
    PlanRule,
    RefundPolicy,
    quote_refund,
)
from enrollpay.domain.records import Product
from enrollpay.errors import (
    InvalidStateError,
    ItemNotPayableError,
    OverpaymentError,
    PermissionDeniedError,
    RefundExceedsPaidError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import state_of, usd


@pytest.fixture
def monthly(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product) -> str:
    """A 1200.00 USD enrollment on 4 monthly installments, two of them paid."""
    annual = system.register_product(
        product_type="program",
        product_id="p-1",
        name="Bootcamp",
        price=usd("1200.00"),
        payment_plan=Installments(4),
        refund_policy=RefundPolicy(cooling_off_days=14, proration="time"),
    )
    result = system.enroll(user_id="u-1", product_id=annual.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    clock.set(clock.now().replace(month=4, day=15))
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]
    fake.deliver(system)
    return result.enrollment_id


def test_cancel_refunds_the_policy_quote_most_recent_payment_first(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, monthly: str
) -> None:
    """The refund equals quote_refund and is taken from the newest payment first."""
    clock.set(clock.now().replace(month=5, day=1))
    expected = quote_refund(
        RefundPolicy(cooling_off_days=14, proration="time"),
        price=usd("1200.00"),
        paid=usd("600.00"),
        service_start=date(2027, 3, 15),
        service_end=date(2028, 3, 15),
        cancelled_on=date(2027, 5, 1),
    )
    assert system.quote_cancellation(monthly) == expected

    result = system.cancel_enrollment(monthly, reason="Student requested", actor="admin-1")
    fake.deliver(system)

    assert result.refund_total == expected.refund
    assert expected.refund == usd("445.90")  # 600.00 - round(1200.00 * 47 / 366)
    details = system.payment_details(monthly)
    newest, oldest = details.payments[1], details.payments[0]
    by_payment = {r.payment_id: r.amount for r in details.refunds}
    assert by_payment == {newest.id: usd("300.00"), oldest.id: usd("145.90")}
    assert all(r.status == "succeeded" for r in details.refunds)
    assert details.enrollment.status == EnrollmentStatus.CANCELLED
    assert [i.status for i in details.items][2:] == [ItemStatus.CANCELLED] * 2
    refunded_at_gateway = sum(
        r.amount.minor
        for p in details.payments
        for r in fake.refunds_for(p.gateway_payment_id or "")
    )
    assert refunded_at_gateway == expected.refund.minor


def test_explicit_refund_above_what_was_paid_is_refused_and_nothing_written(
    system: PaymentSystem, monthly: str
) -> None:
    """refund_amount may not exceed paid minus refunded; the refusal writes nothing."""
    before = state_of(system)

    with pytest.raises(RefundExceedsPaidError):
        system.cancel_enrollment(monthly, reason="x", actor="admin", refund_amount=usd("600.01"))

    assert state_of(system) == before


def test_explicit_refund_overrides_the_policy(system: PaymentSystem, monthly: str) -> None:
    """An explicit refund amount is used as given (here: everything paid)."""
    result = system.cancel_enrollment(
        monthly, reason="goodwill", actor="admin", refund_amount=usd("600.00")
    )
    assert result.refund_total == usd("600.00")
    assert result.quote is None
    assert system.payment_details(monthly).refunded == usd("600.00")


def test_cancelling_twice_is_refused(system: PaymentSystem, monthly: str) -> None:
    """A cancelled enrollment cannot be cancelled again."""
    system.cancel_enrollment(monthly, reason="x", actor="admin", refund_amount=usd("0"))
    with pytest.raises(InvalidStateError):
        system.cancel_enrollment(monthly, reason="x", actor="admin")


def test_partial_refund_of_one_payment(system: PaymentSystem, monthly: str) -> None:
    """An admin refunds part of a payment; more than what is left is refused."""
    payment = system.payment_details(monthly).payments[0]

    refund = system.refund_payment(payment.id, usd("100.00"), actor="admin", reason="late start")

    assert (refund.status, refund.amount) == ("succeeded", usd("100.00"))
    with pytest.raises(RefundExceedsPaidError):
        system.refund_payment(payment.id, usd("200.01"), actor="admin")


def test_manual_payment_rules(system: PaymentSystem, monthly: str) -> None:
    """Manual payments: partial allowed, overpayment and paid items refused."""
    items = system.payment_details(monthly).items
    with pytest.raises(ItemNotPayableError):
        system.record_manual_payment(items[0].id, method="cash", actor="desk")
    with pytest.raises(OverpaymentError):
        system.record_manual_payment(items[2].id, method="cash", actor="desk", amount=usd("300.01"))

    system.record_manual_payment(items[2].id, method="check", actor="desk", amount=usd("100"))
    partly = system.list_schedule_items(enrollment_id=monthly)[2]
    assert (partly.status, partly.outstanding) == (ItemStatus.SCHEDULED, usd("200.00"))

    system.record_manual_payment(items[2].id, method="check", actor="desk", reference="CHK-2")
    assert system.list_schedule_items(enrollment_id=monthly)[2].status == ItemStatus.PAID


def test_reschedule_moves_the_due_date(system: PaymentSystem, monthly: str) -> None:
    """An admin moves an installment later; collection follows the new date."""
    item = system.payment_details(monthly).items[2]

    moved = system.reschedule(item.id, date(2027, 6, 1), actor="admin")

    assert (moved.due, moved.status) == (date(2027, 6, 1), ItemStatus.SCHEDULED)
    assert system.audit_log(entity_id=item.id)[-1].action == "item.rescheduled"


def test_pause_then_resume_shifts_unpaid_dates_by_the_paused_days(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, monthly: str
) -> None:
    """Ten days paused move every unpaid item ten days later; nothing is charged meanwhile."""
    before = [i.due for i in system.payment_details(monthly).items]
    system.pause(monthly, actor="admin", reason="medical leave")
    assert system.get_enrollment(monthly).status == EnrollmentStatus.PAUSED
    clock.advance(days=10)
    assert system.collect_due().outcomes == ()

    resumed = system.resume(monthly, actor="admin")

    after = [i.due for i in system.payment_details(monthly).items]
    assert after[:2] == before[:2]
    assert after[2:] == [d + timedelta(days=10) for d in before[2:]]
    assert resumed.status == EnrollmentStatus.ACTIVE
    with pytest.raises(InvalidStateError):
        system.resume(monthly, actor="admin")


def test_waiving_the_remaining_items_completes_the_enrollment(
    system: PaymentSystem, monthly: str
) -> None:
    """Waived items are no longer owed; with everything settled the enrollment completes."""
    for item in system.payment_details(monthly).items[2:]:
        system.waive_item(item.id, actor="admin", reason="scholarship")

    details = system.payment_details(monthly)
    assert details.enrollment.status == EnrollmentStatus.COMPLETED
    assert details.outstanding == usd("0")


def test_a_refusing_policy_denies_admin_operations_and_logs_it(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """With an authorisation hook that says no, nothing changes but a denied entry."""
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=fake,
        clock=clock,
        ids=SequentialIds(),
        authorize=lambda actor, action, target: actor == "boss",
    )
    product = system.register_product(
        product_type="course",
        product_id="c",
        name="C",
        price=usd("100"),
        payment_plan=Installments(2),
    )
    enrollment = system.enroll(user_id="u", product_id=product.id)
    item_id = enrollment.schedule[1].id

    with pytest.raises(PermissionDeniedError):
        system.waive_item(item_id, actor="intern")

    assert system.list_schedule_items(enrollment_id=enrollment.enrollment_id)[1].status == (
        ItemStatus.SCHEDULED
    )
    assert system.audit_log()[-1].action == "permission.denied"
    system.waive_item(item_id, actor="boss")
    assert system.verify_audit_chain().ok


def test_without_a_gateway_enrollments_wait_for_manual_payment(clock: FrozenClock) -> None:
    """gateway=None: the schedule is created and paid by hand; nothing is charged."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course",
        product_id="c",
        name="C",
        price=usd("90"),
        payment_plan=Installments(3),
    )

    result = system.enroll(user_id="u", product_id=product.id)

    assert result.client_secret is None
    assert result.requires_immediate_payment
    assert result.enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert system.collect_due().outcomes == ()
    system.record_manual_payment(result.schedule[0].id, method="cash", actor="desk")
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_rules_use_plans_only_for_matching_products(system: PaymentSystem, course: Product) -> None:
    """A rule for programs does not apply to a course; the course falls back to full payment."""
    system.set_plan_rules([PlanRule(plan=Installments(6), product_types={"program"})])
    result = system.enroll(user_id="u", product_id=course.id)
    assert result.payment_plan.kind == "full"
