"""Payers and the items they owe, in every store (memory, SQLite, PostgreSQL).

What the payer use cases rely on: a payer comes back equal to what was
stored, ids are unique, an update replaces the row (and refuses a payer
that does not exist), an item keeps the payer who owes it, a payer's items
are listed in due order through both ports, and everything rolls back with
its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from enrollpay.domain.payers import Payer
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.ports import Store

from .test_store_contract import (
    T0,
    TODAY,
    a_product,
    an_enrollment,
    an_item,
    look,
    read,
    write_then_fail,
)

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


def a_payer(pid: str = "pay_1", **changes: object) -> Payer:
    """An employer with a gateway customer and a saved method, unless told otherwise."""
    fields: dict[str, object] = {
        "id": pid,
        "kind": "employer",
        "name": "Acme Training Budget",
        "email": "ap@acme.test",
        "gateway_customer_id": "cus_acme",
        "payment_method_id": "pm_acme",
        "created_at": T0.astimezone(TOKYO),
    }
    fields.update(changes)
    return Payer(**fields)  # type: ignore[arg-type]


def test_a_payer_comes_back_as_stored_and_ids_are_unique(store: Store) -> None:
    """Every field round-trips (created_at as the same instant); a second id is refused."""
    bare = a_payer("pay_0", kind="parent", gateway_customer_id=None, payment_method_id=None)
    with store.transaction() as tx:
        tx.add_payer(a_payer())
        tx.add_payer(bare)
    assert read(store, lambda tx: tx.get_payer("pay_1")) == a_payer()
    assert look(store, lambda view: view.get_payer("pay_0")) == bare
    assert read(store, lambda tx: tx.get_payer("nobody")) is None
    assert [p.id for p in look(store, lambda view: view.list_payers())] == ["pay_0", "pay_1"]
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.add_payer(a_payer(name="Someone else"))
    assert read(store, lambda tx: tx.get_payer("pay_1")) == a_payer()


def test_an_update_replaces_the_payer_and_a_missing_one_is_refused(store: Store) -> None:
    """The saved method changes; updating an unknown payer raises StorageError, writing nothing."""
    with store.transaction() as tx:
        tx.add_payer(a_payer())
    changed = a_payer(payment_method_id="pm_new", email="billing@acme.test")
    with store.transaction() as tx:
        tx.update_payer(changed)
    assert read(store, lambda tx: tx.get_payer("pay_1")) == changed
    with pytest.raises(StorageError), store.transaction() as tx:
        tx.update_payer(a_payer("pay_9"))
    assert read(store, lambda tx: tx.list_payers()) == [changed]


def test_items_keep_their_payer_and_a_payers_items_come_in_due_order(store: Store) -> None:
    """Items owed by a payer are theirs only; the student's (None) are nobody's payer items."""
    later = TODAY + timedelta(days=30)
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_payer(a_payer())
        tx.add_payer(a_payer("pay_2", kind="sponsor"))
        tx.add_enrollment(an_enrollment())
        tx.add_items(
            [
                an_item("itm_b", seq=1, payer_id="pay_1", due=later),
                an_item("itm_a", seq=2, payer_id="pay_1"),
                an_item("itm_c", seq=3, payer_id="pay_2"),
                an_item("itm_d", seq=4),
            ]
        )
    mine = look(store, lambda view: view.items_of_payer("pay_1"))
    assert [i.id for i in mine] == ["itm_a", "itm_b"]
    assert all(i.payer_id == "pay_1" for i in mine)
    assert [i.id for i in read(store, lambda tx: tx.items_of_payer("pay_2"))] == ["itm_c"]
    assert read(store, lambda tx: tx.get_item("itm_d")).payer_id is None
    assert read(store, lambda tx: tx.items_of_payer("nobody")) == []
    # An update of the item keeps its payer.
    with store.transaction() as tx:
        locked = tx.lock_enrollment("enr_1")
        assert locked is not None
        item = locked.item("itm_c")
        tx.update_item(attrs.evolve(item, failures=1))
    assert read(store, lambda tx: tx.get_item("itm_c")).payer_id == "pay_2"


def test_payers_roll_back_with_their_transaction(store: Store) -> None:
    """A failed unit of work leaves no payer and no change to one."""
    with store.transaction() as tx:
        tx.add_payer(a_payer())
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.add_payer(a_payer("pay_2")))
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.update_payer(a_payer(name="Changed")))
    assert read(store, lambda tx: tx.list_payers()) == [a_payer()]
