"""Disputes of recorded payments in a SQL transaction (see :mod:`.guards`)."""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import DuplicateError, PaymentNotFoundError
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.schema import disputes, payments
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["DisputeRepository"]


class DisputeRepository(SqlUnit):
    """Each gateway dispute once, belonging to a recorded payment."""

    def add_dispute(self, dispute: Dispute) -> None:
        """Insert a dispute of a recorded payment."""
        if not self._g.exists(payments, payments.c.id == dispute.payment_id):
            raise PaymentNotFoundError(dispute.payment_id)

        def check() -> None:
            if self._g.exists(disputes, disputes.c.id == dispute.id):
                raise DuplicateError("dispute id", dispute.id)
            gid = dispute.gateway_dispute_id
            if self._g.exists(disputes, disputes.c.gateway_dispute_id == gid):
                raise DuplicateError("gateway dispute id", gid)

        self._g.insert_new(disputes, m.dispute_to_row(dispute), check)

    def update_dispute(self, dispute: Dispute) -> None:
        """Replace an existing dispute."""

        def check() -> None:
            self._g.require(disputes, "id", dispute.id, "dispute")
            gid = dispute.gateway_dispute_id
            if self._g.exists(
                disputes, disputes.c.gateway_dispute_id == gid, disputes.c.id != dispute.id
            ):
                raise DuplicateError("gateway dispute id", gid)

        row = m.dispute_to_row(dispute)
        self._g.guarded(check, lambda: self._g.update(disputes, "id", row, "dispute"))

    def find_dispute_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        """The dispute the gateway knows as ``gateway_dispute_id``."""
        row = self._row(q.DISPUTE_BY_GATEWAY, gateway_dispute_id)
        return None if row is None else m.dispute_from_row(row)

    def disputes_of(self, enrollment_id: str) -> list[Dispute]:
        """The disputes of an enrollment's payments, oldest first."""
        return self._disputes(disputes.c.enrollment_id == enrollment_id)

    def list_disputes(self, *, statuses: frozenset[DisputeStatus] | None = None) -> list[Dispute]:
        """Disputes in the given statuses (None: all), oldest first."""
        if statuses is None:
            return self._disputes()
        return self._disputes(disputes.c.status.in_(sorted(s.value for s in statuses)))

    def _disputes(self, *where: sa.ColumnElement[bool]) -> list[Dispute]:
        stmt = (
            sa.select(disputes)
            .where(*where)
            .order_by(disputes.c.opened_at, self._text(disputes.c.id))
        )
        return [m.dispute_from_row(r) for r in self._rows(stmt)]
