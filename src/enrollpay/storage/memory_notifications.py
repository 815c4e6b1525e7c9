"""The log of sent notifications of :class:`~enrollpay.storage.memory.InMemoryStore`.

A plain dict of ``(event id, kind) -> sent at`` among the store's tables,
copied with them at the start of each transaction (see
:class:`~enrollpay.ports.SentNotificationLog` for what it is for).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryNotificationLog"]


class MemoryNotificationLog:
    """The sent-notification methods of an in-memory transaction."""

    _t: MemoryTables

    def notification_sent_at(self, event_id: str, kind: str) -> datetime | None:
        """When it was recorded, if it was."""
        return self._t.sent_notifications.get((event_id, kind))

    def record_notification(self, event_id: str, kind: str, *, sent_at: datetime) -> bool:
        """Record it unless it is recorded already (the first time is kept)."""
        if (event_id, kind) in self._t.sent_notifications:
            return False
        self._t.sent_notifications[event_id, kind] = sent_at
        return True

    def prune_notifications(self, *, before: datetime) -> int:
        """Drop the records sent at or before ``before``."""
        old = [key for key, at in self._t.sent_notifications.items() if at <= before]
        for key in old:
            del self._t.sent_notifications[key]
        return len(old)
