"""Receipts in an in-memory transaction: the numbered series and the receipts.

The same contract as the SQL store's (:mod:`enrollpay.storage.sql.receipts`).
Transactions are serialised by the store's lock and work on a copy of the
tables, so a series is held by one unit of work at a time and a rollback
takes its numbers back with it.
"""

from __future__ import annotations

from enrollpay.domain.receipts import Receipt, ReceiptKind
from enrollpay.errors import DuplicateError
from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryReceipts"]


class MemoryReceipts:
    """Receipts and credit notes, and the counters that number them."""

    _t: MemoryTables

    def next_receipt_sequence(self, issuer: str, kind: ReceiptKind) -> int:
        """The next number of ``issuer``'s ``kind`` series (1 first), held by this unit of work."""
        key = (issuer, kind)
        taken = self._t.receipt_counters.get(key, 0) + 1
        self._t.receipt_counters[key] = taken
        return taken

    def add_receipt(self, receipt: Receipt) -> None:
        """Insert; ``DuplicateError`` on a number, payment or refund that has a receipt."""
        for other in self._t.issued_receipts.values():
            if other.id == receipt.id:
                raise DuplicateError("receipt", receipt.id)
            if (other.issuer, other.kind, other.sequence) == (
                receipt.issuer,
                receipt.kind,
                receipt.sequence,
            ):
                raise DuplicateError("receipt number", receipt.number)
            if receipt.kind == "receipt" and (other.kind, other.payment_id) == (
                "receipt",
                receipt.payment_id,
            ):
                raise DuplicateError("receipt of payment", receipt.payment_id)
            if receipt.refund_id is not None and other.refund_id == receipt.refund_id:
                raise DuplicateError("credit note of refund", receipt.refund_id)
        self._t.issued_receipts[receipt.id] = receipt

    def get_receipt(self, receipt_id: str) -> Receipt | None:
        """A receipt or credit note by id."""
        return self._t.issued_receipts.get(receipt_id)

    def receipt_for_payment(self, payment_id: str) -> Receipt | None:
        """The receipt of a payment (not its credit notes); None if it has none."""
        for receipt in self._t.issued_receipts.values():
            if receipt.kind == "receipt" and receipt.payment_id == payment_id:
                return receipt
        return None

    def receipts_of(self, enrollment_id: str) -> list[Receipt]:
        """Every receipt and credit note of an enrollment, in the order they were issued.

        (By issue time; at one instant receipts come before credit notes.)
        """
        found = [r for r in self._t.issued_receipts.values() if r.enrollment_id == enrollment_id]
        return sorted(found, key=lambda r: (r.issued_at, r.kind != "receipt", r.sequence))
