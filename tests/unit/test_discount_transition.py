"""Recording a discount on a new enrollment: the record's fields and ``discount.applied``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from enrollpay.domain import transitions as t
from enrollpay.domain.discounts import AppliedDiscount
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment
from enrollpay.domain.records import Enrollment
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import InvalidInputError

AT = datetime(2027, 1, 1, 9, tzinfo=UTC)
DAY = date(2027, 1, 1)


def opened(price: Money) -> Change[Enrollment]:
    """A new full-payment enrollment at ``price``, due today."""
    item = t.new_item(
        item_id="itm_1", enrollment_id="enr_1", line=ScheduleLine(1, "full", DAY, price), at=AT
    )
    return t.open_enrollment(
        enrollment_id="enr_1",
        user_id="u1",
        product_id="p1",
        plan=FullPayment(),
        price=price,
        start_date=DAY,
        items=[item],
        today=DAY,
        at=AT,
    )


def test_a_discount_is_recorded_and_announced_last() -> None:
    """List price, code and scholarship id on the record; discount.applied after the others."""
    applied = AppliedDiscount(
        Money(100_00, "USD"),
        coupon_off=Money(10_00, "USD"),
        scholarship_off=Money(40_00, "USD"),
        coupon_code="SPRING",
        scholarship_id="sch_1",
    )
    before = opened(Money(50_00, "USD"))
    change = t.record_discount(before, applied, at=AT)
    record = change.record
    assert (record.list_price, record.price, record.discount) == (
        Money(100_00, "USD"),
        Money(50_00, "USD"),
        Money(50_00, "USD"),
    )
    assert (record.coupon_code, record.scholarship_id) == ("SPRING", "sch_1")
    assert change.events[:-1] == before.events
    last = change.events[-1]
    assert (last.kind, last.enrollment_id, last.at) == ("discount.applied", "enr_1", AT)
    assert last.data["discount"] == {"minor": 50_00, "currency": "USD"}
    assert last.data["coupon_off"] == {"minor": 10_00, "currency": "USD"}
    assert (last.data["coupon_code"], last.data["scholarship_id"]) == ("SPRING", "sch_1")


def test_no_discount_changes_nothing() -> None:
    """Without a coupon or scholarship the change is returned as it was; discount is zero."""
    zero = Money(0, "USD")
    before = opened(Money(100_00, "USD"))
    assert (
        t.record_discount(before, AppliedDiscount(Money(100_00, "USD"), zero, zero), at=AT)
        is before
    )
    assert before.record.discount == zero


def test_the_enrollment_must_carry_the_discounted_price() -> None:
    """An enrollment priced otherwise than the discount leaves is a typed error."""
    applied = AppliedDiscount(
        Money(100_00, "USD"), Money(10_00, "USD"), Money(0, "USD"), coupon_code="C"
    )
    with pytest.raises(InvalidInputError, match=r"the discount leaves 90\.00 USD"):
        t.record_discount(opened(Money(100_00, "USD")), applied, at=AT)
