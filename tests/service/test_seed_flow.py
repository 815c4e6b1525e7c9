"""The seed's end-to-end flow: register, enroll, pay on-session, webhook, details."""

from __future__ import annotations

from datetime import date

from enrollpay import (
    Deposit,
    EnrollmentStatus,
    FullPayment,
    Installments,
    ItemStatus,
    PaymentSystem,
    PlanRule,
)
from enrollpay.domain.records import Product
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


def test_seed_flow_enroll_pay_and_see_details(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Enroll, complete the client-secret payment, get the webhook: paid, active, audited."""
    result = system.enroll(user_id="user-uuid", product_id=course.id)

    assert result.requires_immediate_payment
    assert result.client_secret is not None
    assert result.payment_plan == FullPayment()
    assert [(i.kind, i.amount, i.due) for i in result.schedule] == [
        ("full", usd("299.99"), date(2027, 3, 15))
    ]
    assert result.enrollment.status == EnrollmentStatus.PENDING_PAYMENT

    fake.complete_payment(result.client_secret)
    outcomes = fake.deliver(system)

    assert [o.result for o in outcomes] == ["processed"]
    details = system.payment_details(result.enrollment_id)
    assert details.enrollment.status == EnrollmentStatus.COMPLETED
    assert details.has_access
    assert [i.status for i in details.items] == [ItemStatus.PAID]
    assert [(p.amount, p.method) for p in details.payments] == [(usd("299.99"), "gateway")]
    assert details.paid == usd("299.99")
    assert details.outstanding == usd("0")
    actions = [e.action for e in system.audit_log()]
    assert "enrollment.created" in actions
    assert "payment.succeeded" in actions
    assert len(fake.charges) == 1


def test_auto_assigned_plan_comes_from_the_first_matching_rule(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """With rules set, enrollment uses the first matching rule by priority."""
    plan = Installments(3, deposit=Deposit.percent(20))
    system.set_plan_rules(
        [
            PlanRule(plan=Installments(12), priority=50, min_price=usd("1000")),
            PlanRule(plan=plan, priority=10, product_types={"course"}),
        ]
    )

    result = system.enroll(user_id="u-1", product_id=course.id)

    assert result.payment_plan == plan
    assert [(i.kind, str(i.amount), i.due.isoformat()) for i in result.schedule] == [
        ("deposit", "60.00 USD", "2027-03-15"),
        ("installment", "80.00 USD", "2027-04-15"),
        ("installment", "80.00 USD", "2027-05-15"),
        ("installment", "79.99 USD", "2027-06-15"),
    ]
    assert system.eligible_plans(course.id)[0] == plan


def test_deposit_paid_makes_the_enrollment_active_until_the_last_installment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """After the deposit the student is active; each month collect_due charges one item."""
    system.set_plan_rules([PlanRule(plan=Installments(3, deposit=Deposit.percent(20)))])
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE

    collected: list[tuple[date, str]] = []
    for _ in range(95):
        clock.advance(days=1)
        report = system.collect_due()
        collected.extend((system.today(), o.result) for o in report.outcomes)
        fake.deliver(system)

    assert collected == [
        (date(2027, 4, 15), "succeeded"),
        (date(2027, 5, 15), "succeeded"),
        (date(2027, 6, 15), "succeeded"),
    ]
    details = system.payment_details(result.enrollment_id)
    assert details.enrollment.status == EnrollmentStatus.COMPLETED
    assert details.paid == usd("299.99")
    assert len(fake.charges) == 4
