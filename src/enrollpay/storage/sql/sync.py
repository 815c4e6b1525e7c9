"""Drift re-sync in a SQL transaction: cursors, and look-ups of many records at once.

A page of gateway objects is matched with one query per kind of record
(``IN`` lists, in slices the database accepts), using the unique indexes
on the gateway ids. A cursor moves with one ``INSERT ... ON CONFLICT DO
UPDATE ... WHERE position < excluded.position``, so concurrent walks never
move it backwards.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.ports import SyncCursor
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.schema import attempts, payments, refunds, sync_cursors
from enrollpay.storage.sql.unit import SqlUnit, chunks

__all__ = ["SyncRepository"]


class SyncRepository(SqlUnit):
    """Where drift re-sync stopped, and the records one page of gateway objects may match."""

    def sync_cursor(self, gateway: str, kind: str) -> SyncCursor | None:
        """The cursor of ``kind`` at ``gateway`` (None: never walked)."""
        row = self._row(
            sa.select(sync_cursors).where(
                sync_cursors.c.gateway == gateway, sync_cursors.c.kind == kind
            )
        )
        if row is None:
            return None
        return SyncCursor(
            gateway=row["gateway"],
            kind=row["kind"],
            position=row["position"],
            updated_at=row["updated_at"],
        )

    def advance_sync_cursor(self, cursor: SyncCursor) -> SyncCursor:
        """Store ``cursor`` unless the stored one is further already; return what is stored."""
        dialect: Any = postgresql if self._pg else sqlite
        insert = dialect.insert(sync_cursors).values(
            gateway=cursor.gateway,
            kind=cursor.kind,
            position=cursor.position,
            updated_at=cursor.updated_at,
        )
        self._d.run(
            insert.on_conflict_do_update(
                index_elements=[sync_cursors.c.gateway, sync_cursors.c.kind],
                set_={
                    "position": insert.excluded.position,
                    "updated_at": insert.excluded.updated_at,
                },
                where=sync_cursors.c.position < insert.excluded.position,
            )
        )
        stored = self.sync_cursor(cursor.gateway, cursor.kind)
        assert stored is not None  # noqa: S101 - written just now
        return stored

    def find_attempts(
        self, *, ids: Collection[str] = (), gateway_payment_ids: Collection[str] = ()
    ) -> list[PaymentAttempt]:
        """The attempts whose id is in ``ids`` or whose gateway payment id is in the other."""
        found: dict[str, PaymentAttempt] = {}
        for column, keys in (
            (attempts.c.id, ids),
            (attempts.c.gateway_payment_id, gateway_payment_ids),
        ):
            for part in chunks(sorted(set(keys))):
                for row in self._rows(sa.select(attempts).where(column.in_(part))):
                    found[row["id"]] = m.attempt_from_row(row)
        return list(found.values())

    def find_payments(self, *, gateway_payment_ids: Collection[str]) -> list[Payment]:
        """The payments recorded for these gateway payment ids."""
        return [
            m.payment_from_row(row)
            for part in chunks(sorted(set(gateway_payment_ids)))
            for row in self._rows(
                sa.select(payments).where(payments.c.gateway_payment_id.in_(part))
            )
        ]

    def find_refunds(
        self,
        *,
        ids: Collection[str] = (),
        gateway_refund_ids: Collection[str] = (),
        payment_ids: Collection[str] = (),
    ) -> list[Refund]:
        """The refunds with one of ``ids``, one of the gateway ids, or of one of the payments."""
        found: dict[str, Refund] = {}
        for column, keys in (
            (refunds.c.id, ids),
            (refunds.c.gateway_refund_id, gateway_refund_ids),
            (refunds.c.payment_id, payment_ids),
        ):
            for part in chunks(sorted(set(keys))):
                for row in self._rows(sa.select(refunds).where(column.in_(part))):
                    found[row["id"]] = m.refund_from_row(row)
        return list(found.values())
