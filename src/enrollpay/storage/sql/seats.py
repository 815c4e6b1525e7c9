"""Seats and waitlists in a SQL transaction (tables: :mod:`.seat_tables`).

The seat lock of a product is its row in ``enrollpay_products``: on
PostgreSQL ``SELECT seat_limit ... FOR NO KEY UPDATE`` (held until the
unit of work ends; enrollments referencing the product still insert, as
their foreign-key check only shares the key), on SQLite the transaction's
single writer. Under it a seat is added only while the product's live
seats are fewer than its limit, so two concurrent enrollments cannot both
take the last seat: the second waits for the first to commit, then counts
again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from enrollpay.domain.records import Product
from enrollpay.domain.seats import LIVE_SEAT_STATUSES, OPEN_WAITLIST_STATUSES, Seat, WaitlistEntry
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.storage.sql.mapping.seats import (
    entry_from_row,
    entry_to_row,
    seat_from_row,
    seat_to_row,
)
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema import products
from enrollpay.storage.sql.seat_tables import seats, waitlist
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["SeatRepository"]

_S = seats.c
_W = waitlist.c
_LIVE = sorted(str(s) for s in LIVE_SEAT_STATUSES)
_OPEN = sorted(str(s) for s in OPEN_WAITLIST_STATUSES)
#: An enrollment's live seat, rendered once: it is looked up for every stored event that
#: could hold or release one (the statuses are written into the SQL, not bound).
_SEAT_OF_ENROLLMENT = Prepared(
    sa.select(seats).where(
        seats.c.enrollment_id == sa.bindparam("key"),
        seats.c.status.in_([sa.literal_column(f"'{status}'") for status in _LIVE]),
    )
)


class SeatRepository(SqlUnit):
    """The seat and waitlist methods of one SQL transaction."""

    #: The catalog's reader of a product (:class:`.catalog.CatalogRepository`).
    get_product: Callable[[str], Product | None]

    def _seat_lock(self, product_id: str) -> tuple[bool, int | None]:
        """Lock the product's row; (whether it exists, its seat limit).

        Every seat writer audits too. The service appends its audit entries
        at the end of the unit of work (:meth:`Context.unit
        <enrollpay.service.context.Context.unit>`), after every row lock it
        takes, so all writers take the product's row before the audit
        chain's lock: one order, no deadlock, and the chain is not held
        while the seat is counted.
        """
        stmt = sa.select(products.c.seat_limit).where(products.c.id == product_id)
        if self._pg:
            stmt = stmt.with_for_update(key_share=True)
        row = self._d.run(stmt).first()
        return (False, None) if row is None else (True, row["seat_limit"])

    def _live(self, product_id: str) -> sa.Select[tuple[int]]:
        return (
            sa.select(seats)
            .where(_S.product_id == product_id, _S.status.in_(_LIVE))
            .order_by(_S.taken_at, self._text(_S.id))
        )

    def set_seat_limit(self, product_id: str, seat_limit: int | None) -> Product | None:
        """Set the product's limit, under its seat lock."""
        found, _ = self._seat_lock(product_id)
        if not found:
            return None
        stmt = sa.update(products).where(products.c.id == product_id)
        self._d.run(stmt.values(seat_limit=seat_limit))
        return self.get_product(product_id)  # with its price list, as the catalog reads it

    def lock_seats(self, product_id: str) -> list[Seat]:
        """Take the product's seat lock; its live seats."""
        self._seat_lock(product_id)
        return self.list_seats(product_id)

    def reserve_seat(self, seat: Seat) -> bool:
        """Add the seat if, under the product's lock, a live seat is still free."""
        found, limit = self._seat_lock(seat.product_id)
        if not found:
            return False
        if limit is not None:
            count = sa.select(sa.func.count()).select_from(seats)
            taken = self._d.run(
                count.where(_S.product_id == seat.product_id, _S.status.in_(_LIVE))
            ).scalar()
            if taken >= limit:
                return False
        if self._g.exists(seats, _S.id == seat.id):
            raise DuplicateError("seat", seat.id)
        self._d.run(sa.insert(seats).values(**seat_to_row(seat)))
        return True

    def update_seat(self, seat: Seat) -> None:
        """Store the seat's new state."""
        row = seat_to_row(seat)
        done = self._d.run(sa.update(seats).where(_S.id == seat.id).values(**row))
        if not done.rowcount:
            raise StorageError(f"cannot update seat {seat.id!r}: it does not exist")

    def get_seat(self, seat_id: str) -> Seat | None:
        """The seat with this id."""
        row = self._d.run(sa.select(seats).where(_S.id == seat_id)).first()
        return None if row is None else seat_from_row(row)

    def seat_of_enrollment(self, enrollment_id: str) -> Seat | None:
        """The enrollment's live seat."""
        row = self._d.run(_SEAT_OF_ENROLLMENT, {"key": enrollment_id}).first()
        return None if row is None else seat_from_row(row)

    def list_seats(self, product_id: str) -> list[Seat]:
        """Live seats of the product, oldest first."""
        return [seat_from_row(r) for r in self._d.run(self._live(product_id)).all()]

    def lapsed_offers(self, now: datetime) -> list[Seat]:
        """Offered seats expired by ``now``, soonest first."""
        stmt = (
            sa.select(seats)
            .where(_S.status.in_(_LIVE), _S.expires_at.is_not(None), _S.expires_at <= now)
            .order_by(_S.expires_at, self._text(_S.id))
        )
        return [seat_from_row(r) for r in self._d.run(stmt).all()]

    def add_waitlist_entry(self, entry: WaitlistEntry) -> WaitlistEntry | None:
        """Add the entry unless the user has an open one (under the product's lock)."""
        self._seat_lock(entry.product_id)
        for other in self.list_waitlist(entry.product_id):
            if other.user_id == entry.user_id:
                return other
        if self._g.exists(waitlist, _W.id == entry.id):
            raise DuplicateError("waitlist entry", entry.id)
        self._d.run(sa.insert(waitlist).values(**entry_to_row(entry)))
        return None

    def update_waitlist_entry(self, entry: WaitlistEntry) -> None:
        """Store the entry's new state."""
        row = entry_to_row(entry)
        done = self._d.run(sa.update(waitlist).where(_W.id == entry.id).values(**row))
        if not done.rowcount:
            raise StorageError(f"cannot update waitlist entry {entry.id!r}: it does not exist")

    def get_waitlist_entry(self, entry_id: str) -> WaitlistEntry | None:
        """The entry with this id."""
        row = self._d.run(sa.select(waitlist).where(_W.id == entry_id)).first()
        return None if row is None else entry_from_row(row)

    def list_waitlist(self, product_id: str, *, open_only: bool = True) -> list[WaitlistEntry]:
        """The product's entries in line order."""
        stmt = (
            sa.select(waitlist)
            .where(_W.product_id == product_id)
            .order_by(_W.joined_at, self._text(_W.id))
        )
        if open_only:
            stmt = stmt.where(_W.status.in_(_OPEN))
        return [entry_from_row(r) for r in self._d.run(stmt).all()]
