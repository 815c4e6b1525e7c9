"""The outbox, its dispatch lease and the drift cursors (on the schema's metadata).

Kept apart from :mod:`enrollpay.storage.sql.schema` (which imports and
re-exports them) only for the module's length.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import metadata

__all__ = ["outbox", "outbox_lease", "sync_cursors"]

# The transactional outbox (storage/sql/outbox.py, migration 0004). ``seq`` is
# the order of occurrence: an identity column on PostgreSQL, an AUTOINCREMENT
# rowid on SQLite (an INTEGER PRIMARY KEY: BIGINT would not alias the rowid),
# so a value is never handed out twice.
outbox = sa.Table(
    "enrollpay_outbox",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True
    ),
    sa.Column("id", sa.String(), nullable=False, unique=True),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("enrollment_id", sa.String(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sqlite_autoincrement=True,
)
# What a dispatcher reads: undelivered events by seq.
sa.Index(
    "ix_enrollpay_outbox_undelivered",
    outbox.c.seq,
    sqlite_where=outbox.c.delivered_at.is_(None),
    postgresql_where=outbox.c.delivered_at.is_(None),
)

# The one dispatch lease: a single row (id 1), free when holder is NULL.
outbox_lease = sa.Table(
    "enrollpay_outbox_lease",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("holder", sa.String(), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.CheckConstraint("id = 1", name="single_row"),
)

# Drift re-sync (migration 0012): how far the gateway's record of each kind
# of object was compared, per gateway. It only moves forwards.
sync_cursors = sa.Table(
    "enrollpay_sync_cursors",
    metadata,
    sa.Column("gateway", sa.String(), primary_key=True),
    sa.Column("kind", sa.String(), primary_key=True),
    sa.Column("position", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
