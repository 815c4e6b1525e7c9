"""Rows of disputes."""

from __future__ import annotations

from typing import Any

from enrollpay.domain.money import Money
from enrollpay.domain.records import Dispute
from enrollpay.storage.sql.mapping.values import Row

__all__ = ["dispute_from_row", "dispute_to_row"]


def dispute_to_row(d: Dispute) -> dict[str, Any]:
    """Column values of a dispute."""
    return {
        "id": d.id,
        "payment_id": d.payment_id,
        "enrollment_id": d.enrollment_id,
        "gateway_dispute_id": d.gateway_dispute_id,
        "amount_minor": d.amount.minor,
        "currency": d.amount.currency,
        "status": d.status.value,
        "gateway_status": d.gateway_status,
        "opened_at": d.opened_at,
        "updated_at": d.updated_at,
        "reported_at": d.reported_at,
        "reason": d.reason,
        "evidence_due_by": d.evidence_due_by,
        "closed_at": d.closed_at,
    }


def dispute_from_row(r: Row) -> Dispute:
    """The dispute a row holds."""
    return Dispute(
        id=r["id"],
        payment_id=r["payment_id"],
        enrollment_id=r["enrollment_id"],
        gateway_dispute_id=r["gateway_dispute_id"],
        amount=Money(r["amount_minor"], r["currency"]),
        status=r["status"],
        gateway_status=r["gateway_status"],
        opened_at=r["opened_at"],
        updated_at=r["updated_at"],
        reported_at=r["reported_at"],
        reason=r["reason"],
        evidence_due_by=r["evidence_due_by"],
        closed_at=r["closed_at"],
    )
