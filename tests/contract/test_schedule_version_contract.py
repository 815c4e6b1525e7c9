"""Schedule versions, in every store (memory, SQLite, PostgreSQL).

What the plan change relies on: ``replace_open_items`` stores the superseded
items and the next version's items together; the version round-trips;
collection never claims a superseded item; a refused replacement writes
nothing; everything rolls back with its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest

from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.statuses import ItemStatus
from enrollpay.errors import DuplicateError, InvalidInputError
from enrollpay.ports import Store, StoreTransaction

from .test_store_contract import (
    T0,
    TODAY,
    a_product,
    an_enrollment,
    an_item,
    read,
    write_then_fail,
)


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """``prod_1``, ``enr_1`` with items 1 (paid) and 2, 3 (scheduled, due today and later)."""
    made = store_factory()
    with made.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items(
            [
                an_item("itm_1", seq=1, status=ItemStatus.PAID, amount_paid=an_item("x").amount),
                an_item("itm_2", seq=2),
                an_item("itm_3", seq=3, due=TODAY + timedelta(days=30)),
            ]
        )
    return made


def superseded(iid: str, seq: int) -> ScheduleItem:
    """Item ``iid`` as a plan change leaves it."""
    return an_item(iid, seq=seq, status=ItemStatus.SUPERSEDED)


def replacement(iid: str, seq: int, version: int = 2) -> ScheduleItem:
    """A scheduled item of the next version, 200 USD, due today."""
    item = an_item(iid, seq=seq, schedule_version=version)
    return attrs.evolve(item, amount=item.amount + item.amount)


def replace(tx: StoreTransaction, version: int = 2) -> None:
    """Supersede items 2 and 3 with one item 4 of ``version``."""
    tx.replace_open_items(
        "enr_1",
        [superseded("itm_2", 2), superseded("itm_3", 3)],
        [replacement("itm_4", 4, version)],
    )


def test_items_default_to_version_one_and_the_next_version_round_trips(store: Store) -> None:
    """Old items keep version 1 and their own status; the new one is version 2."""
    assert {i.schedule_version for i in read(store, lambda tx: tx.items_of("enr_1"))} == {1}
    with store.transaction() as tx:
        replace(tx)
    items = read(store, lambda tx: tx.items_of("enr_1"))
    assert [(i.id, i.status, i.schedule_version) for i in items] == [
        ("itm_1", ItemStatus.PAID, 1),
        ("itm_2", ItemStatus.SUPERSEDED, 1),
        ("itm_3", ItemStatus.SUPERSEDED, 1),
        ("itm_4", ItemStatus.SCHEDULED, 2),
    ]
    assert items[3] == replacement("itm_4", 4)
    locked = read(store, lambda tx: tx.lock_enrollment("enr_1"))
    assert [i.schedule_version for i in locked.items] == [1, 1, 1, 2]


def test_collection_never_claims_a_superseded_item(store: Store) -> None:
    """After the replacement only the new item is due; the superseded one never is."""
    with store.transaction() as tx:
        replace(tx)
    later = T0 + timedelta(days=60)
    with store.transaction() as tx:
        claimed = tx.claim_due(today=later.date(), now=later, lease_until=later, limit=10)
    assert [i.id for i in claimed] == ["itm_4"]


@pytest.mark.parametrize(
    ("supersede", "add", "error", "match"),
    [
        ([("itm_2", 2, ItemStatus.SCHEDULED)], [], InvalidInputError, "not superseded"),
        ([("itm_9", 9, ItemStatus.SUPERSEDED)], [], InvalidInputError, "not one of"),
        ([], [("itm_4", 4, 3)], InvalidInputError, "version 2"),
        ([], [("itm_4", 3, 2)], DuplicateError, "schedule item"),
        ([], [("itm_1", 4, 2)], DuplicateError, "schedule item id"),
    ],
)
def test_a_refused_replacement_writes_nothing(
    store: Store,
    supersede: list[tuple[str, int, ItemStatus]],
    add: list[tuple[str, int, int]],
    error: type[Exception],
    match: str,
) -> None:
    """A wrong status, a stranger, a skipped version or a taken seq/id: refused before writing."""
    before = read(store, lambda tx: tx.items_of("enr_1"))
    with store.transaction() as tx:
        with pytest.raises(error, match=match):
            tx.replace_open_items(
                "enr_1",
                [an_item(i, seq=s, status=st) for i, s, st in supersede],
                [replacement(i, s, v) for i, s, v in add],
            )
        assert tx.items_of("enr_1") == before
    assert read(store, lambda tx: tx.items_of("enr_1")) == before


def test_another_enrollments_item_is_refused(store: Store) -> None:
    """Items are replaced within one enrollment only."""
    with store.transaction() as tx, pytest.raises(InvalidInputError, match="not one of"):
        tx.replace_open_items(
            "enr_1",
            [attrs.evolve(superseded("itm_2", 2), enrollment_id="enr_2")],
            [],
        )
    with store.transaction() as tx, pytest.raises(InvalidInputError, match="not one of"):
        tx.replace_open_items(
            "enr_1",
            [],
            [attrs.evolve(replacement("itm_4", 4), enrollment_id="enr_2")],
        )


def test_an_enrollment_without_items_has_nothing_to_replace(store: Store) -> None:
    """No schedule: refused."""
    with store.transaction() as tx, pytest.raises(InvalidInputError, match="no schedule"):
        tx.replace_open_items("enr_nope", [], [])


def test_a_replacement_rolls_back_with_its_transaction(store: Store) -> None:
    """A failure later in the unit of work undoes the replacement."""
    before = read(store, lambda tx: tx.items_of("enr_1"))
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, replace)
    assert read(store, lambda tx: tx.items_of("enr_1")) == before
