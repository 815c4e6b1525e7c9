"""The log of sent notifications in SQL (``enrollpay_sent_notifications``, migration 0013).

One row per (event id, notification kind), with when it was sent (see
:class:`~enrollpay.ports.SentNotificationLog`). Recording inserts with
``ON CONFLICT DO NOTHING``, so a record made already, even by a concurrent
transaction, is kept as it was and reported as such instead of failing the
unit of work. Pruning deletes by ``sent_at``, which is indexed.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.storage.sql.schema import sent_notifications
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["NotificationLogRepository"]

_LOG = sent_notifications.c


class NotificationLogRepository(SqlUnit):
    """The sent-notification methods of one SQL transaction."""

    def notification_sent_at(self, event_id: str, kind: str) -> datetime | None:
        """When it was recorded, if it was."""
        row = self._d.run(
            sa.select(_LOG.sent_at).where(_LOG.event_id == event_id, _LOG.kind == kind)
        ).first()
        return None if row is None else row["sent_at"]

    def record_notification(self, event_id: str, kind: str, *, sent_at: datetime) -> bool:
        """Insert unless recorded already; True if this call recorded it."""
        insert = (postgresql.insert if self._pg else sqlite.insert)(sent_notifications)
        stmt = (
            insert.values(event_id=event_id, kind=kind, sent_at=sent_at)
            .on_conflict_do_nothing(index_elements=[_LOG.event_id, _LOG.kind])
            .returning(_LOG.event_id)
        )
        return self._d.run(stmt).first() is not None

    def prune_notifications(self, *, before: datetime) -> int:
        """Delete the records sent at or before ``before``."""
        deleted = self._d.run(sa.delete(sent_notifications).where(_LOG.sent_at <= before))
        return int(deleted.rowcount)
