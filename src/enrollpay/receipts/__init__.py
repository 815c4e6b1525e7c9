"""Receipts written for their reader: HTML (standard library) and PDF (fpdf2, optional).

Issuing (numbering, storing) is the service's business
(:mod:`enrollpay.service.receipts`); this package only writes a stored
:class:`~enrollpay.domain.receipts.Receipt` out, in the reader's locale.
"""

from enrollpay.receipts.html import render_html
from enrollpay.receipts.pdf import render_pdf
from enrollpay.receipts.view import ReceiptView, receipt_view

__all__ = ["ReceiptView", "receipt_view", "render_html", "render_pdf"]
