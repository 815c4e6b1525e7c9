"""A plan change on every store kind (memory, SQLite, PostgreSQL).

The use-case module (``tests/service/usecases/test_plan_change.py``) pins
the behaviour on memory; here the same change, its preview, a refusal and
the collection after it run over each store, so the SQL stores keep the
schedule versions, the superseded status and the one unit of work.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.plans import FullPayment, Installments
from enrollpay.domain.records import Product
from enrollpay.errors_plan_change import PlanChangeBlocked
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import state_of, usd

SIX = Installments(6)


@pytest.fixture
def twelve(system: PaymentSystem) -> Product:
    """1,200.00 USD on twelve monthly installments; six or full payment offered."""
    return system.register_product(
        product_type="course",
        product_id="twelve",
        name="Twelve installments",
        price=usd("1200.00"),
        payment_plan=Installments(12),
        offered_plans=(SIX,),
    )


def enroll_and_pay(system: PaymentSystem, fake: FakeGateway, product: Product) -> str:
    """u-1 enrolled, the first installment paid on-session."""
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


def test_a_plan_change_is_stored_and_collected_on_every_store(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, twelve: Product
) -> None:
    """Preview writes nothing; the change supersedes, adds version 2; collection charges it."""
    enrolled = enroll_and_pay(system, fake, twelve)
    before = state_of(system)
    preview = system.preview_plan_change(enrolled, SIX)
    assert state_of(system) == before

    result = system.change_plan(enrolled, SIX, actor="admin")

    assert result.change == preview
    items = sorted(system.list_schedule_items(enrollment_id=enrolled), key=lambda i: i.seq)
    assert [(i.seq, i.status, i.schedule_version) for i in items] == [
        (1, ItemStatus.PAID, 1),
        *[(n, ItemStatus.SUPERSEDED, 1) for n in range(2, 13)],
        *[(n, ItemStatus.SCHEDULED, 2) for n in range(13, 19)],
    ]
    assert sum(i.amount.minor for i in items[12:]) == 110000
    assert system.get_enrollment(enrolled).plan == SIX
    assert [e.kind for e in system.list_events()][-1] == "schedule.changed"

    system.collect_due()
    clock.advance(timedelta(days=31))
    system.collect_due()
    charged = [
        c.params["metadata"]["item_id"] for c in fake.calls if c.verb == "charge_off_session"
    ]
    assert charged == [i.id for i in items[12:14]]
    assert system.get_enrollment(enrolled).status == EnrollmentStatus.ACTIVE

    full = system.change_plan(enrolled, FullPayment(), actor="admin")
    left = 110000 - items[12].amount.minor - items[13].amount.minor
    assert (full.change.old_version, full.change.owed_after.minor) == (2, left)
    assert [i.amount.minor for i in full.added] == [left]


def test_a_blocked_change_writes_nothing_on_every_store(
    system: PaymentSystem, fake: FakeGateway, twelve: Product
) -> None:
    """An open checkout on the first item: refused, every store left as it was."""
    result = system.enroll(user_id="u-1", product_id=twelve.id)
    before = state_of(system)
    events = system.list_events()

    with pytest.raises(PlanChangeBlocked):
        system.change_plan(result.enrollment_id, SIX, actor="admin")

    assert state_of(system) == before
    assert system.list_events() == events


def test_reports_count_what_the_new_version_owes_not_the_superseded_items(
    system: PaymentSystem, fake: FakeGateway, twelve: Product
) -> None:
    """Forecast: the six new items only; status: superseded items owe nothing; paid through.

    The new plan starts ten days on, so the paid first item's date is paid through
    (superseded items, unpaid, no longer count).
    """
    enrolled = enroll_and_pay(system, fake, twelve)
    system.change_plan(enrolled, SIX, at=date(2027, 3, 25), actor="admin")

    forecast = system.forecast_report(months=12)
    assert sum(row.items for row in forecast) == 6
    assert sum(row.amount.minor for row in forecast) == 110000
    (superseded,) = [r for r in system.status_report().items if r.status == ItemStatus.SUPERSEDED]
    assert (superseded.count, superseded.amount, superseded.outstanding) == (
        11,
        usd("1100.00"),
        usd("0.00"),
    )
    assert system.payment_details(enrolled).paid_through == items_paid_through(system, enrolled)


def items_paid_through(system: PaymentSystem, enrollment_id: str) -> date:
    """The first item's due date: it is paid, the new first item (due later) is not."""
    first = min(system.list_schedule_items(enrollment_id=enrollment_id), key=lambda i: i.seq)
    assert first.status == ItemStatus.PAID
    return first.due
