"""The receipt methods of :class:`~enrollpay.PaymentSystem`: look them up and write them out.

Receipts are issued by the units of work that record payments and refunds
(:mod:`enrollpay.service.receipts`); these methods only read them, and
render one in the reader's locale as HTML or PDF (:mod:`enrollpay.receipts`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from enrollpay.domain.receipts import Receipt
from enrollpay.errors_receipts import ReceiptNotFoundError
from enrollpay.receipts import ReceiptView, receipt_view, render_html, render_pdf
from enrollpay.service.base import check_text

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = [
    "get_receipt",
    "list_receipts",
    "receipt_for_payment",
    "receipt_html",
    "receipt_pdf",
    "view_receipt",
]


def get_receipt(self: PaymentSystem, receipt_id: str) -> Receipt:
    """A receipt or credit note by id (``ReceiptNotFoundError`` if there is none)."""
    check_text(receipt_id, "receipt_id")
    with self.store.reader() as view:
        receipt = view.get_receipt(receipt_id)
    if receipt is None:
        raise ReceiptNotFoundError(receipt_id)
    return receipt


def receipt_for_payment(self: PaymentSystem, payment_id: str) -> Receipt | None:
    """The receipt of a payment; None for one recorded before receipts existed."""
    check_text(payment_id, "payment_id")
    with self.store.reader() as view:
        return view.receipt_for_payment(payment_id)


def list_receipts(self: PaymentSystem, enrollment_id: str) -> list[Receipt]:
    """An enrollment's receipts and credit notes, in the order they were issued."""
    check_text(enrollment_id, "enrollment_id")
    with self.store.reader() as view:
        return view.receipts_of(enrollment_id)


def view_receipt(
    self: PaymentSystem,
    receipt_id: str,
    *,
    locale: str = "en",
    timezone: str | None = None,
    student_name: str | None = None,
) -> ReceiptView:
    """A receipt's text for a reader in ``locale`` (days in ``timezone``, default the system's)."""
    return receipt_view(
        get_receipt(self, receipt_id),
        locale=locale,
        timezone=timezone or self.config.timezone,
        issuer_name=self.config.receipts.display_name,
        student_name=student_name,
    )


def receipt_html(
    self: PaymentSystem,
    receipt_id: str,
    *,
    locale: str = "en",
    timezone: str | None = None,
    student_name: str | None = None,
) -> str:
    """A receipt as an HTML page in the reader's locale."""
    return render_html(
        view_receipt(self, receipt_id, locale=locale, timezone=timezone, student_name=student_name)
    )


def receipt_pdf(
    self: PaymentSystem,
    receipt_id: str,
    *,
    locale: str = "en",
    timezone: str | None = None,
    student_name: str | None = None,
    font_path: str | Path | None = None,
) -> bytes:
    """A receipt as a PDF in the reader's locale (font: ``font_path``, else the settings')."""
    return render_pdf(
        view_receipt(self, receipt_id, locale=locale, timezone=timezone, student_name=student_name),
        font_path=font_path or self.config.receipts.font_path,
    )
