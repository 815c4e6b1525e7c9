"""Taxes in every store (memory, SQLite, PostgreSQL): an item's tax and a receipt's tax lines.

What the tax use cases rely on: an item keeps the tax line it was written
with through every way it is read back (the lock, a single look-up, the
read port's listings) and through updates of its other fields; an untaxed
item stays untaxed; a receipt's taxed line comes back whole; all of it
rolls back with its transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.taxes import TaxLine
from enrollpay.ports import ItemQuery, Store

from .test_receipt_contract import a_receipt
from .test_store_contract import (
    T0,
    a_payment,
    a_product,
    an_enrollment,
    an_item,
    look,
    read,
    usd,
    write_then_fail,
)

INCLUSIVE = TaxLine(usd("84.03"), usd("15.97"), 190_000, "DE", "inclusive")
EXCLUSIVE = TaxLine(usd("93.24"), usd("6.76"), 72_500, "US-CA", "exclusive")


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


@pytest.fixture
def taxed(store: Store) -> Store:
    """``enr_1`` with a taxed item (inclusive), a taxed item (exclusive) and an untaxed one."""
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items(
            [
                an_item("itm_1", seq=1, tax=INCLUSIVE),
                an_item("itm_2", seq=2, tax=EXCLUSIVE),
                an_item("itm_3", seq=3),
            ]
        )
    return store


def test_an_items_tax_comes_back_every_way_it_is_read(taxed: Store) -> None:
    """Lock, look-up, items_of and the read port all give the tax line as written."""
    expected = [INCLUSIVE, EXCLUSIVE, None]
    with taxed.transaction() as tx:
        locked = tx.lock_enrollment("enr_1")
        assert locked is not None
        assert [i.tax for i in locked.items] == expected
    with taxed.transaction() as tx:
        assert [getattr(tx.get_item(f"itm_{n}"), "tax", "missing") for n in (1, 2, 3)] == expected
    assert [i.tax for i in read(taxed, lambda tx: tx.items_of("enr_1"))] == expected
    listed = look(taxed, lambda view: view.list_items(ItemQuery(enrollment_id="enr_1")))
    assert [i.tax for i in listed] == expected


def test_an_update_keeps_the_tax_and_a_rollback_keeps_it_from_changing(taxed: Store) -> None:
    """Paying an item keeps its tax; a tax set in a failed transaction is not kept."""
    with taxed.transaction() as tx:
        item = tx.get_item("itm_1")
        assert item is not None
        tx.update_item(
            attrs.evolve(item, amount_paid=item.amount, status=ItemStatus.PAID, paid_at=T0)
        )
    paid = read(taxed, lambda tx: tx.get_item("itm_1"))
    assert (paid.status, paid.tax) == (ItemStatus.PAID, INCLUSIVE)

    def tax_the_third(tx: object) -> None:
        item = tx.get_item("itm_3")  # type: ignore[attr-defined]
        tx.update_item(attrs.evolve(item, tax=EXCLUSIVE))  # type: ignore[attr-defined]

    with pytest.raises(RuntimeError):
        write_then_fail(taxed, tax_the_third)
    assert read(taxed, lambda tx: tx.get_item("itm_3")).tax is None
    with taxed.transaction() as tx:
        tax_the_third(tx)
    assert read(taxed, lambda tx: tx.get_item("itm_3")).tax == EXCLUSIVE


def test_a_taxed_receipt_line_comes_back_whole(taxed: Store) -> None:
    """Net, tax, rate and jurisdiction of a receipt line round-trip; untaxed lines stay untaxed."""
    receipt = a_receipt()
    [line] = receipt.lines
    taxed_line = attrs.evolve(line, tax=usd("15.97"), tax_rate_ppm=190_000, tax_jurisdiction="DE")
    with taxed.transaction() as tx:
        tx.add_payment(a_payment("pay_1"))
        tx.add_receipt(attrs.evolve(receipt, lines=(taxed_line,)))
    stored = read(taxed, lambda tx: tx.receipt_for_payment("pay_1"))
    assert stored.lines == (taxed_line,)
    assert stored.lines[0].net == usd("84.03")
    assert line.tax is None
    assert line.net == line.amount
