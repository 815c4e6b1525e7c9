"""The log of sent notifications: what the notifications handler dedupes by.

Part of the write port (:class:`~enrollpay.ports.StoreTransaction`), apart
from its own verbs as the outbox is; looking a record up is on the read
port (:class:`~enrollpay.ports.StoreReader`) too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["SentNotificationLog", "SentNotificationLookup"]


class SentNotificationLookup(Protocol):
    """Looking a sent notification up: on the read port and the write port alike."""

    def notification_sent_at(self, event_id: str, kind: str) -> datetime | None:
        """When the ``kind`` notification of ``event_id`` was recorded as sent, if it was."""
        ...


class SentNotificationLog(SentNotificationLookup, Protocol):
    """Which notifications were sent, by event id and notification kind, for a while.

    :class:`~enrollpay.notifications.NotificationHandler` records a
    notification here right after its notifier accepted it, before
    dispatch marks the event delivered, so an event delivered again
    (a crash between the send and the mark) is not sent again. Records are
    kept for a dedupe window and pruned after it.
    """

    def record_notification(self, event_id: str, kind: str, *, sent_at: datetime) -> bool:
        """Record it as sent at ``sent_at``; False (the first record kept) if it is already."""
        ...

    def prune_notifications(self, *, before: datetime) -> int:
        """Forget the records sent at or before ``before``; how many were forgotten."""
        ...
