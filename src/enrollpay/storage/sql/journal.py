"""Webhook receipts and the audit trail of a SQL transaction: what happened, once.

The audit chain itself (linking, serialising writers, sending entries at
the end) is :mod:`.auditchain`.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.records import AuditEntry, WebhookReceipt
from enrollpay.errors import DuplicateError
from enrollpay.ports import AuditDraft
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.schema import audit_log, webhook_receipts
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["JournalRepository"]


class JournalRepository(SqlUnit):
    """Processed webhook events and audit entries."""

    # -- webhooks ----------------------------------------------------------------------

    def add_webhook_receipt(self, receipt: WebhookReceipt) -> None:
        """Insert; ``DuplicateError`` if the event id was processed already."""

        def check() -> None:
            if self._g.exists(webhook_receipts, webhook_receipts.c.event_id == receipt.event_id):
                raise DuplicateError("webhook event", receipt.event_id)

        self._g.insert_new(webhook_receipts, m.receipt_to_row(receipt), check)

    def get_webhook_receipt(self, event_id: str) -> WebhookReceipt | None:
        """The receipt of a processed event.

        On PostgreSQL this first takes an advisory lock on the event id, held
        until the transaction ends, so concurrent deliveries of one event
        queue up here: the first applies the event and records its receipt,
        the others then find the receipt (the service's check-then-apply is
        atomic, as it is in the in-memory store).
        """
        if self._pg:
            self._g.lock(f"enrollpay:webhook:{event_id}")
        row = self._row(q.RECEIPT, event_id)
        return None if row is None else m.receipt_from_row(row)

    # -- audit -------------------------------------------------------------------------

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        """Link ``draft`` after the chain's last entry (serialised among writers).

        PostgreSQL: an advisory transaction lock serialises appenders until
        commit; SQLite: the transaction holds the write lock already.
        """
        return self._chain.append(draft)

    def list_audit(
        self, *, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, optionally for one entity."""
        self._chain.flush()
        stmt = sa.select(audit_log).order_by(audit_log.c.seq)
        if entity_type is not None:
            stmt = stmt.where(audit_log.c.entity_type == entity_type)
        if entity_id is not None:
            stmt = stmt.where(audit_log.c.entity_id == entity_id)
        return [m.audit_from_row(r) for r in self._rows(stmt)]
