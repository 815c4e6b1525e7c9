"""The event registry as the handler ``dispatch_events`` calls, on a failing weekly plan.

The host app registers functions by event kind (as its FastAPI or Flask
app would); the outbox is dispatched after every collection, and twice in a
row, the way overlapping cron runs would. Each function must see each event
exactly once when nothing crashes, in the order the events occurred.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import Installments, Interval, PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.records import Product
from enrollpay.integrations.events import EventRegistry
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd
from tests.service.usecases.support import enroll_and_pay


@pytest.fixture
def weekly(system: PaymentSystem) -> Product:
    """400.00 USD in four weekly installments of 100.00, the first due on enrollment."""
    return system.register_product(
        product_type="course",
        product_id="weekly",
        name="Welding 101",
        price=usd("400.00"),
        payment_plan=Installments(4, interval=Interval.weeks(1)),
    )


class Lms:
    """The host's course platform: who may open the course."""

    def __init__(self, system: PaymentSystem) -> None:
        self.system = system
        self.revoked: list[tuple[str, str]] = []
        self.restored: list[tuple[str, str]] = []
        self.seen: list[str] = []

    def registry(self) -> EventRegistry:
        """The app's registry: revoke on suspension, give back on restoration, log everything."""
        events = EventRegistry()

        @events.on("access.suspended")
        def revoke(event: DomainEvent) -> None:
            self.revoked.append((self._user(event), event.id))

        @events.on("access.restored")
        def restore(event: DomainEvent) -> None:
            self.restored.append((self._user(event), event.id))

        @events.on_any
        def log(event: DomainEvent) -> None:
            self.seen.append(event.id)

        return events

    def _user(self, event: DomainEvent) -> str:
        assert event.enrollment_id is not None
        return self.system.get_enrollment(event.enrollment_id).user_id


def test_a_failing_weekly_plan_revokes_access_once_even_when_dispatch_runs_twice(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, weekly: Product
) -> None:
    """Four declines: access.suspended reaches the LMS once; a new card restores it once."""
    result = enroll_and_pay(system, fake, weekly)
    lms = Lms(system)
    events = lms.registry()
    fake.script(*[fake.decline()] * 4)

    for step in (timedelta(days=7), *system.config.retry_policy.delays):
        clock.advance(step)
        system.collect_due()
        events.dispatch(system)
        assert events.dispatch(system) == 0  # the second run finds nothing left
    assert lms.revoked == [("u-1", lms.revoked[0][1])]
    assert system.get_enrollment(result.enrollment_id).status == "suspended"
    assert lms.restored == []

    fake.attach_payment_method("cus_fake_000001", "pm_new")
    system.update_payment_method("u-1", "pm_new")
    assert events.dispatch(system) > 0
    assert events.dispatch(system) == 0
    assert [user for user, _ in lms.restored] == ["u-1"]

    outbox = system.list_events()
    assert lms.seen == [e.id for e in outbox]  # every event once, in the order it occurred
    (suspension,) = [e for e in outbox if e.kind == "access.suspended"]
    assert lms.revoked == [("u-1", suspension.id)]
    assert system.list_events(delivered=False) == []


def test_a_function_that_raises_leaves_the_event_for_the_next_run(
    system: PaymentSystem, fake: FakeGateway, weekly: Product
) -> None:
    """The failing event and every later one stay; the next run hands them out again, in order."""
    enroll_and_pay(system, fake, weekly)
    pending = [e.id for e in system.list_events(delivered=False)]
    assert len(pending) >= 3
    seen: list[str] = []
    broken = {"on": True}
    events = EventRegistry()

    @events.on_any
    def record(event: DomainEvent) -> None:
        if event.id == pending[1] and broken["on"]:
            raise RuntimeError("the LMS is down")
        seen.append(event.id)

    with pytest.raises(RuntimeError, match="the LMS is down"):
        events.dispatch(system)
    assert seen == pending[:1]
    assert [e.id for e in system.list_events(delivered=False)] == pending[1:]

    broken["on"] = False
    assert events.dispatch(system) == len(pending) - 1
    assert seen == pending
