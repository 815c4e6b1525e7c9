"""The seats part of the write port: seats of products with a limit, and their waitlists.

:class:`~enrollpay.ports.StoreTransaction` includes these verbs. The limit
is the store's to keep: :meth:`SeatRecords.reserve_seat` adds a seat only
while the product's live seats are fewer than its ``seat_limit``, and
concurrent units of work never take more seats than the limit between
them. Every verb that writes a product's seats or waitlist first takes the
product's seat lock, held until the unit of work ends (PostgreSQL: the
product's row ``FOR NO KEY UPDATE``; SQLite: its single writer; memory:
its lock), so the count a writer sees cannot change under it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from enrollpay.domain.records import Product
from enrollpay.domain.seats import Seat, WaitlistEntry

__all__ = ["SeatLookups", "SeatRecords"]


class SeatLookups(Protocol):
    """Seats and waitlist entries as they stand (on both ports: the reader sees its snapshot)."""

    def get_seat(self, seat_id: str) -> Seat | None:
        """The seat with this id, live or released."""
        ...

    def seat_of_enrollment(self, enrollment_id: str) -> Seat | None:
        """The live seat an enrollment holds or reserves, if any."""
        ...

    def list_seats(self, product_id: str) -> list[Seat]:
        """The product's live seats, oldest first (then by id), without locking."""
        ...

    def lapsed_offers(self, now: datetime) -> list[Seat]:
        """Offered seats whose offer expired by ``now``, soonest expiry first (then by id)."""
        ...

    def get_waitlist_entry(self, entry_id: str) -> WaitlistEntry | None:
        """The entry with this id."""
        ...

    def list_waitlist(self, product_id: str, *, open_only: bool = True) -> list[WaitlistEntry]:
        """The product's entries by join time, then by id (``open_only``: waiting or offered)."""
        ...


class SeatRecords(SeatLookups, Protocol):
    """The write-port verbs of seats and waitlists, within one unit of work."""

    def set_seat_limit(self, product_id: str, seat_limit: int | None) -> Product | None:
        """Set a product's seat limit (None: no limit); the product as it is now (None: none).

        The only writer of the limit: ``put_product`` keeps a product's limit
        as it is (a new product has none), so re-registering a product never
        undoes a limit.
        """
        ...

    def lock_seats(self, product_id: str) -> list[Seat]:
        """Take the product's seat lock; its live seats, oldest first (then by id)."""
        ...

    def reserve_seat(self, seat: Seat) -> bool:
        """Add a live seat if the product has a free one (under its seat lock).

        True: the seat is stored. False: the product's live seats already
        number its ``seat_limit`` (or it has no such product); nothing is
        written. A product without a limit always has room. ``DuplicateError``
        if the seat's id is taken.
        """
        ...

    def update_seat(self, seat: Seat) -> None:
        """Store a seat's new state (``StorageError`` if it does not exist)."""
        ...

    def add_waitlist_entry(self, entry: WaitlistEntry) -> WaitlistEntry | None:
        """Add an entry unless the user has an open one for the product (under its seat lock).

        None: added. Otherwise the user's open entry, and nothing is written.
        """
        ...

    def update_waitlist_entry(self, entry: WaitlistEntry) -> None:
        """Store an entry's new state (``StorageError`` if it does not exist)."""
        ...
