"""The store contract of receipts: gap-free series per issuer and kind, and the receipts.

Run against the in-memory store, SQLite and PostgreSQL (``store_factory``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from enrollpay.domain.receipts import Receipt, ReceiptLine
from enrollpay.errors import DuplicateError
from enrollpay.ports import Store

from .test_store_contract import T0, TODAY, a_refund, look, read, usd, write_then_fail
from .test_store_contract import paid as paid  # noqa: PLC0414 - re-exported fixture
from .test_store_contract import seeded as seeded  # noqa: PLC0414 - re-exported fixture
from .test_store_contract import store as store  # noqa: PLC0414 - re-exported fixture


def a_receipt(rid: str = "rcp_1", sequence: int = 1, **changes: Any) -> Receipt:
    """The receipt of ``pay_1`` (100 USD for ``itm_1``), every field set."""
    receipt = Receipt(
        id=rid,
        issuer="default",
        kind="receipt",
        sequence=sequence,
        number=f"R-{sequence:06d}",
        enrollment_id="enr_1",
        user_id="u-1",
        product_id="prod_1",
        product_name="Kurs für Übersetzer (日本語)",
        payment_id="pay_1",
        method="bank_transfer",
        lines=(ReceiptLine("installment", usd("100.00"), item_seq=1, due=TODAY),),
        total=usd("100.00"),
        paid_at=T0,
        issued_at=T0 + timedelta(seconds=1),
        reference="TXN-1",
    )
    return attrs.evolve(receipt, **changes)


def a_credit_note(rid: str = "rcp_cn", sequence: int = 1, **changes: Any) -> Receipt:
    """The credit note of refund ``ref_1`` (10 USD of ``pay_1``), naming ``rcp_1``."""
    fields: dict[str, Any] = {
        "kind": "credit_note",
        "number": f"CN-{sequence:06d}",
        "method": "manual",
        "lines": (ReceiptLine("refund", usd("10.00")),),
        "total": usd("10.00"),
        "refund_id": "ref_1",
        "original_receipt_id": "rcp_1",
        "original_number": "R-000001",
        "reference": None,
        "issued_at": T0 + timedelta(minutes=5),
    }
    return a_receipt(rid, sequence, **{**fields, **changes})


def test_each_issuer_and_kind_counts_from_one_without_gaps(store: Store) -> None:
    """1, 2, 3 in one series; another kind or issuer starts at 1; numbers survive commits."""
    with store.transaction() as tx:
        assert [tx.next_receipt_sequence("default", "receipt") for _ in range(3)] == [1, 2, 3]
        assert tx.next_receipt_sequence("default", "credit_note") == 1
        assert tx.next_receipt_sequence("north", "receipt") == 1
    assert read(store, lambda tx: tx.next_receipt_sequence("default", "receipt")) == 4
    assert read(store, lambda tx: tx.next_receipt_sequence("north", "receipt")) == 2
    assert read(store, lambda tx: tx.next_receipt_sequence("default", "credit_note")) == 2


def test_a_number_taken_in_a_failed_transaction_is_given_again(store: Store) -> None:
    """The counter is part of the unit of work: a rollback gives the number back."""
    assert read(store, lambda tx: tx.next_receipt_sequence("default", "receipt")) == 1
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.next_receipt_sequence("default", "receipt"))
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.next_receipt_sequence("default", "receipt"))
    assert read(store, lambda tx: tx.next_receipt_sequence("default", "receipt")) == 2


def test_receipts_round_trip_and_are_found_by_payment_and_enrollment(paid: Store) -> None:
    """Every field comes back; the payment's receipt is not its credit note; issue order."""
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "10.00"))
        tx.add_receipt(a_receipt())
        tx.add_receipt(a_credit_note())
    assert look(paid, lambda view: view.get_receipt("rcp_1")) == a_receipt()
    assert look(paid, lambda view: view.get_receipt("rcp_cn")) == a_credit_note()
    assert look(paid, lambda view: view.get_receipt("rcp_nope")) is None
    assert look(paid, lambda view: view.receipt_for_payment("pay_1")) == a_receipt()
    assert look(paid, lambda view: view.receipt_for_payment("pay_2")) is None
    assert read(paid, lambda tx: [r.id for r in tx.receipts_of("enr_1")]) == ["rcp_1", "rcp_cn"]
    assert look(paid, lambda view: view.receipts_of("enr_2")) == []


def test_receipts_issued_at_one_instant_list_receipts_first(paid: Store) -> None:
    """Ties on the issue time: receipts before credit notes, each by number."""
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "10.00"))
        tx.add_receipt(a_credit_note(issued_at=T0))
        tx.add_receipt(a_receipt(issued_at=T0))
    assert look(paid, lambda view: [r.id for r in view.receipts_of("enr_1")]) == [
        "rcp_1",
        "rcp_cn",
    ]


def test_a_number_a_payment_or_a_refund_is_receipted_once(paid: Store) -> None:
    """DuplicateError for a second receipt of a payment, a taken number, a second credit note."""
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "10.00"))
        tx.add_refund(a_refund("ref_2", "10.00"))
        tx.add_receipt(a_receipt())
        tx.add_receipt(a_credit_note())
    with pytest.raises(DuplicateError, match="receipt of payment"):
        read(paid, lambda tx: tx.add_receipt(a_receipt("rcp_2", sequence=2)))
    with pytest.raises(DuplicateError, match="receipt number"):
        read(paid, lambda tx: tx.add_receipt(a_credit_note("rcp_cn2", refund_id="ref_2")))
    with pytest.raises(DuplicateError, match="credit note of refund"):
        read(paid, lambda tx: tx.add_receipt(a_credit_note("rcp_cn3", sequence=2)))
    # The same number in another issuer's series is a different number.
    with paid.transaction() as tx:
        tx.add_receipt(a_credit_note("rcp_n1", refund_id="ref_2", issuer="north"))
    assert look(paid, lambda view: [r.id for r in view.receipts_of("enr_1")]) == [
        "rcp_1",
        "rcp_cn",
        "rcp_n1",
    ]


def test_a_receipt_written_in_a_failed_transaction_is_not_kept(paid: Store) -> None:
    """Receipts roll back with their unit of work."""
    with pytest.raises(RuntimeError):
        write_then_fail(paid, lambda tx: tx.add_receipt(a_receipt()))
    assert look(paid, lambda view: view.get_receipt("rcp_1")) is None
