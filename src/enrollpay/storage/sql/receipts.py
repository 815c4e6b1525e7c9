"""Receipts in a SQL transaction: numbering, and the receipts themselves.

A number is taken with one ``INSERT ... ON CONFLICT DO UPDATE SET last =
last + 1 RETURNING last`` on the series' counter row (the first number of a
series inserts the row). The statement leaves that row locked until the
transaction ends, so a second unit of work numbering the same series waits
for the first to commit (and then gets the next number) or roll back (and
then gets the same one): numbers are never given twice and never skipped.

On PostgreSQL the audit chain's lock is taken first. Every unit of work
that issues a receipt also appends to the audit chain; taking the two
locks always in that order (chain, then counter) keeps two of them from
each waiting for the lock the other holds. SQLite has one writer at a time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.domain.money import Money
from enrollpay.domain.receipts import Receipt, ReceiptKind, ReceiptLine
from enrollpay.errors import DuplicateError
from enrollpay.storage.sql.mapping.values import Row
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema_receipts import receipt_counters, receipts
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["ReceiptRepository", "receipt_from_row", "receipt_to_row"]


def _line_to_json(line: ReceiptLine) -> dict[str, Any]:
    data = {
        "item_kind": line.item_kind,
        "minor": line.amount.minor,
        "currency": line.amount.currency,
        "item_seq": line.item_seq,
        "due": None if line.due is None else line.due.isoformat(),
    }
    if line.tax is not None:  # untaxed lines are stored as before taxes existed
        data |= {
            "tax_minor": line.tax.minor,
            "tax_rate_ppm": line.tax_rate_ppm,
            "tax_jurisdiction": line.tax_jurisdiction,
        }
    return data


def _line_from_json(data: dict[str, Any]) -> ReceiptLine:
    due = data.get("due")
    return ReceiptLine(
        item_kind=str(data["item_kind"]),
        amount=Money(int(data["minor"]), str(data["currency"])),
        item_seq=data.get("item_seq"),
        due=None if due is None else date.fromisoformat(due),
        tax=None if data.get("tax_minor") is None else Money(data["tax_minor"], data["currency"]),
        tax_rate_ppm=data.get("tax_rate_ppm"),
        tax_jurisdiction=data.get("tax_jurisdiction"),
    )


def receipt_to_row(r: Receipt) -> dict[str, Any]:
    """Column values of a receipt or credit note."""
    return {
        "id": r.id,
        "issuer": r.issuer,
        "kind": r.kind,
        "sequence": r.sequence,
        "number": r.number,
        "enrollment_id": r.enrollment_id,
        "user_id": r.user_id,
        "product_id": r.product_id,
        "product_name": r.product_name,
        "payment_id": r.payment_id,
        "refund_id": r.refund_id,
        "method": r.method,
        "lines": [_line_to_json(line) for line in r.lines],
        "total_minor": r.total.minor,
        "currency": r.total.currency,
        "paid_at": r.paid_at,
        "issued_at": r.issued_at,
        "reference": r.reference,
        "original_receipt_id": r.original_receipt_id,
        "original_number": r.original_number,
        "payer_id": r.payer_id,
        "payer_name": r.payer_name,
    }


def receipt_from_row(row: Row) -> Receipt:
    """The receipt a row holds."""
    return Receipt(
        id=row["id"],
        issuer=row["issuer"],
        kind=row["kind"],
        sequence=int(row["sequence"]),
        number=row["number"],
        enrollment_id=row["enrollment_id"],
        user_id=row["user_id"],
        product_id=row["product_id"],
        product_name=row["product_name"],
        payment_id=row["payment_id"],
        method=row["method"],
        lines=tuple(_line_from_json(line) for line in row["lines"]),
        total=Money(int(row["total_minor"]), row["currency"]),
        paid_at=row["paid_at"],
        issued_at=row["issued_at"],
        reference=row["reference"],
        refund_id=row["refund_id"],
        original_receipt_id=row["original_receipt_id"],
        original_number=row["original_number"],
        payer_id=row["payer_id"],
        payer_name=row["payer_name"],
    )


def _next_number(*, pg: bool) -> Prepared:
    """Take the next number of a series: its counter row, created at 1 or incremented."""
    insert = (postgresql if pg else sqlite).insert(receipt_counters)
    insert = insert.values(issuer=sa.bindparam("issuer_"), kind=sa.bindparam("kind_"), last=1)
    return Prepared(
        insert.on_conflict_do_update(
            index_elements=[receipt_counters.c.issuer, receipt_counters.c.kind],
            set_={"last": receipt_counters.c.last + 1},
        ).returning(receipt_counters.c.last)
    )


#: By dialect (True: PostgreSQL), rendered once: every payment takes a number.
_NEXT_NUMBER = {pg: _next_number(pg=pg) for pg in (False, True)}


class ReceiptRepository(SqlUnit):
    """Receipts and credit notes, and the counters that number them."""

    def next_receipt_sequence(self, issuer: str, kind: ReceiptKind) -> int:
        """The next number of ``issuer``'s ``kind`` series (1 first), held by this unit of work."""
        if self._pg:
            self._hold_chain()  # the lock order: audit chain, then counter
        row = self._d.run(_NEXT_NUMBER[self._pg], {"issuer_": issuer, "kind_": kind}).first()
        assert row is not None  # noqa: S101 - an upsert with RETURNING always returns its row
        return int(row["last"])

    def add_receipt(self, receipt: Receipt) -> None:
        """Insert; ``DuplicateError`` on a number, payment or refund that has a receipt."""

        def check() -> None:
            if self._g.exists(receipts, receipts.c.id == receipt.id):
                raise DuplicateError("receipt", receipt.id)
            if self._g.exists(
                receipts,
                sa.and_(
                    receipts.c.issuer == receipt.issuer,
                    receipts.c.kind == receipt.kind,
                    receipts.c.sequence == receipt.sequence,
                ),
            ):
                raise DuplicateError("receipt number", receipt.number)
            # The other unique keys, looked up so that a refused foreign key is not named
            # a duplicate (``insert_new`` then raises the database's error).
            if receipt.refund_id is not None:
                if self._g.exists(receipts, receipts.c.refund_id == receipt.refund_id):
                    raise DuplicateError("credit note of refund", receipt.refund_id)
            elif self._g.exists(
                receipts,
                sa.and_(receipts.c.payment_id == receipt.payment_id, receipts.c.kind == "receipt"),
            ):
                raise DuplicateError("receipt of payment", receipt.payment_id)

        self._g.insert_new(receipts, receipt_to_row(receipt), check)

    def get_receipt(self, receipt_id: str) -> Receipt | None:
        """A receipt or credit note by id."""
        row = self._row(sa.select(receipts).where(receipts.c.id == receipt_id))
        return None if row is None else receipt_from_row(row)

    def receipt_for_payment(self, payment_id: str) -> Receipt | None:
        """The receipt of a payment (not its credit notes); None if it has none."""
        row = self._row(
            sa.select(receipts).where(
                receipts.c.payment_id == payment_id, receipts.c.kind == "receipt"
            )
        )
        return None if row is None else receipt_from_row(row)

    def receipts_of(self, enrollment_id: str) -> list[Receipt]:
        """Every receipt and credit note of an enrollment, in the order they were issued.

        (By issue time; at one instant receipts come before credit notes.)
        """
        stmt = (
            sa.select(receipts)
            .where(receipts.c.enrollment_id == enrollment_id)
            .order_by(receipts.c.issued_at, receipts.c.kind.desc(), receipts.c.sequence)
        )
        return [receipt_from_row(r) for r in self._rows(stmt)]
