"""Rows of webhook receipts and audit entries."""

from __future__ import annotations

from typing import Any

from enrollpay.domain.records import (
    AuditEntry,
    WebhookReceipt,
)
from enrollpay.storage.sql.mapping.values import (
    Row,
)

__all__ = ["audit_from_row", "audit_to_row", "receipt_from_row", "receipt_to_row"]


def receipt_to_row(w: WebhookReceipt) -> dict[str, Any]:
    """Column values of a webhook receipt."""
    return {
        "event_id": w.event_id,
        "event_type": w.event_type,
        "received_at": w.received_at,
        "outcome": w.outcome,
    }


def receipt_from_row(r: Row) -> WebhookReceipt:
    """The webhook receipt a row holds."""
    return WebhookReceipt(r["event_id"], r["event_type"], r["received_at"], r["outcome"])


def audit_to_row(e: AuditEntry) -> dict[str, Any]:
    """Column values of an audit entry (its data is already plain JSON)."""
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "data": dict(e.data),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def audit_from_row(r: Row) -> AuditEntry:
    """The audit entry a row holds."""
    return AuditEntry(
        seq=r["seq"],
        at=r["at"],
        actor=r["actor"],
        action=r["action"],
        entity_type=r["entity_type"],
        entity_id=r["entity_id"],
        data=r["data"],
        prev_hash=r["prev_hash"],
        hash=r["hash"],
    )
