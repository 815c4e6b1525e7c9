"""The outbox part of the store contract: events and the dispatch lease, in every store.

Runs against the in-memory store, the SQL store on an SQLite file and on
PostgreSQL, as the rest of the store contract (``store_factory`` in
tests/conftest.py). What needs two connections at once (visibility before
commit, racing for the lease) is in tests/integration/test_pg_outbox.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from enrollpay.domain.events import DomainEvent, EventDraft
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.ports import Store, StoreTransaction
from enrollpay.storage.sql import SqlStore

from .test_store_contract import T0, look, read, write_then_fail

PARIS = ZoneInfo("Europe/Paris")
LATER = T0 + timedelta(minutes=5)
UNTIL = T0 + timedelta(minutes=1)


def an_event(
    event_id: str, kind: str = "installment.paid", *, at: datetime = T0, enrollment: str = "enr_1"
) -> DomainEvent:
    """A stamped event with a little JSON data."""
    draft = EventDraft(kind, enrollment, at, {"item_id": "itm_1", "amount_minor": 10000})
    return draft.stamp(event_id)


def ids(events: list[DomainEvent]) -> list[str]:
    """The ids of ``events``, in their order."""
    return [e.id for e in events]


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


def add(store: Store, *events: DomainEvent) -> None:
    """Add ``events`` in a transaction of their own."""
    with store.transaction() as tx:
        tx.add_events(events)


def take(store: Store, holder: str, *, now: datetime = T0, until: datetime = UNTIL) -> bool:
    """Try to take the dispatch lease in a transaction of its own."""
    with store.transaction() as tx:
        return tx.acquire_dispatch_lease(holder=holder, now=now, until=until)


def mark(store: Store, event_id: str, holder: str, at: datetime = T0) -> bool:
    """Try to mark an event delivered in a transaction of its own."""
    with store.transaction() as tx:
        return tx.mark_event_delivered(event_id, holder=holder, at=at)


# --- events -------------------------------------------------------------------------


def test_an_empty_outbox_has_nothing_pending(store: Store) -> None:
    """A new store has no events, delivered or not."""
    with store.transaction() as tx:
        assert tx.pending_events(limit=10) == []
    assert look(store, lambda view: view.list_events()) == []


def test_events_round_trip_equal_and_time_zone_aware(store: Store) -> None:
    """An event comes back equal: id, kind, enrollment (or none), instant and data."""
    nested = EventDraft(
        "payment.failed",
        None,
        datetime(2027, 10, 31, 1, 30, 15, 999999, tzinfo=PARIS),
        {"decline_code": "card_declined", "next_retry_at": None, "tries": [1, 2],
         "detail": {"soft": True, "amount_minor": 2999}},
    ).stamp("evt_1")  # fmt: skip
    add(store, nested)
    [stored] = look(store, lambda view: view.list_events())
    assert stored == nested
    assert dict(stored.data) == dict(nested.data)
    assert stored.at == nested.at
    assert stored.at.utcoffset() is not None


def test_events_are_visible_in_their_transaction_and_gone_on_rollback(store: Store) -> None:
    """The adding transaction reads its events; a block that raises leaves none behind."""

    def add_and_look(tx: StoreTransaction) -> None:
        tx.add_events([an_event("evt_1"), an_event("evt_2")])
        assert ids(tx.pending_events(limit=10)) == ["evt_1", "evt_2"]

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, add_and_look)
    assert look(store, lambda view: view.list_events()) == []
    add(store, an_event("evt_1"))
    assert ids(look(store, lambda view: view.list_events())) == ["evt_1"]


def test_events_keep_the_order_they_were_added_in_across_transactions(store: Store) -> None:
    """The order is the order of adding, not of ids or of the events' own instants."""
    add(store, an_event("evt_c", at=LATER), an_event("evt_a"))
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, lambda tx: tx.add_events([an_event("evt_lost")]))
    add(store, an_event("evt_b", at=T0 - timedelta(days=1)))
    add(store)  # nothing to add is fine
    add(store, an_event("evt_0"), an_event("evt_9"))
    expected = ["evt_c", "evt_a", "evt_b", "evt_0", "evt_9"]
    assert ids(look(store, lambda view: view.list_events())) == expected
    assert ids(read(store, lambda tx: tx.pending_events(limit=100))) == expected
    assert ids(read(store, lambda tx: tx.pending_events(limit=2))) == expected[:2]


def test_an_event_id_is_stored_once(store: Store) -> None:
    """A known or repeated id is a DuplicateError; none of that batch is added."""
    add(store, an_event("evt_1"))
    with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
        tx.add_events([an_event("evt_2"), an_event("evt_1", "access.granted")])
    assert (raised.value.what, raised.value.key) == ("event id", "evt_1")
    with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
        tx.add_events([an_event("evt_3"), an_event("evt_3")])
    assert (raised.value.what, raised.value.key) == ("event id", "evt_3")
    [stored] = look(store, lambda view: view.list_events())
    assert stored == an_event("evt_1")


def holds_events_until_commit(store: Store) -> bool:
    """Whether ``store`` writes a unit of work's events at its commit (see ``add_events``)."""
    return isinstance(store, SqlStore)  # SQLite and PostgreSQL; the memory store at once


def test_a_known_id_is_refused_at_once_or_at_commit(store: Store) -> None:
    """A store that writes at once refuses the batch and the block goes on to commit.

    A store that holds events until the commit (the SQL store) refuses the
    commit instead, and nothing of the block is kept.
    """
    add(store, an_event("evt_1"))
    refused: list[tuple[str, object]] = []
    try:
        with store.transaction() as tx:
            try:
                tx.add_events([an_event("evt_2"), an_event("evt_1")])
            except DuplicateError as error:
                refused.append(("at once", error.key))
                assert ids(tx.pending_events(limit=10)) == ["evt_1"]
            tx.add_events([an_event("evt_3")])
    except DuplicateError as error:
        refused.append(("at commit", error.key))
    if holds_events_until_commit(store):
        assert refused == [("at commit", "evt_1")]
        assert ids(look(store, lambda view: view.list_events())) == ["evt_1"]
    else:
        assert refused == [("at once", "evt_1")]
        assert ids(look(store, lambda view: view.list_events())) == ["evt_1", "evt_3"]


def test_an_id_added_twice_in_one_transaction_is_refused(store: Store) -> None:
    """The same id in two batches of one block is a DuplicateError (at once or at commit)."""

    def add_twice(tx: StoreTransaction) -> None:
        tx.add_events([an_event("evt_1"), an_event("evt_2")])
        tx.add_events([an_event("evt_3"), an_event("evt_2", "access.granted")])

    with pytest.raises(DuplicateError) as raised:
        read(store, add_twice)
    assert (raised.value.what, raised.value.key) == ("event id", "evt_2")
    assert look(store, lambda view: view.list_events()) == []


def test_events_held_back_are_read_and_marked_in_their_transaction(store: Store) -> None:
    """Events just added are listed, pending and markable before the block ends."""
    assert take(store, "worker-a")
    with store.transaction() as tx:
        tx.add_events([an_event("evt_1"), an_event("evt_2")])
        assert tx.mark_event_delivered("evt_1", holder="worker-a", at=T0)
        tx.add_events([an_event("evt_3")])
        assert ids(tx.pending_events(limit=10)) == ["evt_2", "evt_3"]
    assert ids(look(store, lambda view: view.list_events(delivered=True))) == ["evt_1"]
    assert ids(look(store, lambda view: view.list_events())) == ["evt_1", "evt_2", "evt_3"]


def test_pending_events_exclude_delivered_ones(store: Store) -> None:
    """Delivered events leave the pending list; list_events filters either way."""
    add(store, *(an_event(f"evt_{n}") for n in range(1, 5)))
    assert take(store, "worker-a")
    assert mark(store, "evt_1", "worker-a")
    assert mark(store, "evt_3", "worker-a")
    with store.transaction() as tx:
        assert ids(tx.pending_events(limit=10)) == ["evt_2", "evt_4"]
        assert ids(tx.pending_events(limit=1)) == ["evt_2"]
    with store.reader() as tx:
        assert ids(tx.list_events(delivered=True)) == ["evt_1", "evt_3"]
        assert ids(tx.list_events(delivered=False)) == ["evt_2", "evt_4"]
        assert ids(tx.list_events(limit=3)) == ["evt_1", "evt_2", "evt_3"]
        assert ids(tx.list_events(delivered=True, limit=1)) == ["evt_1"]


def test_marking_twice_is_harmless_and_unknown_events_are_refused(store: Store) -> None:
    """A second mark returns True and changes nothing; an unknown id is a StorageError."""
    add(store, an_event("evt_1"), an_event("evt_2"))
    assert take(store, "worker-a")
    assert mark(store, "evt_1", "worker-a")
    assert mark(store, "evt_1", "worker-a", at=T0 + timedelta(seconds=30))
    assert ids(look(store, lambda view: view.list_events(delivered=True))) == ["evt_1"]
    with pytest.raises(StorageError), store.transaction() as tx:
        tx.mark_event_delivered("evt_nope", holder="worker-a", at=T0)


def test_a_mark_rolls_back_with_its_transaction(store: Store) -> None:
    """A delivery recorded in a block that raises is not recorded."""
    add(store, an_event("evt_1"))
    assert take(store, "worker-a")
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(
            store, lambda tx: tx.mark_event_delivered("evt_1", holder="worker-a", at=T0)
        )
    assert ids(read(store, lambda tx: tx.pending_events(limit=10))) == ["evt_1"]


# --- the dispatch lease ---------------------------------------------------------------


def test_the_lease_is_exclusive_between_holders(store: Store) -> None:
    """While one holder's lease runs, another cannot take it."""
    assert take(store, "worker-a")
    assert not take(store, "worker-b")
    assert not take(store, "worker-b", now=UNTIL - timedelta(microseconds=1))


def test_the_lease_is_reentrant_and_extended_for_its_holder(store: Store) -> None:
    """The holder takes it again, which moves its end; others wait for the new end."""
    assert take(store, "worker-a")
    assert take(store, "worker-a", now=T0 + timedelta(seconds=30), until=LATER)
    assert not take(store, "worker-b", now=UNTIL + timedelta(seconds=1), until=LATER)
    assert take(store, "worker-b", now=LATER, until=LATER + timedelta(minutes=1))


def test_an_expired_lease_is_free(store: Store) -> None:
    """A lease whose end is at or before ``now`` goes to whoever asks."""
    assert take(store, "worker-a")
    assert take(store, "worker-b", now=UNTIL, until=LATER)
    assert not take(store, "worker-a", now=UNTIL, until=LATER)


def test_a_released_lease_is_free_and_only_its_holder_releases_it(store: Store) -> None:
    """Release by another holder does nothing; release by the holder frees it at once."""
    assert take(store, "worker-a")
    with store.transaction() as tx:
        tx.release_dispatch_lease(holder="worker-b")
    assert not take(store, "worker-b")
    with store.transaction() as tx:
        tx.release_dispatch_lease(holder="worker-a")
    assert take(store, "worker-b")
    with store.transaction() as tx:
        tx.release_dispatch_lease(holder="worker-b")
        tx.release_dispatch_lease(holder="worker-b")  # releasing a free lease is harmless


def test_a_lease_taken_in_a_rolled_back_transaction_is_not_taken(store: Store) -> None:
    """Taking the lease commits or rolls back with its transaction."""
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(
            store, lambda tx: tx.acquire_dispatch_lease(holder="worker-a", now=T0, until=UNTIL)
        )
    assert take(store, "worker-b")


def test_a_holder_that_lost_the_lease_cannot_mark_events(store: Store) -> None:
    """Once the lease expired or went to another holder, the old holder's marks are refused."""
    add(store, an_event("evt_1"), an_event("evt_2"))
    assert mark(store, "evt_1", "worker-a") is False  # never had it
    assert take(store, "worker-a")
    assert mark(store, "evt_1", "worker-a", at=UNTIL - timedelta(microseconds=1))
    assert mark(store, "evt_2", "worker-a", at=UNTIL) is False  # expired, even if nobody took it
    assert take(store, "worker-b", now=UNTIL, until=LATER)
    assert mark(store, "evt_2", "worker-a", at=T0) is False  # another holder has it now
    assert mark(store, "evt_1", "worker-a", at=T0) is False  # even for a delivered event
    assert ids(read(store, lambda tx: tx.pending_events(limit=10))) == ["evt_2"]
    assert mark(store, "evt_2", "worker-b", at=UNTIL)
    assert read(store, lambda tx: tx.pending_events(limit=10)) == []


def test_a_known_id_met_by_a_read_of_the_outbox_leaves_the_block_usable(store: Store) -> None:
    """A store that holds events sends them before a read; a known id fails there, at once.

    None of that batch is kept, and the block can go on and commit, as with
    a store that refuses at ``add_events``.
    """
    add(store, an_event("evt_1"))
    refused: list[object] = []
    with store.transaction() as tx:
        try:
            tx.add_events([an_event("evt_2"), an_event("evt_1")])
            tx.pending_events(limit=10)  # a holding store sends its rows here
        except DuplicateError as error:
            refused.append(error.key)
        assert ids(tx.pending_events(limit=10)) == ["evt_1"]
        tx.add_events([an_event("evt_3")])
    assert refused == ["evt_1"]
    assert ids(look(store, lambda view: view.list_events())) == ["evt_1", "evt_3"]
