"""The seat rules: the limit, counting, the line, offers; and random histories against them.

The property tests drive the pure rules and the seat transitions through
random sequences of enroll / pay / cancel / join / accept / expire, the way
the service combines them, and check after every step that the live seats
never exceed the limit and that offers go out in join order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrollpay.domain import transitions as t
from enrollpay.domain.seats import (
    Seat,
    SeatCounts,
    SeatStatus,
    WaitlistEntry,
    WaitlistStatus,
    check_offer_ttl,
    check_seat_limit,
    count_seats,
    expired,
    has_free_seat,
    in_line,
    offers_due,
)
from enrollpay.errors import InvalidInputError

AT = datetime(2027, 1, 1, 9, tzinfo=UTC)
TTL = timedelta(hours=48)


def seat(n: int, status: SeatStatus = SeatStatus.HELD) -> Seat:
    """Seat number ``n`` of p1 in ``status``."""
    return attrs.evolve(
        t.reserve_seat(
            seat_id=f"seat_{n}", product_id="p1", user_id=f"u{n}", enrollment_id=f"enr_{n}",
            paid=True, at=AT,
        ).record,
        status=status,
    )  # fmt: skip


def entry(n: str, joined: datetime = AT) -> WaitlistEntry:
    """A waiting entry ``wl_<n>`` that joined at ``joined``."""
    return t.join_waitlist(entry_id=f"wl_{n}", product_id="p1", user_id=f"w{n}", at=joined).record


@pytest.mark.parametrize("value", [None, 0, 1, 30])
def test_a_seat_limit_is_none_or_a_whole_number(value: int | None) -> None:
    """None (no limit) and ints >= 0 are accepted as given."""
    assert check_seat_limit(value) == value


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_a_bad_seat_limit_is_refused(value: object) -> None:
    """Negative, fractional, text and bool limits are typed errors."""
    with pytest.raises(InvalidInputError, match="seat_limit"):
        check_seat_limit(value)


def test_an_offer_lasts_a_positive_time() -> None:
    """A positive timedelta passes; zero, negative and non-timedeltas are refused."""
    assert check_offer_ttl(TTL) == TTL
    for bad in (timedelta(0), -TTL, 48):
        with pytest.raises(InvalidInputError, match="seat_offer_ttl"):
            check_offer_ttl(bad)


def test_seats_are_counted_by_holder_and_free_never_goes_below_zero() -> None:
    """Held, reserved and offered count; free is the rest of the limit, or None without one."""
    seats = [seat(1), seat(2, SeatStatus.RESERVED), seat(3, SeatStatus.OFFERED), seat(4)]
    counts = count_seats(5, seats)
    assert counts == SeatCounts(limit=5, held=2, reserved=1, offered=1)
    assert (counts.taken, counts.free) == (4, 1)
    assert count_seats(2, seats).free == 0  # a lowered limit: no seat is taken away
    assert count_seats(None, seats).free is None


def test_a_free_seat_is_one_below_the_limit_counting_live_seats_only() -> None:
    """Released seats do not count; no limit always has room; a zero limit never does."""
    live, gone = seat(1), seat(2, SeatStatus.RELEASED)
    assert has_free_seat(2, [live, gone])
    assert not has_free_seat(1, [live, gone])
    assert has_free_seat(None, [live])
    assert not has_free_seat(0, [])


def test_the_line_is_by_join_time_then_id_and_only_waiting_entries() -> None:
    """Ties on join time go by id; offered and ended entries are not in line."""
    b, a = entry("b"), entry("a")
    early = entry("z", AT - timedelta(minutes=1))
    gone = attrs.evolve(entry("c"), status=WaitlistStatus.EXPIRED)
    assert in_line([b, gone, a, early]) == [early, a, b]


def test_offers_are_due_one_per_free_seat_to_the_first_in_line() -> None:
    """Two free seats, three waiting: the first two get offers; none without a limit or seat."""
    line = [entry("c"), entry("a"), entry("b")]
    assert [e.id for e in offers_due(3, [seat(1)], line)] == ["wl_a", "wl_b"]
    assert offers_due(1, [seat(1)], line) == []
    assert offers_due(None, [], line) == []
    assert offers_due(1, [seat(1), seat(2, SeatStatus.RELEASED)], line) == []


def test_a_deadline_lapses_at_its_time() -> None:
    """At or after the deadline it has lapsed; before, or without one, not."""
    assert expired(AT, AT)
    assert not expired(AT, AT - timedelta(seconds=1))
    assert not expired(None, AT)


# -- random histories -----------------------------------------------------------------


@attrs.define
class Book:
    """One product's seats and line, moved only by the rules and transitions under test."""

    limit: int
    seats: dict[str, Seat] = attrs.Factory(dict)
    entries: dict[str, WaitlistEntry] = attrs.Factory(dict)
    offered_order: list[str] = attrs.Factory(list)
    now: datetime = AT
    n: int = 0

    def new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:04d}"

    def live(self) -> list[Seat]:
        return [s for s in self.seats.values() if s.live]

    def fill(self) -> None:
        for waiting in offers_due(self.limit, self.live(), self.entries.values()):
            entry_change, seat_change = t.offer_seat(
                waiting, seat_id=self.new_id("seat"), at=self.now, ttl=TTL
            )
            self.entries[waiting.id] = entry_change.record
            self.seats[seat_change.record.id] = seat_change.record
            self.offered_order.append(waiting.id)

    def enroll(self, paid: bool) -> None:
        if has_free_seat(self.limit, self.live()):
            change = t.reserve_seat(
                seat_id=self.new_id("seat"), product_id="p1", user_id=self.new_id("u"),
                enrollment_id=self.new_id("enr"), paid=paid, at=self.now,
            )  # fmt: skip
            self.seats[change.record.id] = change.record
        else:
            joined = t.join_waitlist(
                entry_id=self.new_id("wl"), product_id="p1", user_id=self.new_id("u"),
                at=self.now,
            ).record  # fmt: skip
            self.entries[joined.id] = joined

    def pick(self, index: int, status: SeatStatus) -> Seat | None:
        found = sorted(s.id for s in self.live() if s.status is status)
        return self.seats[found[index % len(found)]] if found else None

    def pay(self, index: int) -> None:
        if (found := self.pick(index, SeatStatus.RESERVED)) is not None:
            self.seats[found.id] = t.hold_seat(found, at=self.now).record

    def cancel(self, index: int) -> None:
        holders = sorted(s.id for s in self.live() if s.enrollment_id is not None)
        if holders:
            found = self.seats[holders[index % len(holders)]]
            self.seats[found.id] = t.release_seat(found, reason="cancelled", at=self.now).record
            self.fill()

    def accept(self, index: int, paid: bool) -> None:
        if (found := self.pick(index, SeatStatus.OFFERED)) is not None:
            assert found.entry_id is not None
            offer = self.entries[found.entry_id]
            entry_change, seat_change = t.accept_seat_offer(
                offer, found, enrollment_id=self.new_id("enr"), paid=paid, at=self.now
            )
            self.entries[offer.id] = entry_change.record
            self.seats[found.id] = seat_change.record

    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        for lapsed in [s for s in self.live() if expired(s.expires_at, self.now)]:
            assert lapsed.entry_id is not None
            entry_change, seat_change = t.expire_seat_offer(
                self.entries[lapsed.entry_id], lapsed, at=self.now
            )
            self.entries[lapsed.entry_id] = entry_change.record
            self.seats[lapsed.id] = seat_change.record
        self.fill()


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("enroll"), st.booleans()),
        st.tuples(st.just("pay"), st.integers(0, 20)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("accept"), st.integers(0, 20), st.booleans()),
        st.tuples(st.just("advance"), st.integers(1, 60)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(0, 5), operations=OPERATIONS)
def test_random_histories_never_oversell_and_offer_in_join_order(
    limit: int, operations: list[tuple[object, ...]]
) -> None:
    """After every step: live seats <= limit, one offered seat per offered entry, offers in line."""
    book = Book(limit)
    for op in operations:
        getattr(book, str(op[0]))(*op[1:])
        counts = count_seats(limit, book.live())
        assert counts.taken <= limit
        offered = {e.id for e in book.entries.values() if e.status is WaitlistStatus.OFFERED}
        assert offered == {s.entry_id for s in book.live() if s.status is SeatStatus.OFFERED}
        # A student still waits only while no seat is free for them.
        assert not in_line(book.entries.values()) or counts.free == 0
    joined = sorted(book.entries.values(), key=lambda e: (e.joined_at, e.id))
    ever_offered = [e.id for e in joined if e.status is not WaitlistStatus.WAITING]
    assert book.offered_order == ever_offered
