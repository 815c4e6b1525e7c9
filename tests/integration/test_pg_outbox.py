"""The outbox on PostgreSQL with several connections at once: visibility and the lease race."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from enrollpay.storage.sql import SqlStore

from ..contract.test_outbox_contract import an_event, ids  # noqa: TID252
from ..contract.test_store_contract import T0  # noqa: TID252

pytestmark = pytest.mark.postgres

RACERS = 12
ROUNDS = 4
MINUTE = timedelta(minutes=1)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[SqlStore]:
    """A migrated PostgreSQL store with a connection per racer in its pool."""
    store = SqlStore.from_url(pg_url, pool_size=RACERS + 2)
    yield store
    store.close()


def _in_threads(count: int, work: Callable[[int], bool]) -> list[bool]:
    """Run ``work(n)`` in ``count`` threads at once; their results, or the first error."""
    results = [False] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = work(n)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("lease_row", ["seeded", "missing"])
def test_racers_for_the_lease_at_the_same_instant_get_exactly_one_winner(
    pg_store: SqlStore, lease_row: str
) -> None:
    """Twelve holders ask at once, round after round, each in its own transaction: one wins."""
    if lease_row == "missing":  # a schema built without the migration's row: the INSERT races
        with pg_store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM enrollpay_outbox_lease"))
    for round_ in range(ROUNDS):
        now = T0 + 2 * round_ * MINUTE  # the previous round's lease has just expired
        start = threading.Barrier(RACERS, timeout=30)

        def race(n: int, now: datetime = now, start: threading.Barrier = start) -> bool:
            with pg_store.transaction() as tx:
                tx.list_events(limit=1)  # begun, connected: only the race is left
                start.wait()
                until = now + MINUTE
                won = tx.acquire_dispatch_lease(holder=f"worker-{n}", now=now, until=until)
                if won:
                    time.sleep(0.2)  # the others ask while the winner has not committed
                return won

        results = _in_threads(RACERS, race)
        assert sum(results) == 1, f"round {round_}: {results}"
        winner = results.index(True)
        with pg_store.transaction() as tx:
            assert not tx.acquire_dispatch_lease(
                holder=f"worker-{(winner + 1) % RACERS}", now=now, until=now + MINUTE
            )
            assert tx.acquire_dispatch_lease(holder=f"worker-{winner}", now=now, until=now + MINUTE)


def test_events_are_invisible_to_other_transactions_until_commit(pg_store: SqlStore) -> None:
    """Another connection sees none of the events of an open transaction, then all of them."""
    with pg_store.transaction() as writer:
        writer.add_events([an_event("evt_1"), an_event("evt_2")])
        with pg_store.transaction() as reader:
            assert reader.pending_events(limit=10) == []
            assert reader.list_events() == []
    with pg_store.transaction() as reader:
        assert ids(reader.pending_events(limit=10)) == ["evt_1", "evt_2"]


def test_a_successor_waits_for_a_mark_in_flight_before_taking_the_lease(
    pg_store: SqlStore,
) -> None:
    """A mark holds the lease row FOR SHARE: a new holder waits, then finds the event delivered."""
    with pg_store.transaction() as tx:
        tx.add_events([an_event("evt_1")])
        assert tx.acquire_dispatch_lease(holder="worker-a", now=T0, until=T0 + MINUTE)
    marked = threading.Event()
    seen: list[list[str]] = []

    def successor() -> None:
        marked.wait()
        later = T0 + 2 * MINUTE  # worker-a's lease has expired by then
        with pg_store.transaction() as tx:
            assert tx.acquire_dispatch_lease(holder="worker-b", now=later, until=later + MINUTE)
            seen.append(ids(tx.pending_events(limit=10)))

    thread = threading.Thread(target=successor)
    thread.start()
    with pg_store.transaction() as tx:
        assert tx.mark_event_delivered("evt_1", holder="worker-a", at=T0 + MINUTE / 2)
        marked.set()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # blocked on the lease row until this mark commits
    thread.join(timeout=30)
    assert seen == [[]]
