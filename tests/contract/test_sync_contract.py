"""The store contract of drift re-sync: cursors and look-ups of many records at once.

Run against the in-memory store, SQLite and PostgreSQL (``store_factory``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay.ports import Store, SyncCursor

from .test_store_contract import (
    T0,
    a_payment,
    a_refund,
    an_attempt,
    look,
    read,
    write_then_fail,
)
from .test_store_contract import paid as paid  # noqa: PLC0414 - re-exported fixture
from .test_store_contract import seeded as seeded  # noqa: PLC0414 - re-exported fixture
from .test_store_contract import store as store  # noqa: PLC0414 - re-exported fixture


def cursor(position_minutes: int, *, kind: str = "payments", gateway: str = "fake") -> SyncCursor:
    """A cursor ``position_minutes`` after T0, moved at T0 + 1 day."""
    return SyncCursor(
        gateway=gateway,
        kind=kind,
        position=T0 + timedelta(minutes=position_minutes),
        updated_at=T0 + timedelta(days=1, minutes=position_minutes),
    )


def test_a_cursor_is_kept_per_gateway_and_kind(store: Store) -> None:
    """None before the first walk; each (gateway, kind) keeps its own position."""
    assert look(store, lambda view: view.sync_cursor("fake", "payments")) is None
    with store.transaction() as tx:
        assert tx.advance_sync_cursor(cursor(5)) == cursor(5)
        tx.advance_sync_cursor(cursor(7, kind="refunds"))
        tx.advance_sync_cursor(cursor(9, gateway="stripe"))
    assert look(store, lambda view: view.sync_cursor("fake", "payments")) == cursor(5)
    assert look(store, lambda view: view.sync_cursor("fake", "refunds")) == cursor(
        7, kind="refunds"
    )
    assert look(store, lambda view: view.sync_cursor("stripe", "payments")) == cursor(
        9, gateway="stripe"
    )
    assert look(store, lambda view: view.sync_cursor("stripe", "refunds")) is None


def test_a_cursor_only_moves_forwards(store: Store) -> None:
    """An older position leaves the stored one (and its time) as it was; a newer one moves it."""
    with store.transaction() as tx:
        tx.advance_sync_cursor(cursor(10))
    with store.transaction() as tx:
        assert tx.advance_sync_cursor(cursor(3)) == cursor(10)
        assert tx.advance_sync_cursor(cursor(10)) == cursor(10)
    assert look(store, lambda view: view.sync_cursor("fake", "payments")) == cursor(10)
    with store.transaction() as tx:
        assert tx.advance_sync_cursor(cursor(11)) == cursor(11)
    assert look(store, lambda view: view.sync_cursor("fake", "payments")) == cursor(11)


def test_a_cursor_moved_in_a_failed_transaction_stays_where_it_was(store: Store) -> None:
    """The cursor is part of the unit of work: a rollback takes it back."""
    with store.transaction() as tx:
        tx.advance_sync_cursor(cursor(1))
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.advance_sync_cursor(cursor(30)))
    assert look(store, lambda view: view.sync_cursor("fake", "payments")) == cursor(1)


def test_attempts_are_found_by_id_or_by_gateway_payment_id_at_once(seeded: Store) -> None:
    """Either key matches; unknown keys match nothing; each attempt comes once."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_1", gateway_payment_id="pi_1"))
        tx.add_attempt(an_attempt("att_2", number=2))
        tx.add_attempt(an_attempt("att_3", iid="itm_2", gateway_payment_id="pi_3"))

    def ids(**keys: list[str]) -> list[str]:
        return sorted(a.id for a in look(seeded, lambda view: view.find_attempts(**keys)))

    assert ids(ids=["att_2", "att_9"], gateway_payment_ids=["pi_3", "pi_9"]) == ["att_2", "att_3"]
    assert ids(ids=["att_1"], gateway_payment_ids=["pi_1"]) == ["att_1"]
    assert ids(gateway_payment_ids=["pi_1", "pi_3"]) == ["att_1", "att_3"]
    assert ids() == []
    found = look(seeded, lambda view: view.find_attempts(ids=["att_1"]))
    assert found == [read(seeded, lambda tx: tx.get_attempt("att_1"))]


def test_many_keys_at_once_are_all_looked_up(seeded: Store) -> None:
    """More keys than one IN list holds: every match still comes back."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_1", gateway_payment_id="pi_1"))
    keys = [f"pi_x{n}" for n in range(1200)] + ["pi_1"]
    assert [
        a.id for a in look(seeded, lambda view: view.find_attempts(gateway_payment_ids=keys))
    ] == ["att_1"]


def test_payments_are_found_by_gateway_payment_id(seeded: Store) -> None:
    """Only payments with one of the gateway ids; manual payments have none."""
    with seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_1"))
        tx.add_payment(a_payment("pay_2", method="gateway", gateway_payment_id="pi_2"))
        tx.add_payment(a_payment("pay_3", method="gateway", gateway_payment_id="pi_3"))
    found = look(seeded, lambda view: view.find_payments(gateway_payment_ids=["pi_2", "pi_9"]))
    assert found == [read(seeded, lambda tx: tx.get_payment("pay_2"))]
    assert look(seeded, lambda view: view.find_payments(gateway_payment_ids=[])) == []


def test_refunds_are_found_by_id_gateway_id_or_payment(paid: Store) -> None:
    """Any of the three keys matches; each refund comes once."""
    with paid.transaction() as tx:
        tx.add_payment(a_payment("pay_2", amount="50.00"))
        tx.add_refund(a_refund("ref_1", "1.00", gateway_refund_id="re_1", method="gateway"))
        tx.add_refund(a_refund("ref_2", "2.00"))
        tx.add_refund(a_refund("ref_3", "3.00", payment_id="pay_2"))

    def ids(**keys: list[str]) -> list[str]:
        return sorted(r.id for r in look(paid, lambda view: view.find_refunds(**keys)))

    assert ids(gateway_refund_ids=["re_1", "re_9"]) == ["ref_1"]
    assert ids(ids=["ref_2"], payment_ids=["pay_2"]) == ["ref_2", "ref_3"]
    assert ids(ids=["ref_1"], gateway_refund_ids=["re_1"], payment_ids=["pay_1"]) == [
        "ref_1",
        "ref_2",
    ]
    assert ids() == []
    (refund,) = look(paid, lambda view: view.find_refunds(ids=["ref_3"]))
    assert refund == read(paid, lambda tx: tx.get_refund("ref_3"))
