"""Two dispatchers, two processes' worth of connections, one PostgreSQL outbox: each event once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock
from enrollpay.testing.ids import SequentialIds

pytestmark = pytest.mark.postgres

STUDENTS = 6


@pytest.fixture
def stores(pg_url: str) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one migrated database, as two worker processes would have."""
    first, second = SqlStore.from_url(pg_url), SqlStore.from_url(pg_url)
    yield first, second
    first.close()
    second.close()


def fill(store: SqlStore) -> int:
    """Enroll and pay a few students on the fake gateway; return the events written."""
    clock = FrozenClock(datetime(2027, 3, 15, 9, tzinfo=UTC))
    gateway = FakeGateway(clock=clock)
    system = PaymentSystem(store=store, gateway=gateway, clock=clock, ids=SequentialIds())
    course = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=Money.of("300", "USD"),
        payment_plan=Installments(3),
    )
    for n in range(STUDENTS):
        result = system.enroll(user_id=f"u-{n}", product_id=course.id)
        assert result.client_secret is not None
        gateway.complete_payment(result.client_secret)
    gateway.deliver(system)
    return len(system.list_events())


def test_two_concurrent_dispatchers_deliver_each_event_once(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    """Both dispatch at once until the outbox is empty: every event once, in order per run.

    The handler is slow, so the two runs overlap; the one that finds the lease
    taken gets 0 and tries again. Among them they deliver each event exactly
    once, and each run hands its events out in the order they occurred.
    """
    total = fill(stores[0])
    assert total == STUDENTS * 4  # created, installment.paid, activated, access.granted
    systems = [
        PaymentSystem(store=s, ids=SequentialIds(start=1000 * (n + 1)))
        for n, s in enumerate(stores)
    ]
    delivered: list[tuple[int, str]] = []
    runs: list[list[int]] = [[], []]
    lock = threading.Lock()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def dispatcher(n: int) -> None:
        def handler(event: DomainEvent) -> None:
            time.sleep(0.01)
            with lock:
                delivered.append((n, event.id))

        try:
            start.wait()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with lock:
                    if len(delivered) >= total:
                        return
                runs[n].append(systems[n].dispatch_events(handler, limit=5))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    order = [e.id for e in systems[0].list_events()]
    ids = [event_id for _, event_id in delivered]
    assert sorted(ids) == sorted(order)  # each event exactly once
    assert len(set(ids)) == total
    assert ids == order  # one dispatcher at a time: the overall order is kept
    assert systems[1].list_events(delivered=False) == []
    assert 0 in runs[0] + runs[1]  # the runs really overlapped: one found the lease taken
