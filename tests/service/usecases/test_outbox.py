"""Use cases ``list_events`` and ``dispatch_events``: the outbox as the host application sees it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import Installments, PaymentSystem
from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.domain.records import Product
from enrollpay.errors import StorageError
from enrollpay.ports import Store, StoreTransaction
from enrollpay.service import outbox
from enrollpay.service.outbox import DISPATCH_BATCH
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import enroll_and_pay, kinds, run_retries


@pytest.fixture
def busy(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product) -> str:
    """An enrollment paid, then declined once (six events)."""
    result = enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    assert len(system.list_events()) == 6
    return result.enrollment_id


def test_events_are_listed_in_the_order_they_occurred(
    system: PaymentSystem, clock: FrozenClock, busy: str
) -> None:
    """Distinct ids, known kinds, times that never go back, this enrollment's id."""
    events = system.list_events()

    assert kinds(events) == [
        "enrollment.created",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
        "payment.failed",
        "enrollment.past_due",
    ]
    assert len({e.id for e in events}) == 6
    assert all(e.kind in EVENT_KINDS for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert (events[0].at, events[-1].at) == (START, clock.now())
    assert {e.enrollment_id for e in events} == {busy}


def test_an_event_is_json_ready(system: PaymentSystem, busy: str) -> None:
    """to_json: the id, kind, enrollment, ISO time and plain data."""
    failed = system.list_events()[4]
    assert failed.to_json() == {
        "id": failed.id,
        "kind": "payment.failed",
        "enrollment_id": busy,
        "at": failed.at.isoformat(),
        "data": dict(failed.data),
    }


def test_limit_and_delivered_filter_the_listing(system: PaymentSystem, busy: str) -> None:
    """The first n; delivered ones apart from the rest."""
    events = system.list_events()
    assert system.list_events(limit=2) == events[:2]
    assert system.list_events(delivered=True) == []

    system.dispatch_events(lambda e: None, limit=4)

    assert system.list_events(delivered=True) == events[:4]
    assert system.list_events(delivered=False) == events[4:]
    assert system.list_events() == events


def test_dispatch_hands_out_each_event_once_in_order(system: PaymentSystem, busy: str) -> None:
    """Six events, in order; a second run finds none."""
    seen: list[DomainEvent] = []

    assert system.dispatch_events(seen.append) == 6
    assert seen == system.list_events()
    assert system.dispatch_events(seen.append) == 0
    assert len(seen) == 6


def test_events_written_after_a_dispatch_are_handed_out_next_time(
    system: PaymentSystem, clock: FrozenClock, busy: str
) -> None:
    """Only the new ones, still in order."""
    system.dispatch_events(lambda e: None)
    clock.advance(days=1)
    system.collect_due()
    seen: list[str] = []

    assert system.dispatch_events(lambda e: seen.append(e.kind)) == 2
    assert seen == ["installment.paid", "enrollment.activated"]


def test_a_failing_handler_stops_the_run_and_keeps_the_rest(
    system: PaymentSystem, busy: str
) -> None:
    """The error reaches the caller; that event and the later ones wait for the next run."""
    calls: list[str] = []

    def handler(event: DomainEvent) -> None:
        calls.append(event.kind)
        if event.kind == "access.granted":
            raise RuntimeError("consumer down")

    with pytest.raises(RuntimeError, match="consumer down"):
        system.dispatch_events(handler)

    assert kinds(system.list_events(delivered=False)) == [
        "access.granted",
        "payment.failed",
        "enrollment.past_due",
    ]
    later: list[str] = []
    assert system.dispatch_events(lambda e: later.append(e.kind)) == 3
    assert later == ["access.granted", "payment.failed", "enrollment.past_due"]


def test_a_dispatch_inside_a_dispatch_gets_nothing(system: PaymentSystem, busy: str) -> None:
    """One dispatcher at a time: the nested call returns 0 and delivers nothing."""
    nested: list[int] = []

    def handler(event: DomainEvent) -> None:
        if not nested:
            nested.append(system.dispatch_events(lambda e: None))

    assert system.dispatch_events(handler) == 6
    assert nested == [0]


def test_an_interrupted_dispatch_loses_nothing_and_frees_the_lease(
    system: PaymentSystem, busy: str
) -> None:
    """A BaseException (Ctrl-C in the handler): no event marked, the next run gets them all."""

    class Interrupted(BaseException):
        """Raised past ``except Exception`` handlers, like KeyboardInterrupt."""

    def interrupted(event: DomainEvent) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        system.dispatch_events(interrupted)

    assert len(system.list_events(delivered=False)) == 6
    assert system.dispatch_events(lambda e: None) == 6


class _ReleaseFails:
    """A store transaction whose database goes away as the dispatch lease is released."""

    def __init__(self, tx: StoreTransaction) -> None:
        self._tx = tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def release_dispatch_lease(self, *, holder: str) -> None:
        raise StorageError("the connection was lost")


def test_a_dispatcher_that_could_not_free_its_lease_takes_it_back(
    system: PaymentSystem,
    store: Store,
    fake: FakeGateway,
    clock: FrozenClock,
    busy: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database went away mid-run: the same system's next call dispatches at once.

    Its lease was never released, so any other dispatcher waits for it to
    expire; the system that held it takes it back as the same holder.
    """
    real = store.transaction

    @contextmanager
    def failing() -> Iterator[Any]:
        with real() as tx:
            yield _ReleaseFails(tx)

    def handler(event: DomainEvent) -> None:
        raise StorageError("the database went away")

    monkeypatch.setattr(store, "transaction", failing)
    with pytest.raises(StorageError, match="the connection was lost"):
        system.dispatch_events(handler)
    monkeypatch.setattr(store, "transaction", real)

    other = PaymentSystem(store=store, gateway=fake, clock=clock)
    assert other.dispatch_events(lambda e: None) == 0  # the lease is still held
    seen: list[str] = []
    assert system.dispatch_events(lambda e: seen.append(e.id)) == 6
    assert len(set(seen)) == 6
    assert system.list_events(delivered=False) == []


def test_a_refused_operation_adds_no_event(system: PaymentSystem, busy: str) -> None:
    """Refusals roll back with their transaction: the outbox is unchanged."""
    before = system.list_events()
    item = system.list_schedule_items(enrollment_id=busy)[2]
    with pytest.raises(ValueError, match="outstanding"):
        system.record_manual_payment(item.id, method="cash", actor="a", amount=usd("100.01"))
    assert system.list_events() == before


def test_more_events_than_one_batch_are_all_delivered_in_order(clock: FrozenClock) -> None:
    """Past DISPATCH_BATCH events, the run reads on until the outbox is empty."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    users = DISPATCH_BATCH // 3 + 5  # three events each: created, activated, access.granted
    for n in range(users):
        system.enroll(user_id=f"u{n}", product_id=product.id, start=START.date() + timedelta(1))
    seen: list[DomainEvent] = []

    assert system.dispatch_events(seen.append) == 3 * users > DISPATCH_BATCH
    assert seen == system.list_events()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limits=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=6),
    declines=st.integers(min_value=0, max_value=4),
)
def test_dispatch_in_any_slices_delivers_the_same_sequence(
    limits: list[int], declines: int
) -> None:
    """Runs with any limits, then one without: every event once, in the listing's order."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    enroll_and_pay(system, fake, product)
    fake.script(*[fake.decline()] * declines)
    run_retries(system, clock, max(declines, 1))
    seen: list[str] = []

    for limit in limits:
        assert system.dispatch_events(lambda e: seen.append(e.id), limit=limit) <= limit
    system.dispatch_events(lambda e: seen.append(e.id))

    assert seen == [e.id for e in system.list_events()]
    assert system.list_events(delivered=False) == []


def test_a_long_run_keeps_its_lease_by_renewing_it(
    system: PaymentSystem, store: Store, clock: FrozenClock, busy: str
) -> None:
    """Handlers taking 4 of the lease's 5 minutes each: renewed as it goes, all 6 delivered."""
    holds: list[bool] = []

    def slow(event: DomainEvent) -> None:
        clock.advance(timedelta(minutes=4))
        with store.transaction() as tx:  # another dispatcher asks for the lease meanwhile
            holds.append(
                tx.acquire_dispatch_lease(holder="other", now=clock.now(), until=clock.now())
            )

    assert system.dispatch_events(slow) == 6
    assert holds == [False] * 6


class _CountingTransaction:
    """A store transaction that notes when the dispatch lease is taken or renewed."""

    def __init__(self, tx: StoreTransaction, writes: list[datetime]) -> None:
        self._tx = tx
        self._writes = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        self._writes.append(now)
        return self._tx.acquire_dispatch_lease(holder=holder, now=now, until=until)


class _CountingStore:
    """The store, its transactions counting lease writes."""

    def __init__(self, store: Store, writes: list[datetime]) -> None:
        self._store = store
        self._writes = writes

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._store.transaction() as tx:
            yield _CountingTransaction(tx, self._writes)


def test_the_lease_is_renewed_only_once_a_tenth_of_it_has_passed(
    store: Store, clock: FrozenClock, busy: str
) -> None:
    """One lease write per 30 s of a 5-minute lease, not one per event (a hot row otherwise)."""
    writes: list[datetime] = []

    def handler(event: DomainEvent) -> None:
        clock.advance(timedelta(seconds=10))

    counting = cast("Store", _CountingStore(store, writes))
    delivered = outbox.dispatch_events(
        counting, handler, now=clock.now, holder="h", lease=timedelta(minutes=5)
    )

    assert delivered == 6
    # Taken at the start, renewed at the first event past 30 s (the fourth, at 40 s).
    assert [w - writes[0] for w in writes] == [timedelta(0), timedelta(seconds=40)]
