"""The disputes part of the store contract: every store keeps disputes the same way.

Runs against the in-memory store, the SQL store on an SQLite file and on
PostgreSQL, as the rest of the store contract (``store_factory`` in
tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest

from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import DuplicateError, PaymentNotFoundError, StorageError
from enrollpay.ports import Store

from .test_store_contract import (
    PARIS,
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

DSP = DisputeStatus


def a_dispute(did: str = "dsp_1", gid: str = "du_1", **changes: Any) -> Dispute:
    """A chargeback of ``pay_1`` with every field set (instants in two zones)."""
    dispute = Dispute(
        id=did,
        payment_id="pay_1",
        enrollment_id="enr_1",
        gateway_dispute_id=gid,
        amount=usd("100.00"),
        status=DSP.FUNDS_WITHDRAWN,
        gateway_status="needs_response",
        opened_at=T0,
        updated_at=T0.astimezone(PARIS),
        reported_at=T0 - timedelta(seconds=5),
        reason="fraudulent",
        evidence_due_by=T0 + timedelta(days=7),
        closed_at=None,
    )
    return attrs.evolve(dispute, **changes)


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A store holding ``enr_1`` with ``itm_1`` and a payment ``pay_1`` of it."""
    made = store_factory()
    with made.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items([an_item("itm_1")])
        tx.add_payment(a_payment("pay_1", method="gateway", gateway_payment_id="pi_1"))
        tx.add_payment(a_payment("pay_2"))
    return made


def test_a_dispute_round_trips_with_every_field(store: Store) -> None:
    """Added, found by the gateway's id, listed by enrollment, equal (instants as instants)."""
    dispute = a_dispute()
    with store.transaction() as tx:
        tx.add_dispute(dispute)
        assert tx.find_dispute_by_gateway_id("du_1") == dispute  # its own write, before commit
    assert read(store, lambda tx: tx.find_dispute_by_gateway_id("du_1")) == dispute
    assert read(store, lambda tx: tx.find_dispute_by_gateway_id("du_2")) is None
    assert read(store, lambda tx: tx.disputes_of("enr_1")) == [dispute]
    assert look(store, lambda view: view.disputes_of("enr_1")) == [dispute]
    assert look(store, lambda view: view.disputes_of("enr_2")) == []


def test_a_dispute_without_the_optional_fields_round_trips(store: Store) -> None:
    """No reason, no due date, closed: comes back the same."""
    dispute = a_dispute(status=DSP.LOST, reason=None, evidence_due_by=None, closed_at=T0)
    with store.transaction() as tx:
        tx.add_dispute(dispute)
    assert read(store, lambda tx: tx.disputes_of("enr_1")) == [dispute]


def test_an_update_replaces_the_dispute(store: Store) -> None:
    """The stage, gateway status and dates change; the update is read back."""
    with store.transaction() as tx:
        tx.add_dispute(a_dispute())
    won = a_dispute(status=DSP.WON, gateway_status="won", closed_at=T0 + timedelta(days=20),
                    updated_at=T0 + timedelta(days=20))  # fmt: skip
    with store.transaction() as tx:
        tx.update_dispute(won)
    assert read(store, lambda tx: tx.find_dispute_by_gateway_id("du_1")) == won


def test_disputes_are_listed_oldest_first_and_by_status(store: Store) -> None:
    """disputes_of and list_disputes order by opened_at, then id; statuses filter."""
    later = a_dispute("dsp_0", "du_0", opened_at=T0 + timedelta(hours=1), status=DSP.WON)
    tie = a_dispute("dsp_2", "du_2", payment_id="pay_2", status=DSP.INQUIRY)
    with store.transaction() as tx:
        tx.add_dispute(later)
        tx.add_dispute(tie)
        tx.add_dispute(a_dispute())
    assert [d.id for d in read(store, lambda tx: tx.disputes_of("enr_1"))] == [
        "dsp_1", "dsp_2", "dsp_0"]  # fmt: skip
    with store.reader() as view:
        assert [d.id for d in view.list_disputes()] == ["dsp_1", "dsp_2", "dsp_0"]
        both = frozenset({DSP.WON, DSP.INQUIRY})
        assert [d.id for d in view.list_disputes(statuses=both)] == ["dsp_2", "dsp_0"]
        assert view.list_disputes(statuses=frozenset({DSP.LOST})) == []
        assert view.list_disputes(statuses=frozenset()) == []


def test_each_gateway_dispute_is_kept_once(store: Store) -> None:
    """A known id or gateway dispute id is a DuplicateError naming it; nothing is written."""
    with store.transaction() as tx:
        tx.add_dispute(a_dispute())
        tx.add_dispute(a_dispute("dsp_2", "du_2"))
    cases = {
        ("dispute id", "dsp_1"): a_dispute("dsp_1", "du_3"),
        ("gateway dispute id", "du_1"): a_dispute("dsp_3", "du_1"),
    }
    for (what, key), dispute in cases.items():
        with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
            tx.add_dispute(dispute)
        assert (raised.value.what, raised.value.key) == (what, key)
    with pytest.raises(DuplicateError) as on_update, store.transaction() as tx:
        tx.update_dispute(a_dispute("dsp_2", "du_1"))
    assert (on_update.value.what, on_update.value.key) == ("gateway dispute id", "du_1")
    assert [d.id for d in read(store, lambda tx: tx.disputes_of("enr_1"))] == ["dsp_1", "dsp_2"]


def test_a_dispute_needs_a_recorded_payment(store: Store) -> None:
    """A dispute of an unknown payment is PaymentNotFoundError; updating a missing one fails."""
    with pytest.raises(PaymentNotFoundError) as missing, store.transaction() as tx:
        tx.add_dispute(a_dispute(payment_id="pay_x"))
    assert missing.value.ident == "pay_x"
    with pytest.raises(StorageError, match="dispute 'dsp_9'"), store.transaction() as tx:
        tx.update_dispute(a_dispute("dsp_9", "du_9"))
    assert read(store, lambda tx: tx.disputes_of("enr_1")) == []


def test_a_dispute_written_in_a_failed_block_is_not_kept(store: Store) -> None:
    """Rolled back with the rest of the unit of work."""
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.add_dispute(a_dispute()))
    assert read(store, lambda tx: tx.find_dispute_by_gateway_id("du_1")) is None


def test_the_dispute_hold_of_an_enrollment_round_trips(store: Store) -> None:
    """dispute_hold is stored, read, locked and listed as written."""
    held = an_enrollment(dispute_hold=True, updated_at=T0 + timedelta(minutes=1))
    with store.transaction() as tx:
        tx.update_enrollment(held)
        locked = tx.lock_enrollment("enr_1")
        assert locked is not None
        assert locked.enrollment == held
    assert read(store, lambda tx: tx.get_enrollment("enr_1")) == held
    assert look(store, lambda view: view.list_enrollments()) == [held]
    assert not an_enrollment().dispute_hold
