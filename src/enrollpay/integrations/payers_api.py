"""The payer routes of the read-only API, framework-free like :mod:`.api`.

``GET {prefix}/payers`` lists the payers; ``GET {prefix}/payers/{id}``
answers one; ``GET {prefix}/payers/{id}/statement`` answers their
statement (every enrollment they pay for, with paid, refunded, due and
overdue amounts per currency; the query parameter ``currency`` keeps
one). Answers: 200; 404 for an unknown payer; 422 for a bad currency.
Like the other API routes they check no identity: a payer portal must
check that the payer is the one signed in before serving it. Payers are
added with :meth:`~enrollpay.PaymentSystem.add_payer` or ``enrollpay
payers add``; enrollments are split by ``enroll(..., payers=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enrollpay.domain.payers import Payer
from enrollpay.errors import InvalidInputError, NotFoundError
from enrollpay.integrations.api import ApiAnswer, item, money
from enrollpay.service.payer_statements import PayerStatement, PayerTotals
from enrollpay.service.system import PaymentSystem

__all__ = ["payer", "payer_answer", "payers_answer", "statement", "statement_answer"]

JSON = dict[str, Any]


def payer(value: Payer) -> JSON:
    """A payer: who they are, and whether a payment method is saved for them."""
    return {
        "id": value.id,
        "kind": value.kind,
        "name": value.name,
        "email": value.email,
        "gateway_customer_id": value.gateway_customer_id,
        "has_payment_method": value.payment_method_id is not None,
        "created_at": None if value.created_at is None else value.created_at.isoformat(),
    }


def _totals(value: PayerTotals) -> JSON:
    return {
        "currency": value.currency,
        "paid": money(value.paid),
        "refunded": money(value.refunded),
        "due": money(value.due),
        "overdue": money(value.overdue),
    }


def statement(value: PayerStatement) -> JSON:
    """A payer's statement: the payer, each enrollment with its items, the totals."""
    return {
        "payer": payer(value.payer),
        "as_of": value.as_of.isoformat(),
        "enrollments": [
            {
                "enrollment_id": row.enrollment_id,
                "user_id": row.user_id,
                "product_id": row.product_id,
                "status": row.status,
                "items": [item(i) for i in row.items],
                "totals": _totals(row.totals),
            }
            for row in value.enrollments
        ],
        "totals": [_totals(t) for t in value.totals],
    }


def _error(status: int, code: str, message: str) -> ApiAnswer:
    return ApiAnswer(status, {"error": code, "message": message})


def payers_answer(system: PaymentSystem) -> ApiAnswer:
    """Answer ``GET /payers``."""
    return ApiAnswer(200, {"payers": [payer(p) for p in system.list_payers()]})


def payer_answer(system: PaymentSystem, payer_id: str) -> ApiAnswer:
    """Answer ``GET /payers/{id}``."""
    try:
        return ApiAnswer(200, payer(system.get_payer(payer_id)))
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    except InvalidInputError as exc:
        return _error(422, "invalid_input", str(exc))


def statement_answer(system: PaymentSystem, payer_id: str, query: Mapping[str, str]) -> ApiAnswer:
    """Answer ``GET /payers/{id}/statement`` (query: ``currency``)."""
    currency = (query.get("currency") or "").strip() or None
    try:
        return ApiAnswer(200, statement(system.payer_statement(payer_id, currency=currency)))
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    except InvalidInputError as exc:
        return _error(422, "invalid_input", str(exc))
