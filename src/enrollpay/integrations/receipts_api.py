"""The receipt routes of the read-only API, framework-free like :mod:`.api`.

``GET {prefix}/receipts/{id}`` answers the receipt as JSON
(:func:`receipt_answer`); ``GET {prefix}/receipts/{id}/html`` and
``.../pdf`` answer the document itself (:func:`receipt_document`), written
for the reader given by the query parameters ``locale`` (default ``en``)
and ``timezone`` (default: the system's). Answers: 200; 404 for an unknown
receipt; 422 for an unknown locale or time zone; 500 when the PDF cannot
be written (no font for the reader's script: see ``ReceiptSettings.font_path``).
Like the other API routes they check no identity: a student portal must
check that the receipt is the student's (its ``user_id``) before serving it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from enrollpay.domain.receipts import Receipt, ReceiptLine
from enrollpay.errors import InvalidInputError, NotFoundError
from enrollpay.errors_receipts import ReceiptRenderError
from enrollpay.integrations.api import ApiAnswer, money
from enrollpay.service.system import PaymentSystem

__all__ = ["ReceiptDocument", "receipt", "receipt_answer", "receipt_document"]

JSON = dict[str, Any]


@attrs.frozen
class ReceiptDocument:
    """An answer with a body of its own type: HTML, a PDF, or a JSON error."""

    status: int
    content_type: str
    body: bytes
    #: For a PDF: the file name a browser saves it under (``R-000042.pdf``).
    filename: str | None = None


def _line(value: ReceiptLine) -> JSON:
    return {
        "item_kind": value.item_kind,
        "item_seq": value.item_seq,
        "due": None if value.due is None else value.due.isoformat(),
        "amount": money(value.amount),
    }


def receipt(value: Receipt) -> JSON:
    """A receipt or credit note, every field (money as in :func:`.api.money`)."""
    return {
        "id": value.id,
        "kind": value.kind,
        "number": value.number,
        "sequence": value.sequence,
        "issuer": value.issuer,
        "enrollment_id": value.enrollment_id,
        "user_id": value.user_id,
        "product_id": value.product_id,
        "product_name": value.product_name,
        "payment_id": value.payment_id,
        "refund_id": value.refund_id,
        "method": value.method,
        "reference": value.reference,
        "lines": [_line(line) for line in value.lines],
        "total": money(value.total),
        "paid_at": value.paid_at.isoformat(),
        "issued_at": value.issued_at.isoformat(),
        "original_receipt_id": value.original_receipt_id,
        "original_number": value.original_number,
        "payer_id": value.payer_id,
        "payer_name": value.payer_name,
    }


def _error_body(code: str, message: str) -> JSON:
    return {"error": code, "message": message}


def receipt_answer(system: PaymentSystem, receipt_id: str) -> ApiAnswer:
    """Answer ``GET /receipts/{id}``."""
    try:
        return ApiAnswer(200, receipt(system.get_receipt(receipt_id)))
    except NotFoundError as exc:
        return ApiAnswer(404, _error_body("not_found", str(exc)))
    except InvalidInputError as exc:
        return ApiAnswer(422, _error_body("invalid_input", str(exc)))


def _json_document(status: int, code: str, message: str) -> ReceiptDocument:
    body = json.dumps(_error_body(code, message)).encode()
    return ReceiptDocument(status, "application/json", body)


def receipt_document(
    system: PaymentSystem,
    receipt_id: str,
    form: Literal["html", "pdf"],
    query: Mapping[str, str],
) -> ReceiptDocument:
    """Answer ``GET /receipts/{id}/html`` or ``/pdf`` (query: ``locale``, ``timezone``)."""
    locale = query.get("locale") or "en"
    zone = query.get("timezone") or None
    try:
        if form == "html":
            page = system.receipt_html(receipt_id, locale=locale, timezone=zone)
            return ReceiptDocument(200, "text/html; charset=utf-8", page.encode())
        pdf = system.receipt_pdf(receipt_id, locale=locale, timezone=zone)
        number = system.get_receipt(receipt_id).number
        return ReceiptDocument(200, "application/pdf", pdf, filename=f"{number}.pdf")
    except NotFoundError as exc:
        return _json_document(404, "not_found", str(exc))
    except InvalidInputError as exc:
        return _json_document(422, "invalid_input", str(exc))
    except ReceiptRenderError as exc:
        return _json_document(500, "not_renderable", str(exc))
