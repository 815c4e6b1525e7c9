"""Disputes of an in-memory transaction: the same invariants and errors as the SQL store."""

from __future__ import annotations

from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import DuplicateError, PaymentNotFoundError
from enrollpay.storage.memory_tables import MemoryTables, require

__all__ = ["MemoryDisputes"]


def _oldest_first(disputes: list[Dispute]) -> list[Dispute]:
    return sorted(disputes, key=lambda d: (d.opened_at, d.id))


class MemoryDisputes:
    """Each gateway dispute once, belonging to a recorded payment."""

    _t: MemoryTables

    def add_dispute(self, dispute: Dispute) -> None:
        """Insert a dispute of a recorded payment."""
        if dispute.payment_id not in self._t.payments:
            raise PaymentNotFoundError(dispute.payment_id)
        if dispute.id in self._t.disputes:
            raise DuplicateError("dispute id", dispute.id)
        if self.find_dispute_by_gateway_id(dispute.gateway_dispute_id) is not None:
            raise DuplicateError("gateway dispute id", dispute.gateway_dispute_id)
        self._t.disputes[dispute.id] = dispute

    def update_dispute(self, dispute: Dispute) -> None:
        """Replace an existing dispute."""
        require(self._t.disputes, dispute.id, "dispute")
        other = self.find_dispute_by_gateway_id(dispute.gateway_dispute_id)
        if other is not None and other.id != dispute.id:
            raise DuplicateError("gateway dispute id", dispute.gateway_dispute_id)
        self._t.disputes[dispute.id] = dispute

    def find_dispute_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        """The dispute the gateway knows as ``gateway_dispute_id``."""
        for dispute in self._t.disputes.values():
            if dispute.gateway_dispute_id == gateway_dispute_id:
                return dispute
        return None

    def disputes_of(self, enrollment_id: str) -> list[Dispute]:
        """The disputes of an enrollment's payments, oldest first."""
        return _oldest_first(
            [d for d in self._t.disputes.values() if d.enrollment_id == enrollment_id]
        )

    def list_disputes(self, *, statuses: frozenset[DisputeStatus] | None = None) -> list[Dispute]:
        """Disputes in the given statuses (None: all), oldest first."""
        return _oldest_first(
            [d for d in self._t.disputes.values() if statuses is None or d.status in statuses]
        )
