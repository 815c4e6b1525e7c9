"""Use case ``sweep``: reminders of what falls due soon (``installment.upcoming``).

The overdue half of the sweep is tested with the dunning rules
(``tests/service/test_dunning.py``, ``tests/unit/test_access_policy.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem, SystemConfig
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.usecases.support import SECOND_DUE, Outbox, audited, enroll_and_pay, usd_data


def items_of(system: PaymentSystem, enrollment_id: str) -> list[str]:
    """The ids of the enrollment's items, by sequence number."""
    return [i.id for i in system.list_schedule_items(enrollment_id=enrollment_id)]


def test_an_installment_is_announced_three_days_before_it_falls_due_and_once(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Four days before: nothing; three days before: one event; later sweeps add none."""
    second = items_of(system, paid_first)[1]
    clock.set(SECOND_DUE - timedelta(days=4))
    assert system.sweep().items_reminded == 0
    assert outbox.new() == []

    clock.advance(timedelta(days=1))
    report = system.sweep()

    assert (report.items_reminded, report.checked, report.changed) == (1, 0, 0)
    assert report.summary().endswith("reminded=1")
    (event,) = outbox.take()
    assert (event.kind, event.enrollment_id, event.at) == (
        "installment.upcoming",
        paid_first,
        clock.now(),
    )
    assert dict(event.data) == {
        "item_id": second,
        "seq": 2,
        "due": "2027-04-15",
        "days_before": 3,
        "outstanding": usd_data(10000),
    }
    assert system.get_schedule_item(second).reminded_at == clock.now()
    assert [e.data for e in audited(system, second, "installment.upcoming")] == [
        {"due": "2027-04-15"}
    ]
    assert system.sweep().items_reminded == 0
    clock.advance(timedelta(days=1))
    assert system.sweep().items_reminded == 0
    assert outbox.new() == []


def test_a_sweep_that_comes_late_still_reminds_before_the_due_day(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """The first sweep in the window is the day before: the reminder says one day."""
    clock.set(SECOND_DUE - timedelta(days=1))
    system.sweep()
    (event,) = outbox.new()
    assert event.data["days_before"] == 1


def test_an_item_due_today_or_failing_gets_no_reminder(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """On its due day the item is collected, not announced; a failed one is in dunning."""
    clock.set(SECOND_DUE)
    fake.script(fake.decline())
    system.collect_due()
    second = items_of(system, paid_first)[1]
    assert system.get_schedule_item(second).status == ItemStatus.FAILED
    assert "installment.upcoming" not in [e.kind for e in outbox.new()]
    outbox.mark()
    clock.advance(timedelta(hours=1))
    system.sweep()
    assert outbox.new() == []


def test_a_new_due_date_is_announced_again(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Rescheduled after its reminder: the payer is reminded of the new date in time."""
    second = items_of(system, paid_first)[1]
    clock.set(SECOND_DUE - timedelta(days=2))
    system.sweep()
    new_due = SECOND_DUE.date() + timedelta(days=10)
    system.reschedule(second, new_due, actor="bursar")
    assert system.get_schedule_item(second).reminded_at is None
    outbox.mark()

    clock.set(SECOND_DUE + timedelta(days=7))
    assert system.sweep().items_reminded == 1

    (event,) = outbox.new()
    assert (event.kind, event.data["due"], event.data["days_before"]) == (
        "installment.upcoming",
        new_due.isoformat(),
        3,
    )


def test_paused_and_cancelled_enrollments_get_no_reminders(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """A paused enrollment's items wait; a cancelled one's are gone; the other is reminded."""
    paused = enroll_and_pay(system, fake, three, user="u-1").enrollment_id
    cancelled = enroll_and_pay(system, fake, three, user="u-2").enrollment_id
    reminded = enroll_and_pay(system, fake, three, user="u-3").enrollment_id
    system.pause(paused, actor="bursar")
    system.cancel_enrollment(cancelled, reason="moved away", actor="bursar", refund_amount=None)
    outbox.mark()
    clock.set(SECOND_DUE - timedelta(days=3))

    assert system.sweep().items_reminded == 1

    assert [(e.kind, e.enrollment_id) for e in outbox.new()] == [("installment.upcoming", reminded)]


def test_a_student_in_arrears_is_reminded_once_back_in_good_standing(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """past_due: the third installment is not announced; paid up, the next sweep announces it."""
    result = enroll_and_pay(system, fake, three)
    third = result.schedule[2]
    fake.script(*[fake.decline()] * 3)
    clock.set(SECOND_DUE)
    system.collect_due()
    clock.set(datetime.combine(third.due, SECOND_DUE.timetz()) - timedelta(days=2))
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PAST_DUE
    outbox.mark()

    assert system.sweep().items_reminded == 0
    system.record_manual_payment(
        result.schedule[1].id, method="bank_transfer", reference="TXN-9", actor="bursar"
    )
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE
    assert system.sweep().items_reminded == 1

    reminders = [e for e in outbox.new() if e.kind == "installment.upcoming"]
    assert [(e.data["item_id"], e.data["days_before"]) for e in reminders] == [(third.id, 2)]


def test_reminders_can_be_turned_off(clock: FrozenClock, fake: FakeGateway, three: Product) -> None:
    """remind_days_before=0: the sweep announces nothing ahead of time."""
    quiet = PaymentSystem(
        store=InMemoryStore(),
        gateway=fake,
        clock=clock,
        ids=SequentialIds(),
        config=SystemConfig(remind_days_before=0),
    )
    course = quiet.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=three.price,
        payment_plan=three.payment_plan,
    )
    enroll_and_pay(quiet, fake, course)
    before = len(quiet.list_events())
    clock.set(SECOND_DUE - timedelta(days=1))

    assert quiet.sweep().items_reminded == 0
    assert len(quiet.list_events()) == before


@pytest.mark.parametrize("days", [-1, True, 1.5, "3"])
def test_a_bad_reminder_setting_is_refused(days: object) -> None:
    """Whole days >= 0 only."""
    with pytest.raises(InvalidInputError, match="remind_days_before"):
        SystemConfig(remind_days_before=days)  # type: ignore[arg-type]
