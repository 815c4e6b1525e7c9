"""Seats and waitlists of :class:`~enrollpay.storage.memory.InMemoryStore`.

Plain containers among the store's tables, copied with them at the start
of each transaction. The store runs one transaction at a time (its lock),
so counting a product's seats and adding one cannot interleave with
another unit of work: the seat lock of the port is that lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from enrollpay.domain.records import Product
from enrollpay.domain.seats import Seat, WaitlistEntry, has_free_seat
from enrollpay.errors import DuplicateError
from enrollpay.storage.memory_tables import require

if TYPE_CHECKING:
    from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemorySeats"]


class MemorySeats:
    """The seat and waitlist methods of an in-memory transaction."""

    _t: MemoryTables

    def set_seat_limit(self, product_id: str, seat_limit: int | None) -> Product | None:
        """Set the product's limit."""
        product = self._t.products.get(product_id)
        if product is None:
            return None
        product = self._t.products[product_id] = attrs.evolve(product, seat_limit=seat_limit)
        return product

    def lock_seats(self, product_id: str) -> list[Seat]:
        """The product's live seats (the store's lock is held already)."""
        return self.list_seats(product_id)

    def reserve_seat(self, seat: Seat) -> bool:
        """Add the seat if the product's live seats are below its limit."""
        if seat.id in self._t.seats:
            raise DuplicateError("seat", seat.id)
        product = self._t.products.get(seat.product_id)
        if product is None or not has_free_seat(product.seat_limit, self.list_seats(product.id)):
            return False
        self._t.seats[seat.id] = seat
        return True

    def update_seat(self, seat: Seat) -> None:
        """Store the seat's new state."""
        require(self._t.seats, seat.id, "seat")
        self._t.seats[seat.id] = seat

    def get_seat(self, seat_id: str) -> Seat | None:
        """The seat with this id."""
        return self._t.seats.get(seat_id)

    def seat_of_enrollment(self, enrollment_id: str) -> Seat | None:
        """The enrollment's live seat."""
        for seat in self._t.seats.values():
            if seat.enrollment_id == enrollment_id and seat.live:
                return seat
        return None

    def list_seats(self, product_id: str) -> list[Seat]:
        """Live seats of the product, oldest first."""
        found = (s for s in self._t.seats.values() if s.product_id == product_id and s.live)
        return sorted(found, key=lambda s: (s.taken_at, s.id))

    def lapsed_offers(self, now: datetime) -> list[Seat]:
        """Offered seats expired by ``now``, soonest first."""
        found = (
            s
            for s in self._t.seats.values()
            if s.live and s.expires_at is not None and s.expires_at <= now
        )
        return sorted(found, key=lambda s: (s.expires_at, s.id))

    def add_waitlist_entry(self, entry: WaitlistEntry) -> WaitlistEntry | None:
        """Add the entry unless the user has an open one for the product."""
        if entry.id in self._t.waitlist:
            raise DuplicateError("waitlist entry", entry.id)
        for other in self.list_waitlist(entry.product_id):
            if other.user_id == entry.user_id:
                return other
        self._t.waitlist[entry.id] = entry
        return None

    def update_waitlist_entry(self, entry: WaitlistEntry) -> None:
        """Store the entry's new state."""
        require(self._t.waitlist, entry.id, "waitlist entry")
        self._t.waitlist[entry.id] = entry

    def get_waitlist_entry(self, entry_id: str) -> WaitlistEntry | None:
        """The entry with this id."""
        return self._t.waitlist.get(entry_id)

    def list_waitlist(self, product_id: str, *, open_only: bool = True) -> list[WaitlistEntry]:
        """The product's entries in line order."""
        found = (
            e
            for e in self._t.waitlist.values()
            if e.product_id == product_id and (e.open or not open_only)
        )
        return sorted(found, key=lambda e: (e.joined_at, e.id))
