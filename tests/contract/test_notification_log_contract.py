"""The log of sent notifications, in every store (memory, SQLite, PostgreSQL).

What the notifications handler relies on to send an event's notification
once: a record is found by (event id, kind), a second record of the same
pair keeps the first, records roll back with their transaction, and pruning
forgets exactly the records at or before the cut.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from enrollpay.ports import Store, StoreTransaction

from .test_store_contract import T0, look, read, write_then_fail

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


def test_a_record_is_found_by_event_and_kind_with_its_instant(store: Store) -> None:
    """Recorded once: found for that pair only, at the same instant, time-zone aware."""
    with store.transaction() as tx:
        assert tx.notification_sent_at("evt_1", "payment_failed") is None
        assert tx.record_notification("evt_1", "payment_failed", sent_at=T0.astimezone(TOKYO))
    found = read(store, lambda tx: tx.notification_sent_at("evt_1", "payment_failed"))
    assert found == T0
    assert found is not None
    assert found.utcoffset() is not None
    assert read(store, lambda tx: tx.notification_sent_at("evt_1", "access_suspended")) is None
    assert read(store, lambda tx: tx.notification_sent_at("evt_2", "payment_failed")) is None
    assert look(store, lambda view: view.notification_sent_at("evt_1", "payment_failed")) == T0


def test_a_second_record_of_a_pair_keeps_the_first(store: Store) -> None:
    """Recording again says False and leaves the first instant; another kind is its own."""
    later = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        assert tx.record_notification("evt_1", "payment_failed", sent_at=T0)
    with store.transaction() as tx:
        assert not tx.record_notification("evt_1", "payment_failed", sent_at=later)
        assert tx.record_notification("evt_1", "access_suspended", sent_at=later)
    assert read(store, lambda tx: tx.notification_sent_at("evt_1", "payment_failed")) == T0
    assert read(store, lambda tx: tx.notification_sent_at("evt_1", "access_suspended")) == later


def test_a_record_rolls_back_with_its_transaction(store: Store) -> None:
    """A unit of work that fails keeps no record."""

    def record(tx: StoreTransaction) -> None:
        tx.record_notification("evt_1", "payment_failed", sent_at=T0)

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, record)
    assert read(store, lambda tx: tx.notification_sent_at("evt_1", "payment_failed")) is None


def test_pruning_forgets_the_records_at_or_before_the_cut(store: Store) -> None:
    """Records at or before ``before`` go, later ones stay; pruning again forgets nothing."""
    with store.transaction() as tx:
        for n in range(4):
            tx.record_notification(f"evt_{n}", "refund_issued", sent_at=T0 + timedelta(days=n))
    with store.transaction() as tx:
        assert tx.prune_notifications(before=T0 + timedelta(days=1)) == 2
    with store.transaction() as tx:
        assert tx.prune_notifications(before=T0 + timedelta(days=1)) == 0
        kept = [tx.notification_sent_at(f"evt_{n}", "refund_issued") for n in range(4)]
    assert kept == [None, None, T0 + timedelta(days=2), T0 + timedelta(days=3)]
    with store.transaction() as tx:
        assert tx.record_notification("evt_0", "refund_issued", sent_at=T0 + timedelta(days=9))


def test_the_log_is_not_part_of_what_readers_list(store: Store) -> None:
    """Recording a notification writes no event and no audit entry."""
    with store.transaction() as tx:
        tx.record_notification("evt_1", "payment_failed", sent_at=T0)
    assert look(store, lambda view: (view.list_events(), view.list_audit())) == ([], [])
