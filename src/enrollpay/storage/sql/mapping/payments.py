"""Rows of payment attempts, payments and refunds."""

from __future__ import annotations

from typing import Any

from enrollpay.domain.money import Money
from enrollpay.domain.records import (
    Payment,
    PaymentAttempt,
    Refund,
)
from enrollpay.domain.retry import DeclineClass
from enrollpay.storage.sql.mapping.values import (
    Row,
)

__all__ = [
    "attempt_from_row",
    "attempt_to_row",
    "payment_from_row",
    "payment_to_row",
    "refund_from_row",
    "refund_to_row",
]


def attempt_to_row(a: PaymentAttempt) -> dict[str, Any]:
    """Column values of a payment attempt."""
    return {
        "id": a.id,
        "item_id": a.item_id,
        "enrollment_id": a.enrollment_id,
        "number": a.number,
        "idempotency_key": a.idempotency_key,
        "status": a.status.value,
        "amount_minor": a.amount.minor,
        "currency": a.amount.currency,
        "mode": a.mode,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "gateway_payment_id": a.gateway_payment_id,
        "payment_method_id": a.payment_method_id,
        "decline_code": a.decline_code,
        "decline_class": None if a.decline_class is None else a.decline_class.value,
        "message": a.message,
        "card_brand": a.card_brand,
        "reattempt": a.reattempt,
        "gateway_invoice_id": a.gateway_invoice_id,
        "hosted_invoice_url": a.hosted_invoice_url,
    }


def attempt_from_row(r: Row) -> PaymentAttempt:
    """The payment attempt a row holds."""
    decline_class = r["decline_class"]
    return PaymentAttempt(
        id=r["id"],
        item_id=r["item_id"],
        enrollment_id=r["enrollment_id"],
        number=r["number"],
        idempotency_key=r["idempotency_key"],
        status=r["status"],
        amount=Money(r["amount_minor"], r["currency"]),
        mode=r["mode"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        gateway_payment_id=r["gateway_payment_id"],
        payment_method_id=r["payment_method_id"],
        decline_code=r["decline_code"],
        decline_class=None if decline_class is None else DeclineClass(decline_class),
        message=r["message"],
        card_brand=r["card_brand"],
        reattempt=bool(r["reattempt"]),
        gateway_invoice_id=r["gateway_invoice_id"],
        hosted_invoice_url=r["hosted_invoice_url"],
    )


def payment_to_row(p: Payment) -> dict[str, Any]:
    """Column values of a payment."""
    return {
        "id": p.id,
        "enrollment_id": p.enrollment_id,
        "item_id": p.item_id,
        "amount_minor": p.amount.minor,
        "currency": p.amount.currency,
        "method": p.method,
        "received_at": p.received_at,
        "gateway_payment_id": p.gateway_payment_id,
        "attempt_id": p.attempt_id,
        "reference": p.reference,
        "notes": p.notes,
        "actor": p.actor,
    }


def payment_from_row(r: Row) -> Payment:
    """The payment a row holds."""
    return Payment(
        id=r["id"],
        enrollment_id=r["enrollment_id"],
        item_id=r["item_id"],
        amount=Money(r["amount_minor"], r["currency"]),
        method=r["method"],
        received_at=r["received_at"],
        gateway_payment_id=r["gateway_payment_id"],
        attempt_id=r["attempt_id"],
        reference=r["reference"],
        notes=r["notes"],
        actor=r["actor"],
    )


def refund_to_row(f: Refund) -> dict[str, Any]:
    """Column values of a refund."""
    return {
        "id": f.id,
        "payment_id": f.payment_id,
        "enrollment_id": f.enrollment_id,
        "amount_minor": f.amount.minor,
        "currency": f.amount.currency,
        "method": f.method,
        "created_at": f.created_at,
        "status": f.status,
        "idempotency_key": f.idempotency_key,
        "gateway_refund_id": f.gateway_refund_id,
        "reason": f.reason,
        "actor": f.actor,
    }


def refund_from_row(r: Row) -> Refund:
    """The refund a row holds."""
    return Refund(
        id=r["id"],
        payment_id=r["payment_id"],
        enrollment_id=r["enrollment_id"],
        amount=Money(r["amount_minor"], r["currency"]),
        method=r["method"],
        created_at=r["created_at"],
        status=r["status"],
        idempotency_key=r["idempotency_key"],
        gateway_refund_id=r["gateway_refund_id"],
        reason=r["reason"],
        actor=r["actor"],
    )
