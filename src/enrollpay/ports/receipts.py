"""What receipts need of a store: their numbers, and the receipts themselves.

A receipt's number is taken from a per-issuer, per-series counter in the
same unit of work that records its payment (or its refund, for a credit
note) and stores the receipt, so the counter moves exactly when a receipt
is kept: a unit of work that rolls back takes its number back, and no
number is ever given twice or skipped.
"""

from __future__ import annotations

from typing import Protocol

from enrollpay.domain.receipts import Receipt, ReceiptKind

__all__ = ["ReceiptLookups", "ReceiptWrites"]


class ReceiptLookups(Protocol):
    """Receipts by id, by payment and by enrollment (on both ports)."""

    def get_receipt(self, receipt_id: str) -> Receipt | None:
        """A receipt or credit note by id."""
        ...

    def receipt_for_payment(self, payment_id: str) -> Receipt | None:
        """The receipt of a payment (not its credit notes); None if it has none."""
        ...

    def receipts_of(self, enrollment_id: str) -> list[Receipt]:
        """Every receipt and credit note of an enrollment, in the order they were issued.

        (By issue time; at one instant receipts come before credit notes.)
        """
        ...


class ReceiptWrites(ReceiptLookups, Protocol):
    """The write-port verbs of receipts."""

    def next_receipt_sequence(self, issuer: str, kind: ReceiptKind) -> int:
        """The next number of ``issuer``'s ``kind`` series (1 first), taken for this unit of work.

        The series is held until this unit of work ends: another one asking
        for the same series waits, and gets the number after this one's if
        this one commits, or this same number if it rolls back. Ask for it
        after locking the enrollment the receipt is for.
        """
        ...

    def add_receipt(self, receipt: Receipt) -> None:
        """Insert; ``DuplicateError`` on a number, payment or refund that has a receipt.

        A payment has one receipt, a refund one credit note.
        """
        ...
