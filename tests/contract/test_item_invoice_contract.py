"""Store contract of per-item invoices, on the in-memory store, SQLite and PostgreSQL.

An item and an attempt keep the gateway invoice that collects them and its
page; an attempt's payment id can move from an earlier try to the newest
one (Stripe confirms one PaymentIntent per invoice again on each try),
and is then found on the newest only.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.ports import Store

from .test_store_contract import a_product, an_attempt, an_enrollment, an_item, read

PAGE = "https://invoice.example/i/in_1"


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A store holding ``enr_1`` with one item ``itm_1``."""
    made = store_factory()
    with made.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items([an_item("itm_1")])
    return made


def test_an_item_and_its_attempt_keep_their_invoice_and_page(store: Store) -> None:
    """Written with the invoice id and page, read back equal (both start empty)."""
    fresh = read(store, lambda tx: tx.get_item("itm_1"))
    assert (fresh.gateway_invoice_id, fresh.hosted_invoice_url) == (None, None)
    attempt = an_attempt("att_1", gateway_invoice_id="in_1", hosted_invoice_url=PAGE,
                         gateway_payment_id="pi_1")  # fmt: skip
    with store.transaction() as tx:
        tx.update_item(attrs.evolve(fresh, gateway_invoice_id="in_1", hosted_invoice_url=PAGE))
        tx.add_attempt(attempt)

    item = read(store, lambda tx: tx.get_item("itm_1"))
    assert (item.gateway_invoice_id, item.hosted_invoice_url) == ("in_1", PAGE)
    assert read(store, lambda tx: tx.get_attempt("att_1")) == attempt
    assert read(store, lambda tx: tx.attempts_of("itm_1")) == [attempt]
    assert read(store, lambda tx: tx.find_attempt_by_gateway_id("pi_1")) == attempt


def test_a_payment_id_moves_from_an_earlier_try_to_the_newest_in_one_transaction(
    store: Store,
) -> None:
    """Cleared on try 1 then set on try 2 in one unit of work: found on try 2 only."""
    first = an_attempt("att_1", status=AttemptStatus.FAILED, gateway_payment_id="pi_1",
                       gateway_invoice_id="in_1")  # fmt: skip
    second = an_attempt("att_2", number=2, gateway_invoice_id="in_1")
    with store.transaction() as tx:
        tx.add_attempt(first)
        tx.add_attempt(second)
    with store.transaction() as tx:
        tx.update_attempt(attrs.evolve(first, gateway_payment_id=None))
        tx.update_attempt(attrs.evolve(second, gateway_payment_id="pi_1"))

    found = read(store, lambda tx: tx.find_attempt_by_gateway_id("pi_1"))
    assert found is not None
    assert found.id == "att_2"
    earlier = read(store, lambda tx: tx.get_attempt("att_1"))
    assert (earlier.gateway_payment_id, earlier.gateway_invoice_id) == (None, "in_1")
