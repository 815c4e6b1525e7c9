"""The errors of receipts (apart from :mod:`enrollpay.errors`, which is near its size limit)."""

from __future__ import annotations

from enrollpay.errors import EnrollpayError, NotFoundError

__all__ = ["ReceiptFontError", "ReceiptNotFoundError", "ReceiptRenderError"]


class ReceiptNotFoundError(NotFoundError):
    """No receipt or credit note with this id."""

    kind = "receipt"


class ReceiptRenderError(EnrollpayError):
    """A receipt could not be rendered."""


class ReceiptFontError(ReceiptRenderError, ValueError):
    """The PDF's font cannot write the receipt's text: give a Unicode TTF font (``font_path``)."""
