"""Price lists in every store (memory, SQLite, PostgreSQL).

What the products use case relies on: a product comes back with its price
list, ordered by currency, by id, by the host's key and in listings; a
product registered again replaces its list (prices added, changed and
removed); a list is written in the product's transaction and rolls back
with it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from enrollpay.domain.money import Money
from enrollpay.ports import Store

from .test_store_contract import a_product, look, read, write_then_fail

EUR = Money.of("270.00", "EUR")
GBP = Money.of("240.00", "GBP")
JPY = Money(45_000, "JPY")


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


def test_a_product_comes_back_with_its_price_list(store: Store) -> None:
    """By id, by (type, id), in both listings: the same prices, ordered by currency."""
    listed = a_product(prices=(JPY, GBP, EUR))
    plain = a_product(pid="prod_2", ext="course-2", name="Zebra course")
    with store.transaction() as tx:
        tx.put_product(listed)
        tx.put_product(plain)
    assert read(store, lambda tx: tx.get_product("prod_1")) == listed
    assert read(store, lambda tx: tx.get_product("prod_1")).prices == (EUR, GBP, JPY)
    assert read(store, lambda tx: tx.find_product("course", "course-1")) == listed
    assert read(store, lambda tx: tx.get_product("prod_2")).prices == ()
    assert read(store, lambda tx: tx.list_products()) == [listed, plain]
    assert look(store, lambda view: view.list_products()) == [listed, plain]
    assert look(store, lambda view: view.list_products(active=True)) == [listed, plain]


def test_putting_a_product_again_replaces_its_price_list(store: Store) -> None:
    """A price changed, one removed, one added; then the list emptied."""
    with store.transaction() as tx:
        tx.put_product(a_product(prices=(EUR, GBP)))
    changed = a_product(prices=(Money.of("280.00", "EUR"), JPY))
    with store.transaction() as tx:
        tx.put_product(changed)
    assert read(store, lambda tx: tx.get_product("prod_1")).prices == changed.prices
    with store.transaction() as tx:
        tx.put_product(a_product())
    assert read(store, lambda tx: tx.get_product("prod_1")).prices == ()


def test_a_price_list_rolls_back_with_its_transaction(store: Store) -> None:
    """A failed write leaves the list as it was committed."""
    with store.transaction() as tx:
        tx.put_product(a_product(prices=(EUR,)))
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, lambda tx: tx.put_product(a_product(prices=(GBP, JPY))))
    assert read(store, lambda tx: tx.get_product("prod_1")).prices == (EUR,)
