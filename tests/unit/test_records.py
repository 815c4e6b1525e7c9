from __future__ import annotations

from datetime import UTC, date, datetime

import attrs
import pytest

from enrollpay.domain.calendar import Interval
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment
from enrollpay.domain.records import (
    AuditEntry,
    Enrollment,
    PaymentAttempt,
    Product,
    ScheduleItem,
)

NOW = datetime(2027, 3, 15, 12, tzinfo=UTC)


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def enrollment(**changes: object) -> Enrollment:
    """A pending enrollment in a 100.00 USD course."""
    fields: dict[str, object] = {
        "id": "enr_1",
        "user_id": "user_1",
        "product_id": "prod_1",
        "status": "pending_payment",
        "plan": FullPayment(),
        "price": usd("100.00"),
        "start_date": date(2027, 3, 15),
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return Enrollment(**fields)  # type: ignore[arg-type]  # keyword bag for brevity


def schedule_item(amount: str, paid: str, status: str = "scheduled") -> ScheduleItem:
    """An item of `amount` with `paid` received so far."""
    return ScheduleItem(
        id="item_1",
        enrollment_id="enr_1",
        seq=1,
        kind="full",
        due=date(2027, 3, 15),
        amount=usd(amount),
        status=status,
        amount_paid=usd(paid),
    )


def test_product_defaults() -> None:
    """Products are active, not auto-assigned, with a one-year service period."""
    product = Product(
        id="prod_1", product_type="course", product_id="c-101", name="C", price=usd("1.00")
    )
    assert product.active
    assert not product.auto_assign_payment_plan
    assert product.payment_plan is None
    assert product.offered_plans == ()
    assert product.service_period == Interval.years(1)


def test_statuses_are_converted_from_plain_strings() -> None:
    """Records read back from storage get real status enums."""
    assert enrollment().status is EnrollmentStatus.PENDING_PAYMENT
    assert schedule_item("1.00", "0.00", "processing").status is ItemStatus.PROCESSING
    attempt = PaymentAttempt(
        id="att_1",
        item_id="item_1",
        enrollment_id="enr_1",
        number=1,
        idempotency_key="item:item_1:attempt:1",
        status="unknown",
        amount=usd("1.00"),
        mode="off_session",
        created_at=NOW,
        updated_at=NOW,
    )
    assert attempt.status is AttemptStatus.UNKNOWN


def test_unknown_statuses_are_refused() -> None:
    """A status string outside the enum is a ValueError."""
    with pytest.raises(ValueError, match="sleeping"):
        enrollment(status="sleeping")


def test_metadata_is_copied_and_defaults_to_empty() -> None:
    """The caller's dict is copied, so later changes to it do not leak in."""
    source = {"cohort": "2027-spring"}
    record = enrollment(metadata=source)
    source["cohort"] = "changed"
    assert record.metadata == {"cohort": "2027-spring"}
    assert enrollment().metadata == {}
    assert enrollment(metadata=None).metadata == {}


def test_records_are_frozen_values() -> None:
    """Changing a record means evolving a new one; equal fields are equal records."""
    record = enrollment()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.status = EnrollmentStatus.ACTIVE  # type: ignore[misc]  # the point of the test
    active = attrs.evolve(record, status=EnrollmentStatus.ACTIVE)
    assert active.status is EnrollmentStatus.ACTIVE
    assert record.status is EnrollmentStatus.PENDING_PAYMENT
    assert enrollment() == record


@pytest.mark.parametrize(
    ("paused_on", "paused_days", "on", "expected"),
    [
        (None, 0, date(2027, 5, 1), 0),  # never paused
        (None, 7, date(2027, 5, 1), 7),  # ended pauses only
        (date(2027, 4, 1), 7, date(2027, 4, 21), 27),  # 20 days into a pause
        (date(2027, 4, 1), 0, date(2027, 4, 1), 0),  # paused today
        (date(2027, 4, 1), 2, date(2027, 3, 20), 2),  # asked about a day before the pause
        (date(2027, 3, 1), 0, date(2027, 3, 25), 10),  # paused before the start (03-15)
    ],
)
def test_days_paused_counts_ended_pauses_and_the_service_days_of_one_in_progress(
    paused_on: date | None, paused_days: int, on: date, expected: int
) -> None:
    """paused_days plus the days from max(paused_on, start_date) to ``on``, never negative."""
    record = enrollment(paused_on=paused_on, paused_days=paused_days)
    assert record.days_paused(on) == expected


def test_paused_days_default_to_zero() -> None:
    """A new enrollment has paused no day."""
    assert enrollment().paused_days == 0


@pytest.mark.parametrize(
    ("amount", "paid", "outstanding"),
    [("100.00", "0.00", "100.00"), ("100.00", "40.00", "60.00"), ("100.00", "100.00", "0.00")],
)
def test_item_outstanding_is_amount_minus_paid(amount: str, paid: str, outstanding: str) -> None:
    """An item's outstanding amount is amount - amount_paid."""
    assert schedule_item(amount, paid).outstanding == usd(outstanding)


def test_audit_entry_data_is_a_copy() -> None:
    """Audit data is copied on construction."""
    data = {"amount": 100}
    entry = AuditEntry(
        seq=1,
        at=NOW,
        actor="admin",
        action="enrollment.cancel",
        entity_type="enrollment",
        entity_id="enr_1",
        data=data,
        prev_hash="0" * 64,
        hash="f" * 64,
    )
    data["amount"] = 0
    assert entry.data == {"amount": 100}
