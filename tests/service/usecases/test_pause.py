"""Use cases ``pause`` and ``resume``: collection stops, then restarts with shifted dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    EnrollmentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    PermissionDeniedError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    audited,
    calls_of,
    enroll_and_pay,
    kinds,
    refused,
    run_retries,
)


def test_pausing_stops_collection_and_withholds_access(
    system: PaymentSystem, outbox: Outbox, paid_first: str
) -> None:
    """Scheduled items paused, ``enrollment.paused`` and ``access.suspended``; paused_on today."""
    enrollment = system.pause(paid_first, actor="admin", reason="medical leave")

    assert (enrollment.status, enrollment.paused_on) == (EnrollmentStatus.PAUSED, START.date())
    assert system.get_enrollment(paid_first) == enrollment
    assert [i.status for i in system.list_schedule_items(enrollment_id=paid_first)] == [
        ItemStatus.PAID,
        ItemStatus.PAUSED,
        ItemStatus.PAUSED,
    ]
    events = outbox.new()
    assert kinds(events) == ["enrollment.paused", "access.suspended"]
    assert dict(events[0].data) == {"from": "active", "to": "paused"}
    assert dict(events[1].data) == {"status": "paused"}
    assert not system.has_access(enrollment)
    (entry,) = audited(system, paid_first, "enrollment.paused")
    assert entry.data == {"items": 2, "reason": "medical leave"}


def test_nothing_is_charged_while_paused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Well past the due dates: no charge, no event."""
    system.pause(paid_first, actor="admin")
    outbox.mark()
    clock.set(datetime(2027, 7, 1, 9, tzinfo=UTC))

    assert system.collect_due().outcomes == ()
    assert calls_of(fake, "charge_off_session") == []
    assert outbox.new() == []


def test_resuming_shifts_unpaid_items_by_the_days_paused(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Ten days paused: each unpaid item ten days later, scheduled; resumed and restored."""
    system.pause(paid_first, actor="admin")
    clock.advance(days=10)
    outbox.mark()

    enrollment = system.resume(paid_first, actor="admin")

    assert (enrollment.status, enrollment.paused_on) == (EnrollmentStatus.ACTIVE, None)
    items = system.list_schedule_items(enrollment_id=paid_first)
    assert [(i.status, i.due) for i in items] == [
        (ItemStatus.PAID, date(2027, 3, 15)),
        (ItemStatus.SCHEDULED, date(2027, 4, 25)),
        (ItemStatus.SCHEDULED, date(2027, 5, 25)),
    ]
    events = outbox.new()
    assert kinds(events) == ["enrollment.resumed", "access.restored"]
    assert dict(events[0].data) == {"from": "paused", "to": "active", "days": 10, "paused_days": 10}
    (entry,) = audited(system, paid_first, "enrollment.resumed")
    assert entry.data == {"shifted_days": 10, "status": "active", "paused_days": 10}


def test_a_failed_item_paused_is_retried_afresh_on_its_shifted_date(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Past due, paused for 10 days: the failed item is due again 10 days later, no retry time."""
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    system.pause(paid_first, actor="admin")
    clock.advance(days=10)
    outbox.mark()

    system.resume(paid_first, actor="admin")

    item = system.list_schedule_items(enrollment_id=paid_first)[1]
    assert (item.status, item.due, item.next_attempt_at) == (
        ItemStatus.SCHEDULED,
        date(2027, 4, 25),
        None,
    )
    assert kinds(outbox.take()) == ["enrollment.resumed", "access.restored"]
    (outcome,) = system.collect_due().outcomes
    assert outcome.result == "succeeded"
    assert kinds(outbox.new()) == ["installment.paid"]


def test_pausing_a_past_due_enrollment_announces_it_from_past_due(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """``from: past_due``; the failed item waits too."""
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    outbox.mark()

    system.pause(paid_first, actor="admin")

    events = outbox.new()
    assert kinds(events) == ["enrollment.paused", "access.suspended"]
    assert dict(events[0].data) == {"from": "past_due", "to": "paused"}
    assert system.list_schedule_items(enrollment_id=paid_first)[1].status == ItemStatus.PAUSED


def test_pausing_a_suspended_enrollment_changes_no_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Access is withheld already: only ``enrollment.paused``; the defaulted item is left."""
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    outbox.mark()

    system.pause(paid_first, actor="admin")

    assert kinds(outbox.new()) == ["enrollment.paused"]
    statuses = [i.status for i in system.list_schedule_items(enrollment_id=paid_first)]
    assert statuses == [ItemStatus.PAID, ItemStatus.DEFAULTED, ItemStatus.PAUSED]


def test_resuming_the_same_day_shifts_nothing(
    system: PaymentSystem, outbox: Outbox, paid_first: str
) -> None:
    """Zero days paused: the dates stay."""
    before = [i.due for i in system.list_schedule_items(enrollment_id=paid_first)]
    system.pause(paid_first, actor="admin")

    system.resume(paid_first, actor="admin")

    assert [i.due for i in system.list_schedule_items(enrollment_id=paid_first)] == before


def test_resuming_into_an_overdue_item_without_payments_waits_for_payment(
    clock: FrozenClock,
) -> None:
    """Nothing paid and an item due: resumed into pending_payment, no access to restore."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u", product_id=product.id)
    system.pause(result.enrollment_id, actor="admin")
    mark = len(system.list_events())

    enrollment = system.resume(result.enrollment_id, actor="admin")

    assert enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    events = system.list_events()[mark:]
    assert kinds(events) == ["enrollment.resumed"]
    assert dict(events[0].data) == {
        "from": "paused",
        "to": "pending_payment",
        "days": 0,
        "paused_days": 0,
    }


# -- refusals ---------------------------------------------------------------------------


def test_pausing_twice_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidStateError names the status."""
    system.pause(paid_first, actor="admin")
    with refused(system, InvalidStateError, fake=fake, match="paused"):
        system.pause(paid_first, actor="admin")


@pytest.mark.parametrize("how", ["cancelled", "completed"])
def test_a_cancelled_or_completed_enrollment_cannot_be_paused(
    system: PaymentSystem, fake: FakeGateway, full: Product, how: str
) -> None:
    """There is nothing left to collect."""
    result = enroll_and_pay(system, fake, full)
    if how == "cancelled":
        system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")
    with refused(system, InvalidStateError, fake=fake, match=how):
        system.pause(result.enrollment_id, actor="admin")


def test_resuming_an_enrollment_that_is_not_paused_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidStateError."""
    with refused(system, InvalidStateError, fake=fake, match="not paused"):
        system.resume(paid_first, actor="admin")


@pytest.mark.parametrize("operation", ["pause", "resume"])
def test_an_unknown_enrollment_is_refused(
    system: PaymentSystem, fake: FakeGateway, operation: str
) -> None:
    """EnrollmentNotFoundError."""
    with refused(system, EnrollmentNotFoundError, fake=fake):
        getattr(system, operation)("enr_missing", actor="admin")


@pytest.mark.parametrize(
    "kwargs", [{"actor": ""}, {"actor": "admin", "reason": "r" * 501}], ids=["actor", "reason"]
)
def test_bad_arguments_are_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str, kwargs: dict[str, str]
) -> None:
    """InvalidInputError."""
    with refused(system, InvalidInputError, fake=fake):
        system.pause(paid_first, **kwargs)


def test_a_refusing_policy_denies_pause_and_resume(clock: FrozenClock) -> None:
    """PermissionDeniedError for each; only denials are audited."""
    system = PaymentSystem(
        store=InMemoryStore(), clock=clock, ids=SequentialIds(),
        authorize=lambda actor, action, target: actor == "boss",
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    enrollment_id = system.enroll(user_id="u", product_id=product.id).enrollment_id
    events = system.list_events()

    with pytest.raises(PermissionDeniedError):
        system.pause(enrollment_id, actor="intern")
    system.pause(enrollment_id, actor="boss")
    paused_events = system.list_events()
    with pytest.raises(PermissionDeniedError):
        system.resume(enrollment_id, actor="intern")

    assert len(paused_events) == len(events) + 1
    assert system.list_events() == paused_events
    denied = [e for e in system.audit_log() if e.action == "permission.denied"]
    assert [e.data["action"] for e in denied] == ["pause", "resume"]
