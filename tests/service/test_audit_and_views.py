"""The audit trail, dashboard stats, listings, subscriptions and trials."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from enrollpay import (
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
    Subscription,
)
from enrollpay.domain.calendar import Interval
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError, ScheduleItemNotFoundError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd


def test_tampering_with_an_audit_entry_is_named(fake: FakeGateway, clock: FrozenClock) -> None:
    """Changing one entry's data breaks the chain at exactly that entry."""
    store = InMemoryStore()
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course", product_id="c", name="C", price=usd("100")
    )
    system.enroll(user_id="u", product_id=product.id)
    entries = system.audit_log()
    assert system.verify_audit_chain().ok
    assert len(entries) >= 3

    forged = attrs.evolve(entries[1], data={**entries[1].data, "price": "1.00"})
    store._replace_audit_entry(1, forged)

    verification = system.verify_audit_chain()
    assert not verification.ok
    assert verification.first_broken_seq == entries[1].seq


def test_stats_sum_per_currency_and_count_statuses(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """Stats keep currencies apart and count enrollments by status."""
    euro = system.register_product(
        product_type="course",
        product_id="eu",
        name="EU",
        price=Money.of("50", "EUR"),
        payment_plan=Installments(2),
    )
    paid = system.enroll(user_id="u-1", product_id=course.id)
    assert paid.client_secret is not None
    fake.complete_payment(paid.client_secret)
    fake.deliver(system)
    system.enroll(user_id="u-2", product_id=euro.id)
    clock.advance(days=2)

    stats = system.stats()

    assert stats.collected == {"EUR": Money.of("0", "EUR"), "USD": usd("299.99")}
    assert stats.outstanding == {"EUR": Money.of("50", "EUR"), "USD": usd("0")}
    assert stats.overdue == {"EUR": Money.of("25", "EUR"), "USD": usd("0")}
    assert stats.enrollments_by_status[EnrollmentStatus.COMPLETED] == 1
    assert stats.enrollments_by_status[EnrollmentStatus.PENDING_PAYMENT] == 1


def test_list_schedule_items_filters(system: PaymentSystem, course: Product) -> None:
    """The admin listing filters by status, due range, product and user."""
    other = system.register_product(
        product_type="course",
        product_id="o",
        name="O",
        price=usd("90"),
        payment_plan=Installments(3),
    )
    system.enroll(user_id="u-1", product_id=course.id)
    system.enroll(user_id="u-2", product_id=other.id)

    assert len(system.list_schedule_items()) == 4
    assert len(system.list_schedule_items(user_id="u-2")) == 3
    assert len(system.list_schedule_items(product_id=course.id)) == 1
    assert len(system.list_schedule_items(status="scheduled")) == 2
    assert len(system.list_schedule_items(status=["scheduled", "processing"])) == 4
    window = system.list_schedule_items(due_from=date(2027, 4, 1), due_to=date(2027, 4, 30))
    assert [i.due for i in window] == [date(2027, 4, 15)]
    assert [e.user_id for e in system.list_enrollments(status="pending_payment")] == ["u-1", "u-2"]
    with pytest.raises(ValueError, match="unknown status"):
        system.list_schedule_items(status="lost")


def test_a_trial_subscription_is_active_once_its_card_is_saved_and_extends_as_it_is_paid(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Nothing due during the trial: active once the card is saved; paid periods are replaced."""
    plan = Subscription(Interval.months(1), trial_days=14)
    product = system.register_product(
        product_type="membership", product_id="m", name="Club", price=usd("20"), payment_plan=plan
    )
    result = system.enroll(user_id="u", product_id=product.id)
    assert not result.requires_immediate_payment
    assert result.client_secret is None
    assert result.enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert result.schedule[0].due == date(2027, 3, 29)
    assert len(result.schedule) == system.config.subscription_horizon

    # Any saved card ends the wait, the card-update form's as well as the trial's own.
    secret = system.start_payment_method_update("u")
    fake.complete_setup(secret, payment_method="pm_card_club")
    fake.deliver(system)
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE
    clock.set(clock.now().replace(month=3, day=29))
    report = system.collect_due()
    fake.deliver(system)

    assert [o.result for o in report.outcomes] == ["succeeded"]
    items = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert [i.status for i in items[:2]] == [ItemStatus.PAID, ItemStatus.SCHEDULED]
    assert len(items) == system.config.subscription_horizon + 1
    assert items[-1].due == date(2028, 3, 29)
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_start_payment_twice_reuses_the_same_gateway_payment(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Clicking pay twice opens one payment, not two."""
    result = system.enroll(user_id="u", product_id=course.id)
    item_id = result.schedule[0].id

    first = system.start_payment(item_id)
    second = system.start_payment(item_id)

    assert first.gateway_payment_id == second.gateway_payment_id
    assert first.client_secret == result.client_secret
    assert len(system.payment_details(result.enrollment_id).attempts) == 1


def test_one_schedule_item_is_looked_up_by_id(system: PaymentSystem, course: Product) -> None:
    """get_schedule_item returns the stored item; an unknown or empty id is a typed error."""
    result = system.enroll(user_id="u", product_id=course.id)
    first = result.schedule[0]
    assert (
        system.get_schedule_item(first.id)
        == system.list_schedule_items(enrollment_id=result.enrollment_id)[0]
    )
    with pytest.raises(ScheduleItemNotFoundError) as missing:
        system.get_schedule_item("itm_nope")
    assert missing.value.ident == "itm_nope"
    with pytest.raises(InvalidInputError):
        system.get_schedule_item("")
