"""Seats: a program's seat limit, who holds a seat, and the waitlist in front of it.

A product with a ``seat_limit`` sells at most that many seats; ``None``
means no limit (and no seat is tracked). A seat is taken by one of three
kinds of holder, and each counts against the limit:

``reserved``
    An enrollment was made and its first payment is not in yet. Enrolling
    reserves the seat at once, so a student whose deposit then succeeds is
    never left without one.
``held``
    The first payment succeeded (or nothing was due at enrollment): the
    seat is the enrollment's until it is cancelled or defaults.
``offered``
    The seat was freed and offered to the next student on the waitlist;
    the offer expires at ``expires_at``.

A seat is ``released`` when its enrollment is cancelled or defaults, or
its offer expires or is turned into an enrollment (then the enrollment's
own seat replaces it). Released seats no longer count.

The waitlist is ordered by join time, then by entry id. When seats are
free and students wait, the first ``free`` waiting entries get an offer
each (:func:`offers_due`). The store enforces the limit whatever the order
in which units of work commit (see :mod:`enrollpay.ports.seats`); the
functions here decide, they never count on their own for a writer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

import attrs

from enrollpay.errors import InvalidInputError

__all__ = [
    "LIVE_SEAT_STATUSES",
    "OPEN_WAITLIST_STATUSES",
    "Seat",
    "SeatCounts",
    "SeatStatus",
    "WaitlistEntry",
    "WaitlistStatus",
    "check_offer_ttl",
    "check_seat_limit",
    "count_seats",
    "expired",
    "has_free_seat",
    "in_line",
    "offers_due",
]


class SeatStatus(enum.StrEnum):
    """Who holds a seat, and how firmly."""

    OFFERED = "offered"
    RESERVED = "reserved"
    HELD = "held"
    RELEASED = "released"


class WaitlistStatus(enum.StrEnum):
    """Where a student on a waitlist stands."""

    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


#: Seats that count against the limit.
LIVE_SEAT_STATUSES: Final = frozenset({SeatStatus.OFFERED, SeatStatus.RESERVED, SeatStatus.HELD})
#: Entries still on the list: a student may have one of these per product.
OPEN_WAITLIST_STATUSES: Final = frozenset({WaitlistStatus.WAITING, WaitlistStatus.OFFERED})


@attrs.frozen
class Seat:
    """One seat of a product, and who holds it."""

    id: str
    product_id: str
    user_id: str
    status: SeatStatus = attrs.field(converter=SeatStatus)
    taken_at: datetime
    updated_at: datetime
    #: The enrollment holding (or reserving) it; None for an offer.
    enrollment_id: str | None = None
    #: The waitlist entry an offered seat waits for (kept once accepted).
    entry_id: str | None = None
    #: When an offer lapses; None for an enrollment's seat.
    expires_at: datetime | None = None

    @property
    def live(self) -> bool:
        """Whether the seat counts against the limit."""
        return self.status in LIVE_SEAT_STATUSES


@attrs.frozen
class WaitlistEntry:
    """A student waiting for a seat of a product (an offer is this entry, ``offered``)."""

    id: str
    product_id: str
    user_id: str
    status: WaitlistStatus = attrs.field(converter=WaitlistStatus)
    joined_at: datetime
    updated_at: datetime
    #: The seat offered (set with the offer).
    seat_id: str | None = None
    offered_at: datetime | None = None
    offer_expires_at: datetime | None = None
    #: The enrollment made by accepting the offer.
    enrollment_id: str | None = None

    @property
    def open(self) -> bool:
        """Whether the entry is still on the list (waiting, or holding an offer)."""
        return self.status in OPEN_WAITLIST_STATUSES


@attrs.frozen
class SeatCounts:
    """A product's seats by kind of holder, and how many are free."""

    limit: int | None
    held: int
    reserved: int
    offered: int

    @property
    def taken(self) -> int:
        """Seats that count against the limit."""
        return self.held + self.reserved + self.offered

    @property
    def free(self) -> int | None:
        """Seats left to sell (None: no limit; never below zero if the limit was lowered)."""
        return None if self.limit is None else max(self.limit - self.taken, 0)


def check_seat_limit(value: object) -> int | None:
    """A seat limit as given: None (no limit) or a whole number >= 0, else ``InvalidInputError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"seat_limit must be None or an int >= 0, got {value!r}")
    return value


def check_offer_ttl(value: object) -> timedelta:
    """How long a seat offer lasts: a positive ``timedelta``, else ``InvalidInputError``."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidInputError(f"seat_offer_ttl must be a positive timedelta, got {value!r}")
    return value


def count_seats(limit: int | None, seats: Iterable[Seat]) -> SeatCounts:
    """The live ``seats`` of one product counted by status, against ``limit``."""
    by_status = dict.fromkeys(SeatStatus, 0)
    for seat in seats:
        by_status[seat.status] += 1
    return SeatCounts(
        limit=limit,
        held=by_status[SeatStatus.HELD],
        reserved=by_status[SeatStatus.RESERVED],
        offered=by_status[SeatStatus.OFFERED],
    )


def has_free_seat(limit: int | None, seats: Iterable[Seat]) -> bool:
    """Whether one more seat may be taken: no limit, or fewer live seats than the limit."""
    if limit is None:
        return True
    return sum(1 for seat in seats if seat.live) < limit


def in_line(entries: Iterable[WaitlistEntry]) -> list[WaitlistEntry]:
    """The waiting entries in the order they get offers: by join time, then by id."""
    waiting = (e for e in entries if e.status is WaitlistStatus.WAITING)
    return sorted(waiting, key=lambda e: (e.joined_at, e.id))


def offers_due(
    limit: int | None, seats: Iterable[Seat], entries: Iterable[WaitlistEntry]
) -> list[WaitlistEntry]:
    """The entries that get an offer now: the first of the line, one per free seat.

    Without a limit no one waits for a seat, so no offer is due.
    """
    if limit is None:
        return []
    free = count_seats(limit, (s for s in seats if s.live)).free
    assert free is not None  # noqa: S101 - a limit was given
    return in_line(entries)[:free]


def expired(deadline: datetime | None, now: datetime) -> bool:
    """Whether something due to lapse at ``deadline`` has lapsed at ``now`` (None: never)."""
    return deadline is not None and deadline <= now
