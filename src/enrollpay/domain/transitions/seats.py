"""Transitions of seats and waitlist entries (:data:`~.table.SEAT`, :data:`~.table.WAITLIST`).

A seat is made ``reserved`` by enrolling (``held`` at once when nothing is
due at enrollment) or ``offered`` to the next student in line; ``hold``
marks the first payment, ``take_offer`` turns an offer into the new
enrollment's seat, ``release`` frees it. A waitlist entry starts
``waiting``, is ``offered`` a seat, and ends ``accepted`` or ``expired``.

Events: ``seat.reserved``, ``seat.held``, ``seat.released``,
``waitlist.joined``, ``seat.offered``, ``seat.offer_accepted``,
``seat.offer_expired``. Seat events name the enrollment when there is one;
waitlist events name none (the student has no enrollment yet).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.seats import Seat, SeatStatus, WaitlistEntry, WaitlistStatus
from enrollpay.domain.transitions.table import SEAT, WAITLIST
from enrollpay.errors import InvalidInputError

__all__ = [
    "accept_seat_offer",
    "expire_seat_offer",
    "hold_seat",
    "join_waitlist",
    "offer_seat",
    "release_seat",
    "reserve_seat",
]

#: Why a seat is released, as ``seat.released`` says.
RELEASE_REASONS = frozenset({"cancelled", "defaulted", "offer_expired"})


def _seat_data(seat: Seat) -> dict[str, Any]:
    return {
        "seat_id": seat.id,
        "product_id": seat.product_id,
        "user_id": seat.user_id,
        "status": str(seat.status),
    }


def _entry_data(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "product_id": entry.product_id,
        "user_id": entry.user_id,
        "joined_at": entry.joined_at.isoformat(),
    }


def reserve_seat(
    *,
    seat_id: str,
    product_id: str,
    user_id: str,
    enrollment_id: str,
    paid: bool,
    at: datetime,
) -> Change[Seat]:
    """A new enrollment's seat: ``held`` when nothing is due first (``paid``), else ``reserved``."""
    status = SeatStatus.HELD if paid else SeatStatus.RESERVED
    seat = Seat(
        id=seat_id,
        product_id=product_id,
        user_id=user_id,
        status=status,
        taken_at=at,
        updated_at=at,
        enrollment_id=enrollment_id,
    )
    return Change(seat, (EventDraft("seat.reserved", enrollment_id, at, _seat_data(seat)),))


def hold_seat(seat: Seat, *, at: datetime) -> Change[Seat]:
    """A reserved seat becomes held: its enrollment's first payment succeeded."""
    status = SEAT.target_for(seat.id, "hold", seat.status)
    held = attrs.evolve(seat, status=status, updated_at=at)
    return Change(held, (EventDraft("seat.held", seat.enrollment_id, at, _seat_data(held)),))


def release_seat(seat: Seat, *, reason: str, at: datetime) -> Change[Seat]:
    """A seat stops counting: its enrollment ended (``reason``) or its offer lapsed."""
    if reason not in RELEASE_REASONS:
        raise InvalidInputError(f"a seat is released for one of {sorted(RELEASE_REASONS)}")
    status = SEAT.target_for(seat.id, "release", seat.status)
    released = attrs.evolve(seat, status=status, updated_at=at)
    data = {**_seat_data(released), "reason": reason}
    return Change(released, (EventDraft("seat.released", seat.enrollment_id, at, data),))


def join_waitlist(
    *, entry_id: str, product_id: str, user_id: str, at: datetime
) -> Change[WaitlistEntry]:
    """A student joins a product's waitlist (``waitlist.joined``)."""
    entry = WaitlistEntry(
        id=entry_id,
        product_id=product_id,
        user_id=user_id,
        status=WaitlistStatus.WAITING,
        joined_at=at,
        updated_at=at,
    )
    return Change(entry, (EventDraft("waitlist.joined", None, at, _entry_data(entry)),))


def offer_seat(
    entry: WaitlistEntry, *, seat_id: str, at: datetime, ttl: timedelta
) -> tuple[Change[WaitlistEntry], Change[Seat]]:
    """The next student in line is offered a seat until ``at + ttl`` (``seat.offered``)."""
    status = WAITLIST.target_for(entry.id, "offer", entry.status)
    until = at + ttl
    offered = attrs.evolve(
        entry, status=status, seat_id=seat_id, offered_at=at, offer_expires_at=until, updated_at=at
    )
    seat = Seat(
        id=seat_id,
        product_id=entry.product_id,
        user_id=entry.user_id,
        status=SeatStatus.OFFERED,
        taken_at=at,
        updated_at=at,
        entry_id=entry.id,
        expires_at=until,
    )
    data = {**_entry_data(offered), "seat_id": seat_id, "expires_at": until.isoformat()}
    return Change(offered, (EventDraft("seat.offered", None, at, data),)), Change(seat)


def _check_pair(entry: WaitlistEntry, seat: Seat) -> None:
    if seat.entry_id != entry.id or entry.seat_id != seat.id:
        raise InvalidInputError(f"seat {seat.id!r} is not the one offered by entry {entry.id!r}")


def accept_seat_offer(
    entry: WaitlistEntry, seat: Seat, *, enrollment_id: str, paid: bool, at: datetime
) -> tuple[Change[WaitlistEntry], Change[Seat]]:
    """The offered student enrolled: the seat becomes the enrollment's (``seat.offer_accepted``).

    ``paid``: nothing was due at enrollment, so the seat is held at once.
    """
    _check_pair(entry, seat)
    entry_status = WAITLIST.target_for(entry.id, "accept", entry.status)
    wanted = SeatStatus.HELD if paid else SeatStatus.RESERVED
    seat_status = SEAT.target_for(seat.id, "take_offer", seat.status, wanted)
    accepted = attrs.evolve(entry, status=entry_status, enrollment_id=enrollment_id, updated_at=at)
    taken = attrs.evolve(
        seat, status=seat_status, enrollment_id=enrollment_id, expires_at=None, updated_at=at
    )
    data = {**_entry_data(accepted), **_seat_data(taken)}
    event = EventDraft("seat.offer_accepted", enrollment_id, at, data)
    return Change(accepted, (event,)), Change(taken)


def expire_seat_offer(
    entry: WaitlistEntry, seat: Seat, *, at: datetime
) -> tuple[Change[WaitlistEntry], Change[Seat]]:
    """An offer lapsed unanswered: the entry ends, the seat is released for the next in line."""
    _check_pair(entry, seat)
    if seat.expires_at is None or seat.expires_at > at:
        raise InvalidInputError(f"the offer of seat {seat.id!r} runs until {seat.expires_at}")
    status = WAITLIST.target_for(entry.id, "expire", entry.status)
    lapsed = attrs.evolve(entry, status=status, updated_at=at)
    event = EventDraft("seat.offer_expired", None, at, _entry_data(lapsed))
    released = release_seat(seat, reason="offer_expired", at=at)
    return Change(lapsed, (event,)), released
