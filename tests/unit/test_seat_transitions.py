"""Transitions of seats and waitlist entries: each move, its events, and the refused starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from enrollpay.domain import transitions as t
from enrollpay.domain.seats import Seat, SeatStatus, WaitlistEntry, WaitlistStatus
from enrollpay.errors import IllegalTransitionError, InvalidInputError

AT = datetime(2027, 1, 1, 9, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
TTL = timedelta(hours=48)


def reserved(*, paid: bool = False) -> Seat:
    """A new enrollment's seat (held when ``paid``)."""
    return t.reserve_seat(
        seat_id="seat_1", product_id="p1", user_id="u1", enrollment_id="enr_1", paid=paid, at=AT
    ).record


def waiting(entry_id: str = "wl_1", user_id: str = "u2") -> WaitlistEntry:
    """A student who just joined the waitlist of p1."""
    return t.join_waitlist(entry_id=entry_id, product_id="p1", user_id=user_id, at=AT).record


def offered() -> tuple[WaitlistEntry, Seat]:
    """``waiting()`` offered seat_9 at AT."""
    entry, seat = t.offer_seat(waiting(), seat_id="seat_9", at=AT, ttl=TTL)
    return entry.record, seat.record


def test_reserving_a_seat_for_an_enrollment_announces_it() -> None:
    """Reserved while the first payment is due, held at once when nothing is; seat.reserved."""
    change = t.reserve_seat(
        seat_id="seat_1", product_id="p1", user_id="u1", enrollment_id="enr_1", paid=False, at=AT
    )
    assert change.record == Seat(
        id="seat_1",
        product_id="p1",
        user_id="u1",
        status=SeatStatus.RESERVED,
        taken_at=AT,
        updated_at=AT,
        enrollment_id="enr_1",
    )
    (event,) = change.events
    assert (event.kind, event.enrollment_id, event.at) == ("seat.reserved", "enr_1", AT)
    assert event.data == {
        "seat_id": "seat_1",
        "product_id": "p1",
        "user_id": "u1",
        "status": "reserved",
    }
    assert change.record.live
    assert reserved(paid=True).status is SeatStatus.HELD


def test_a_reserved_seat_is_held_once() -> None:
    """hold: reserved -> held with seat.held; a held seat cannot be held again."""
    change = t.hold_seat(reserved(), at=LATER)
    assert (change.record.status, change.record.updated_at) == (SeatStatus.HELD, LATER)
    assert [(e.kind, e.enrollment_id, e.data["status"]) for e in change.events] == [
        ("seat.held", "enr_1", "held")
    ]
    with pytest.raises(IllegalTransitionError, match="hold"):
        t.hold_seat(change.record, at=LATER)


@pytest.mark.parametrize("reason", ["cancelled", "defaulted"])
def test_a_seat_is_released_with_its_reason(reason: str) -> None:
    """release: any live seat -> released, seat.released names why; not twice."""
    change = t.release_seat(reserved(paid=True), reason=reason, at=LATER)
    assert change.record.status is SeatStatus.RELEASED
    assert not change.record.live
    (event,) = change.events
    assert (event.kind, event.data["reason"], event.data["status"]) == (
        "seat.released",
        reason,
        "released",
    )
    with pytest.raises(IllegalTransitionError, match="release"):
        t.release_seat(change.record, reason=reason, at=LATER)


def test_a_release_needs_a_known_reason() -> None:
    """An unknown reason is bad input."""
    with pytest.raises(InvalidInputError, match="released for one of"):
        t.release_seat(reserved(), reason="whim", at=LATER)


def test_joining_the_waitlist_announces_it_without_an_enrollment() -> None:
    """A new entry waits; waitlist.joined carries the entry and no enrollment id."""
    change = t.join_waitlist(entry_id="wl_1", product_id="p1", user_id="u2", at=AT)
    assert change.record.status is WaitlistStatus.WAITING
    assert change.record.open
    (event,) = change.events
    assert (event.kind, event.enrollment_id) == ("waitlist.joined", None)
    assert event.data == {
        "entry_id": "wl_1",
        "product_id": "p1",
        "user_id": "u2",
        "joined_at": AT.isoformat(),
    }


def test_an_offer_makes_an_offered_seat_that_lapses_after_the_ttl() -> None:
    """offer: waiting -> offered with the seat and expiry; the seat is offered, live, for it."""
    entry_change, seat_change = t.offer_seat(waiting(), seat_id="seat_9", at=AT, ttl=TTL)
    entry, seat = entry_change.record, seat_change.record
    assert (entry.status, entry.seat_id, entry.offered_at, entry.offer_expires_at) == (
        WaitlistStatus.OFFERED,
        "seat_9",
        AT,
        AT + TTL,
    )
    assert (seat.status, seat.entry_id, seat.expires_at, seat.user_id, seat.enrollment_id) == (
        SeatStatus.OFFERED,
        "wl_1",
        AT + TTL,
        "u2",
        None,
    )
    assert seat_change.events == ()
    (event,) = entry_change.events
    assert (event.kind, event.data["seat_id"], event.data["expires_at"]) == (
        "seat.offered",
        "seat_9",
        (AT + TTL).isoformat(),
    )
    with pytest.raises(IllegalTransitionError, match="offer"):
        t.offer_seat(entry, seat_id="seat_10", at=AT, ttl=TTL)


@pytest.mark.parametrize(
    ("paid", "status"), [(False, SeatStatus.RESERVED), (True, SeatStatus.HELD)]
)
def test_accepting_an_offer_gives_the_seat_to_the_new_enrollment(
    paid: bool, status: SeatStatus
) -> None:
    """Accept + take_offer: the entry is accepted, the seat the enrollment's (no expiry)."""
    entry, seat = offered()
    entry_change, seat_change = t.accept_seat_offer(
        entry, seat, enrollment_id="enr_2", paid=paid, at=LATER
    )
    assert (entry_change.record.status, entry_change.record.enrollment_id) == (
        WaitlistStatus.ACCEPTED,
        "enr_2",
    )
    assert not entry_change.record.open
    taken = seat_change.record
    assert (taken.status, taken.enrollment_id, taken.expires_at, taken.entry_id) == (
        status,
        "enr_2",
        None,
        "wl_1",
    )
    (event,) = entry_change.events
    assert (event.kind, event.enrollment_id, event.data["status"]) == (
        "seat.offer_accepted",
        "enr_2",
        str(status),
    )
    with pytest.raises(IllegalTransitionError, match="accept"):
        t.accept_seat_offer(entry_change.record, taken, enrollment_id="enr_2", paid=paid, at=LATER)


def test_an_offer_is_accepted_only_with_its_own_seat() -> None:
    """A seat offered for another entry (or an entry naming another seat) is refused."""
    entry, seat = offered()
    other = attrs.evolve(seat, entry_id="wl_other")
    with pytest.raises(InvalidInputError, match="not the one offered"):
        t.accept_seat_offer(entry, other, enrollment_id="enr_2", paid=False, at=LATER)
    with pytest.raises(InvalidInputError, match="not the one offered"):
        t.expire_seat_offer(attrs.evolve(entry, seat_id="seat_x"), seat, at=AT + TTL)


def test_a_lapsed_offer_ends_the_entry_and_releases_the_seat() -> None:
    """expire: offered -> expired (seat.offer_expired); the seat released (seat.released)."""
    entry, seat = offered()
    entry_change, seat_change = t.expire_seat_offer(entry, seat, at=AT + TTL)
    assert entry_change.record.status is WaitlistStatus.EXPIRED
    assert seat_change.record.status is SeatStatus.RELEASED
    assert [e.kind for e in entry_change.events] == ["seat.offer_expired"]
    assert [(e.kind, e.data["reason"]) for e in seat_change.events] == [
        ("seat.released", "offer_expired")
    ]
    with pytest.raises(IllegalTransitionError, match="expire"):
        t.expire_seat_offer(entry_change.record, seat, at=AT + TTL)


def test_an_offer_does_not_lapse_before_its_time_or_without_one() -> None:
    """Before the expiry (or for a seat without one) expiring is refused."""
    entry, seat = offered()
    with pytest.raises(InvalidInputError, match="runs until"):
        t.expire_seat_offer(entry, seat, at=AT + TTL - timedelta(seconds=1))
    with pytest.raises(InvalidInputError, match="runs until"):
        t.expire_seat_offer(entry, attrs.evolve(seat, expires_at=None), at=AT + TTL)
