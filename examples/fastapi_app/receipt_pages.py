"""The student's receipts: each payment's receipt (and each refund's credit note) to view or save.

The portal links every payment to ``/portal/receipts/{id}`` (the HTML page)
and ``/portal/receipts/{id}/pdf`` (a PDF download). Both are written in the
student's locale, chosen as for every page (``?lang=``, else the browser's
``Accept-Language``; see :func:`.web.request_locale`). A receipt of another
student is "not found", like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import PaymentSystem, Receipt
from enrollpay.errors_receipts import ReceiptNotFoundError
from enrollpay.integrations.fastapi import get_system

from .web import request_locale, require_student

__all__ = ["router"]

System = Annotated[PaymentSystem, Depends(get_system)]
Student = Annotated[str, Depends(require_student)]

router = APIRouter()


def _owned(system: PaymentSystem, student: str, receipt_id: str) -> Receipt:
    receipt = system.get_receipt(receipt_id)
    if receipt.user_id != student:
        raise ReceiptNotFoundError(receipt_id)  # no hint that it exists
    return receipt


@router.get("/portal/receipts/{receipt_id}", response_class=HTMLResponse)
def receipt_page(request: Request, system: System, student: Student, receipt_id: str) -> Response:
    """The receipt as a printable page."""
    _owned(system, student, receipt_id)
    return HTMLResponse(system.receipt_html(receipt_id, locale=request_locale(request)))


@router.get("/portal/receipts/{receipt_id}/pdf")
def receipt_pdf(request: Request, system: System, student: Student, receipt_id: str) -> Response:
    """The receipt as a PDF download."""
    receipt = _owned(system, student, receipt_id)
    pdf = system.receipt_pdf(receipt_id, locale=request_locale(request))
    disposition = f'attachment; filename="{receipt.number}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})
