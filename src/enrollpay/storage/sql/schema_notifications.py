"""The table of notifications sent (migration 0013), on the schema's :data:`~.metadata.metadata`.

``enrollpay_sent_notifications`` keeps each (event, kind) sent for the
dedupe window (:mod:`enrollpay.storage.sql.notifications`): an event
delivered again is not notified again.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import metadata

__all__ = ["sent_notifications"]

sent_notifications = sa.Table(
    "enrollpay_sent_notifications",
    metadata,
    sa.Column("event_id", sa.String(), primary_key=True),
    sa.Column("kind", sa.String(), primary_key=True),
    sa.Column("sent_at", UTCDateTime(), nullable=False, index=True),
)
