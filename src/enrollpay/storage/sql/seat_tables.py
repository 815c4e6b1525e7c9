"""The seat tables (migration 0023): seats of products with a limit, and their waitlists.

Kept beside :mod:`.schema` (which imports this module, so the tables are on
its metadata). The limit itself is ``enrollpay_products.seat_limit``; a
seat is added under the product row's lock after counting the product's
live seats (see :mod:`.seats`). Released seats and ended entries stay, as
the record of who had which seat when.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.seats import SeatStatus, WaitlistStatus
from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import ID, metadata, one_of

__all__ = ["seats", "waitlist"]

seats = sa.Table(
    "enrollpay_seats",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("product_id", ID, sa.ForeignKey("enrollpay_products.id"), nullable=False),
    sa.Column("user_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("enrollment_id", ID, nullable=True, index=True),
    sa.Column("entry_id", ID, nullable=True),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    one_of("status", SeatStatus, "known_status"),
)
# A product's live seats, counted under its lock.
sa.Index("ix_enrollpay_seats_product_id_status", seats.c.product_id, seats.c.status)

waitlist = sa.Table(
    "enrollpay_waitlist",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("product_id", ID, sa.ForeignKey("enrollpay_products.id"), nullable=False),
    sa.Column("user_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("seat_id", ID, nullable=True),
    sa.Column("offered_at", UTCDateTime(), nullable=True),
    sa.Column("offer_expires_at", UTCDateTime(), nullable=True),
    sa.Column("enrollment_id", ID, nullable=True),
    one_of("status", WaitlistStatus, "known_status"),
)
# A product's line, in order.
sa.Index(
    "ix_enrollpay_waitlist_product_id_joined_at",
    waitlist.c.product_id,
    waitlist.c.joined_at,
)
