"""Pauses in the refund proration: paused days are not used days, and they move the service end.

A 1200.00 USD program sold for one year from 2027-03-15 (to 2028-03-15,
366 days: 2028 is a leap year), in four monthly installments of 300.00,
two of them paid. The scenarios run on every store; the property draws
many timelines and runs on the in-memory store.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import (
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
    RefundPolicy,
    quote_refund,
)
from enrollpay.domain.refunds import RefundLine
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from enrollpay.testing.strategies import money, refund_policies
from tests.service.conftest import START, usd

POLICY = RefundPolicy(cooling_off_days=14, proration="time")
PAUSED_ON = date(2027, 5, 1)  # day 47 of the service


def two_paid(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock) -> str:
    """The program, enrolled on 2027-03-15 with installments 1 and 2 (600.00) paid."""
    product = system.register_product(
        product_type="program",
        product_id="p-1",
        name="Bootcamp",
        price=usd("1200.00"),
        payment_plan=Installments(4),
        refund_policy=POLICY,
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    clock.set(START.replace(month=4, day=15))
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]
    fake.deliver(system)
    return result.enrollment_id


def kinds_since(system: PaymentSystem, enrollment_id: str, seen: int) -> list[str]:
    """The kinds of the enrollment's events after the first ``seen`` of them."""
    events = [e for e in system.list_events() if e.enrollment_id == enrollment_id]
    return [e.kind for e in events[seen:]]


def count_events(system: PaymentSystem, enrollment_id: str) -> int:
    """How many events the enrollment has so far."""
    return sum(1 for e in system.list_events() if e.enrollment_id == enrollment_id)


def test_pause_20_days_then_cancel_refunds_as_on_the_pause_date(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Paused on day 47 and cancelled 20 days later: 445.90 back, as on day 47, not 380.33."""
    enrollment_id = two_paid(system, fake, clock)
    clock.set(START.replace(month=5, day=1))
    on_pause_date = system.quote_cancellation(enrollment_id)
    assert on_pause_date.refund == usd("445.90")  # 600.00 - round(1200.00 * 47 / 366)
    seen = count_events(system, enrollment_id)
    charges = len(fake.charges)

    system.pause(enrollment_id, actor="admin", reason="medical leave")
    clock.advance(days=20)
    assert system.collect_due().outcomes == ()
    result = system.cancel_enrollment(enrollment_id, reason="not coming back", actor="admin")
    fake.deliver(system)

    quote = result.quote
    assert quote is not None
    assert result.refund_total == usd("445.90") == on_pause_date.refund
    assert (quote.used_days, quote.paused_days, quote.total_days) == (47, 20, 366)
    assert quote.service_end == date(2028, 4, 4)  # 2028-03-15 + 20 days
    assert quote.lines[:2] == (
        RefundLine("paid", "Paid so far", usd("600.00")),
        RefundLine(
            "paused", "Paused 20 days, not counted as used: service ends 2028-04-04", usd("0.00")
        ),
    )
    # Counting the pause as used (day 67) would have kept 219.67 and given back 380.33.
    as_used = quote_refund(
        POLICY,
        price=usd("1200.00"),
        paid=usd("600.00"),
        service_start=date(2027, 3, 15),
        service_end=date(2028, 3, 15),
        cancelled_on=date(2027, 5, 21),
    )
    assert as_used.refund == usd("380.33")

    details = system.payment_details(enrollment_id)
    enrollment = details.enrollment
    assert (enrollment.status, enrollment.paused_on, enrollment.paused_days) == (
        EnrollmentStatus.CANCELLED,
        None,
        20,
    )
    assert [i.status for i in details.items] == [ItemStatus.PAID] * 2 + [ItemStatus.CANCELLED] * 2
    assert sorted(r.amount.minor for r in details.refunds) == [14590, 30000]
    assert all(r.status == "succeeded" for r in details.refunds)
    refunded = [
        r.amount.minor
        for p in details.payments
        for r in fake.refunds_for(p.gateway_payment_id or "")
    ]
    assert sorted(refunded) == [14590, 30000]
    assert len(fake.charges) == charges  # nothing charged while paused
    assert kinds_since(system, enrollment_id, seen) == [
        "enrollment.paused",
        "access.suspended",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "refund.issued",
        "refund.issued",
    ]
    cancelled = system.audit_log(entity_id=enrollment_id)
    entry = next(e for e in cancelled if e.action == "enrollment.cancelled")
    assert (entry.data["paused_days"], entry.data["refund"]) == (
        20,
        {"minor": 44590, "currency": "USD"},
    )


def test_resume_moves_the_service_end_and_later_quotes_leave_the_pause_out(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Paused 05-01 to 05-21, cancelled 06-10: 67 days used of 366, 380.33 back, end 2028-04-04."""
    enrollment_id = two_paid(system, fake, clock)
    clock.set(START.replace(month=5, day=1))
    system.pause(enrollment_id, actor="admin")
    clock.advance(days=20)
    seen = count_events(system, enrollment_id)

    resumed = system.resume(enrollment_id, actor="admin")

    assert (resumed.status, resumed.paused_on, resumed.paused_days) == (
        EnrollmentStatus.ACTIVE,
        None,
        20,
    )
    resumed_event = [e for e in system.list_events() if e.enrollment_id == enrollment_id][seen]
    assert (resumed_event.kind, resumed_event.data["days"], resumed_event.data["paused_days"]) == (
        "enrollment.resumed",
        20,
        20,
    )
    audit = system.audit_log(entity_id=enrollment_id)[-1]
    assert (audit.action, audit.data["paused_days"], audit.data["shifted_days"]) == (
        "enrollment.resumed",
        20,
        20,
    )
    # The remaining schedule moved with the service end: 05-15 and 06-15 became 06-04 and 07-05.
    assert [i.due for i in system.payment_details(enrollment_id).items][2:] == [
        date(2027, 6, 4),
        date(2027, 7, 5),
    ]

    quote = system.quote_cancellation(enrollment_id, on=date(2027, 6, 10))
    assert (quote.used_days, quote.paused_days, quote.service_end) == (67, 20, date(2028, 4, 4))
    assert quote.refund == usd("380.33")  # 600.00 - round(1200.00 * 67 / 366) = 600.00 - 219.67


def test_quotes_during_a_pause_stay_put(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """While paused, a quote for any later day equals the quote on the pause date."""
    enrollment_id = two_paid(system, fake, clock)
    clock.set(START.replace(month=5, day=1))
    system.pause(enrollment_id, actor="admin")
    quotes = [
        system.quote_cancellation(enrollment_id, on=PAUSED_ON + timedelta(days=n))
        for n in (0, 1, 30, 400)
    ]
    assert {q.refund for q in quotes} == {usd("445.90")}
    assert [q.paused_days for q in quotes] == [0, 1, 30, 400]
    assert [q.service_end for q in quotes] == [
        date(2028, 3, 15) + timedelta(days=n) for n in (0, 1, 30, 400)
    ]


# -- the property ------------------------------------------------------------------------


@st.composite
def timelines(draw: st.DrawFn) -> tuple[Money, int, RefundPolicy, int, int, int]:
    """A price, an installment count, a policy, days before the pause, earlier pause, length."""
    price = draw(money("USD", min_value="10.00", max_value="50000.00"))
    count = draw(st.integers(min_value=2, max_value=12))
    policy = draw(refund_policies("USD", max_fee_minor=price.minor))
    # Paused before the last installment is due: a completed enrollment cannot pause.
    before = draw(st.integers(min_value=0, max_value=28 * (count - 1) - 1))
    earlier = draw(st.integers(min_value=0, max_value=60))
    length = draw(st.integers(min_value=0, max_value=180))
    return price, count, policy, before, earlier, length


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_pausing_then_cancelling_never_refunds_less_than_cancelling_on_the_pause_date(
    timeline: tuple[Money, int, RefundPolicy, int, int, int],
) -> None:
    """Any plan, policy and dates: the refund after a pause >= the quote on the pause date.

    The quote on the pause date is what cancelling instead of pausing would
    refund. An earlier pause (resumed) comes first when drawn. In-memory
    store only: the scenarios above run on every store.
    """
    price, count, policy, before, earlier, length = timeline
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="program",
        product_id="p",
        name="P",
        price=price,
        payment_plan=Installments(count),
        refund_policy=policy,
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    enrollment_id = result.enrollment_id
    if earlier:
        system.pause(enrollment_id, actor="admin")
        clock.advance(days=earlier)
        system.resume(enrollment_id, actor="admin")
    clock.advance(days=before)
    system.collect_due()
    fake.deliver(system)

    on_pause_date = system.quote_cancellation(enrollment_id)
    system.pause(enrollment_id, actor="admin")
    clock.advance(days=length)
    assert system.collect_due().outcomes == ()
    cancelled = system.cancel_enrollment(enrollment_id, reason="leaving", actor="admin")

    assert cancelled.refund_total >= on_pause_date.refund
    assert cancelled.quote is not None
    assert cancelled.quote.used_days == on_pause_date.used_days
    assert cancelled.quote.paused_days == on_pause_date.paused_days + length
    assert cancelled.enrollment.paused_days == cancelled.quote.paused_days
    assert system.verify_audit_chain().ok


@pytest.mark.parametrize("length", [0, 1, 20])
def test_the_pause_line_appears_only_with_paused_days(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, length: int
) -> None:
    """A quote lists ``paused`` exactly when some day of service was paused."""
    enrollment_id = two_paid(system, fake, clock)
    clock.set(START.replace(month=5, day=1))
    system.pause(enrollment_id, actor="admin")
    clock.advance(days=length)
    system.resume(enrollment_id, actor="admin")
    codes = [line.code for line in system.quote_cancellation(enrollment_id).lines]
    assert ("paused" in codes) == (length > 0)
