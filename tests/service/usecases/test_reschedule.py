"""Use cases ``reschedule`` and ``waive_item``: a new due date, or nothing owed any more."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    InvalidInputError,
    InvalidStateError,
    ItemNotPayableError,
    PermissionDeniedError,
    ScheduleItemNotFoundError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    calls_of,
    kinds,
    refused,
    run_retries,
)


def item(system: PaymentSystem, enrollment_id: str, seq: int) -> str:
    """The id of the enrollment's item number ``seq``."""
    return system.list_schedule_items(enrollment_id=enrollment_id)[seq - 1].id


def test_rescheduling_a_scheduled_item_moves_its_date(
    system: PaymentSystem, outbox: Outbox, paid_first: str
) -> None:
    """``installment.rescheduled`` with both dates; nothing else changes."""
    item_id = item(system, paid_first, 2)

    moved = system.reschedule(item_id, date(2027, 5, 1), actor="admin")

    assert (moved.status, moved.due, moved.failures) == (ItemStatus.SCHEDULED, date(2027, 5, 1), 0)
    assert system.get_schedule_item(item_id) == moved
    (event,) = outbox.new()
    assert event.kind == "installment.rescheduled"
    assert event.enrollment_id == paid_first
    assert dict(event.data) == {
        "item_id": item_id,
        "seq": 2,
        "from": "2027-04-15",
        "to": "2027-05-01",
    }
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.ACTIVE


def test_a_rescheduled_item_is_charged_on_its_new_date_only(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """Not on the old date; on the new one."""
    item_id = item(system, paid_first, 2)
    system.reschedule(item_id, date(2027, 5, 1), actor="admin")

    clock.set(SECOND_DUE)
    assert system.collect_due().outcomes == ()
    clock.set(datetime(2027, 5, 1, 9, tzinfo=UTC))
    (outcome,) = system.collect_due().outcomes

    assert (outcome.item_id, outcome.result) == (item_id, "succeeded")
    assert len(calls_of(fake, "charge_off_session")) == 1


def test_rescheduling_a_failed_item_starts_its_retries_afresh(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Failures reset, retry time cleared, scheduled: the enrollment is no longer past due."""
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    item_id = item(system, paid_first, 2)
    outbox.mark()

    moved = system.reschedule(item_id, date(2027, 4, 30), actor="admin")

    assert (moved.status, moved.failures, moved.next_attempt_at) == (ItemStatus.SCHEDULED, 0, None)
    events = outbox.new()
    assert kinds(events) == ["installment.rescheduled", "enrollment.activated"]
    assert dict(events[1].data) == {"from": "past_due", "to": "active"}


def test_rescheduling_a_defaulted_item_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Suspended after four declines; a new date: active again, ``access.restored``."""
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    outbox.mark()

    system.reschedule(item(system, paid_first, 2), date(2027, 6, 1), actor="admin")

    events = outbox.new()
    assert kinds(events) == ["installment.rescheduled", "enrollment.activated", "access.restored"]
    assert dict(events[1].data) == {"from": "suspended", "to": "active"}
    assert system.has_access(system.get_enrollment(paid_first))


def test_rescheduling_an_item_waiting_for_a_card_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """A hard decline suspended it; rescheduled, it will be tried again on the new date."""
    fake.script(fake.decline("expired_card"))
    run_retries(system, clock, 1)
    outbox.mark()

    moved = system.reschedule(item(system, paid_first, 2), date(2027, 5, 1), actor="admin")

    assert moved.status == ItemStatus.SCHEDULED
    assert kinds(outbox.new()) == [
        "installment.rescheduled",
        "enrollment.activated",
        "access.restored",
    ]


def test_a_paused_item_keeps_waiting_with_its_new_date(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Rescheduled while paused: still paused; resuming later shifts from the new date."""
    system.pause(paid_first, actor="admin")
    item_id = item(system, paid_first, 3)
    outbox.mark()

    moved = system.reschedule(item_id, date(2027, 6, 1), actor="admin")

    assert (moved.status, moved.due) == (ItemStatus.PAUSED, date(2027, 6, 1))
    assert kinds(outbox.new()) == ["installment.rescheduled"]
    clock.advance(days=5)
    system.resume(paid_first, actor="admin")
    assert system.get_schedule_item(item_id).due == date(2027, 6, 6)


def test_rescheduling_to_today_is_allowed(
    system: PaymentSystem, clock: FrozenClock, paid_first: str
) -> None:
    """Today is not the past."""
    moved = system.reschedule(item(system, paid_first, 3), clock.now().date(), actor="admin")
    assert moved.due == date(2027, 3, 15)


# -- waive ------------------------------------------------------------------------------


def test_waiving_the_last_open_items_completes_the_enrollment(
    system: PaymentSystem, outbox: Outbox, paid_first: str
) -> None:
    """``installment.waived`` each, then ``enrollment.completed``; nothing outstanding."""
    second, third = item(system, paid_first, 2), item(system, paid_first, 3)

    system.waive_item(second, actor="admin", reason="scholarship")
    waived = system.waive_item(third, actor="admin")

    assert waived.status == ItemStatus.WAIVED
    events = outbox.new()
    assert kinds(events) == ["installment.waived", "installment.waived", "enrollment.completed"]
    assert dict(events[0].data) == {"item_id": second, "seq": 2}
    assert dict(events[2].data) == {"from": "active", "to": "completed"}
    details = system.payment_details(paid_first)
    assert (details.outstanding, details.enrollment.status) == (
        usd("0"),
        EnrollmentStatus.COMPLETED,
    )
    (entry,) = [e for e in system.audit_log(entity_id=second) if e.action == "item.waived"]
    assert entry.data == {"amount": {"minor": 10000, "currency": "USD"}, "reason": "scholarship"}


def test_waiving_a_defaulted_item_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Nothing owed on it: the suspension ends."""
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    outbox.mark()

    system.waive_item(item(system, paid_first, 2), actor="admin")

    assert kinds(outbox.new()) == ["installment.waived", "enrollment.activated", "access.restored"]


def test_waiving_an_item_with_a_declined_checkout_cancels_that_checkout(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """A declined payment could still be paid with another card: it is cancelled."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("card_declined"))
    fake.deliver(system)
    (checkout,) = system.payment_details(result.enrollment_id).attempts
    outbox.mark()

    system.waive_item(result.schedule[0].id, actor="admin")

    assert kinds(outbox.new()) == [
        "installment.waived",
        "enrollment.activated",
        "access.granted",
        "payment.canceled",
    ]
    (cancel,) = calls_of(fake, "cancel_payment")
    assert cancel.params["idempotency_key"] == f"cancel:{checkout.id}"


# -- refusals ---------------------------------------------------------------------------


def test_rescheduling_into_the_past_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidInputError."""
    with refused(system, InvalidInputError, fake=fake, match="past"):
        system.reschedule(item(system, paid_first, 2), date(2027, 3, 14), actor="admin")


def test_rescheduling_with_an_instant_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """A datetime is not a calendar date."""
    with refused(system, InvalidInputError, fake=fake):
        system.reschedule(item(system, paid_first, 2), SECOND_DUE, actor="admin")


def test_rescheduling_a_paid_item_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidStateError names the status."""
    with refused(system, InvalidStateError, fake=fake, match="paid"):
        system.reschedule(item(system, paid_first, 1), date(2027, 6, 1), actor="admin")


def test_rescheduling_an_item_being_paid_at_the_checkout_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Its on-session payment is open (processing)."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    with refused(system, InvalidStateError, fake=fake, match="processing"):
        system.reschedule(result.schedule[0].id, date(2027, 6, 1), actor="admin")


def test_rescheduling_an_item_whose_charge_is_unknown_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """The money may be on its way."""
    fake.script("timeout_after")
    run_retries(system, clock, 1)
    with refused(system, InvalidStateError, fake=fake):
        system.reschedule(item(system, paid_first, 2), date(2027, 6, 1), actor="admin")


@pytest.mark.parametrize("operation", ["reschedule", "waive"])
def test_an_unknown_item_is_refused(
    system: PaymentSystem, fake: FakeGateway, operation: str
) -> None:
    """ScheduleItemNotFoundError."""
    with refused(system, ScheduleItemNotFoundError, fake=fake):
        if operation == "reschedule":
            system.reschedule("itm_missing", date(2027, 6, 1), actor="admin")
        else:
            system.waive_item("itm_missing", actor="admin")


@pytest.mark.parametrize("state", ["paid", "waived", "cancelled"])
def test_waiving_a_settled_item_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str, state: str
) -> None:
    """ItemNotPayableError names the status."""
    item_id = item(system, paid_first, 1 if state == "paid" else 2)
    if state == "waived":
        system.waive_item(item_id, actor="admin")
    elif state == "cancelled":
        system.cancel_enrollment(paid_first, reason="r", actor="admin", refund_amount=usd("0"))
    with refused(system, ItemNotPayableError, fake=fake, match=state):
        system.waive_item(item_id, actor="admin")


def test_waiving_an_item_whose_charge_is_unknown_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """ItemNotPayableError: the charge may have taken the money."""
    fake.script("timeout_after")
    run_retries(system, clock, 1)
    with refused(system, ItemNotPayableError, fake=fake):
        system.waive_item(item(system, paid_first, 2), actor="admin")


def test_waiving_an_item_with_an_open_checkout_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The student may be paying it right now: refused (an InvalidStateError), nothing written.

    Today the refusal comes from the state machine (no ``waive`` from
    ``processing``), as an IllegalTransitionError.
    """
    result = system.enroll(user_id="u-1", product_id=three.id)
    with refused(system, InvalidStateError, fake=fake):
        system.waive_item(result.schedule[0].id, actor="admin")


def test_a_long_waiver_reason_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidInputError."""
    with refused(system, InvalidInputError, fake=fake):
        system.waive_item(item(system, paid_first, 2), actor="admin", reason="r" * 501)


def test_a_refusing_policy_denies_reschedule_and_waive(clock: FrozenClock) -> None:
    """PermissionDeniedError; the item is untouched, the denials audited."""
    system = PaymentSystem(
        store=InMemoryStore(), clock=clock, ids=SequentialIds(),
        authorize=lambda actor, action, target: actor == "boss",
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    item_id = system.enroll(user_id="u", product_id=product.id).schedule[0].id
    before = system.get_schedule_item(item_id)
    events = system.list_events()

    with pytest.raises(PermissionDeniedError):
        system.reschedule(item_id, date(2027, 6, 1), actor="intern")
    with pytest.raises(PermissionDeniedError):
        system.waive_item(item_id, actor="intern")

    assert system.get_schedule_item(item_id) == before
    assert system.list_events() == events
    denied = [e.data["action"] for e in system.audit_log() if e.action == "permission.denied"]
    assert denied == ["reschedule", "waive"]
