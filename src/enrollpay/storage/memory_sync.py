"""Drift re-sync in an in-memory transaction: cursors, and look-ups of many records at once.

The same contract as the SQL store's (:mod:`enrollpay.storage.sql.sync`):
a cursor only moves forwards; each look-up returns every record that
matches any of the given keys, in no particular order.
"""

from __future__ import annotations

from collections.abc import Collection

from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.ports import SyncCursor
from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemorySync"]


class MemorySync:
    """Where drift re-sync stopped, and the records one page of gateway objects may match."""

    _t: MemoryTables

    def sync_cursor(self, gateway: str, kind: str) -> SyncCursor | None:
        """The cursor of ``kind`` at ``gateway`` (None: never walked)."""
        return self._t.cursors.get((gateway, kind))

    def advance_sync_cursor(self, cursor: SyncCursor) -> SyncCursor:
        """Store ``cursor`` unless the stored one is further already; return what is stored."""
        key = (cursor.gateway, cursor.kind)
        stored = self._t.cursors.get(key)
        if stored is not None and stored.position >= cursor.position:
            return stored
        self._t.cursors[key] = cursor
        return cursor

    def find_attempts(
        self, *, ids: Collection[str] = (), gateway_payment_ids: Collection[str] = ()
    ) -> list[PaymentAttempt]:
        """The attempts whose id is in ``ids`` or whose gateway payment id is in the other."""
        wanted, gids = set(ids), set(gateway_payment_ids)
        return [
            a
            for a in self._t.attempts.values()
            if a.id in wanted or (a.gateway_payment_id is not None and a.gateway_payment_id in gids)
        ]

    def find_payments(self, *, gateway_payment_ids: Collection[str]) -> list[Payment]:
        """The payments recorded for these gateway payment ids."""
        gids = set(gateway_payment_ids)
        return [
            p
            for p in self._t.payments.values()
            if p.gateway_payment_id is not None and p.gateway_payment_id in gids
        ]

    def find_refunds(
        self,
        *,
        ids: Collection[str] = (),
        gateway_refund_ids: Collection[str] = (),
        payment_ids: Collection[str] = (),
    ) -> list[Refund]:
        """The refunds with one of ``ids``, one of the gateway ids, or of one of the payments."""
        wanted, gids, payments = set(ids), set(gateway_refund_ids), set(payment_ids)
        return [
            r
            for r in self._t.refunds.values()
            if r.id in wanted
            or r.payment_id in payments
            or (r.gateway_refund_id is not None and r.gateway_refund_id in gids)
        ]
