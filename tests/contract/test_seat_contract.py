"""Seats and waitlists, in every store (memory, SQLite, PostgreSQL).

What the seat use cases rely on: a product's seat limit round-trips; a seat
is added only while the product's live seats are fewer than its limit (a
product without a limit always has room, a missing product none) and a
refused seat writes nothing; released seats stop counting; an enrollment's
live seat and lapsed offers are found; a user has one open waitlist entry
per product; the line comes back in join order (ties by id); everything
rolls back with its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest

from enrollpay.domain import transitions as t
from enrollpay.domain.seats import Seat, WaitlistEntry, WaitlistStatus
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.ports import Store, StoreTransaction

from .test_store_contract import PARIS, T0, a_product, read, write_then_fail

TTL = timedelta(hours=48)


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh store holding prod_1 with two seats, and prod_2 without a limit."""
    made = store_factory()
    with made.transaction() as tx:
        tx.put_product(a_product())
        tx.put_product(a_product(pid="prod_2", ext="course-2"))
        tx.set_seat_limit("prod_1", 2)
    return made


def a_seat(n: int, product: str = "prod_1", *, paid: bool = True) -> Seat:
    """Enrollment enr_<n>'s seat of ``product``, taken ``n`` minutes after T0."""
    return t.reserve_seat(
        seat_id=f"seat_{n}",
        product_id=product,
        user_id=f"u{n}",
        enrollment_id=f"enr_{n}",
        paid=paid,
        at=T0 + timedelta(minutes=n),
    ).record


def an_entry(name: str, user: str, minutes: int = 0, product: str = "prod_1") -> WaitlistEntry:
    """``user`` joins ``product``'s line ``minutes`` after T0."""
    at = T0 + timedelta(minutes=minutes)
    return t.join_waitlist(entry_id=name, product_id=product, user_id=user, at=at).record


def test_the_seat_limit_of_a_product_round_trips_and_a_put_keeps_it(store: Store) -> None:
    """A limit (and None, no limit) comes back as set; put_product never writes it."""
    assert read(store, lambda tx: tx.get_product("prod_1")).seat_limit == 2
    assert read(store, lambda tx: tx.get_product("prod_2")).seat_limit is None
    with store.transaction() as tx:
        assert tx.set_seat_limit("prod_1", 0) == a_product(seat_limit=0)
        assert tx.set_seat_limit("prod_missing", 3) is None
    assert read(store, lambda tx: tx.get_product("prod_1")) == a_product(seat_limit=0)
    with store.transaction() as tx:
        tx.put_product(a_product(name="Renamed", seat_limit=7))
        tx.put_product(a_product(pid="prod_3", ext="course-3", seat_limit=7))
    assert read(store, lambda tx: tx.get_product("prod_1")).seat_limit == 0
    assert read(store, lambda tx: tx.get_product("prod_1")).name == "Renamed"
    assert read(store, lambda tx: tx.get_product("prod_3")).seat_limit is None
    with store.transaction() as tx:
        tx.set_seat_limit("prod_1", None)
    assert read(store, lambda tx: tx.get_product("prod_1")) == a_product(name="Renamed")


def test_seats_are_added_while_one_is_free_and_come_back_as_stored(store: Store) -> None:
    """Two seats fit a limit of two; the third is refused and writes nothing."""
    with store.transaction() as tx:
        assert tx.reserve_seat(a_seat(1, paid=False))
        assert tx.reserve_seat(a_seat(2))
        assert not tx.reserve_seat(a_seat(3))
    assert read(store, lambda tx: tx.list_seats("prod_1")) == [a_seat(1, paid=False), a_seat(2)]
    assert read(store, lambda tx: tx.get_seat("seat_3")) is None
    assert read(store, lambda tx: tx.get_seat("seat_1")) == a_seat(1, paid=False)


def test_a_product_without_a_limit_always_has_room_and_a_missing_one_none(store: Store) -> None:
    """prod_2 (no limit) takes any number; an unknown product takes none."""
    with store.transaction() as tx:
        assert all(tx.reserve_seat(a_seat(n, "prod_2")) for n in range(1, 5))
        assert not tx.reserve_seat(a_seat(9, "prod_missing"))
    assert len(read(store, lambda tx: tx.list_seats("prod_2"))) == 4


def test_a_seat_id_is_unique(store: Store) -> None:
    """Reserving a seat id twice is a DuplicateError."""
    with store.transaction() as tx:
        tx.reserve_seat(a_seat(1))
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.reserve_seat(a_seat(1))


def test_released_seats_stop_counting_and_an_enrollment_finds_its_live_seat(
    store: Store,
) -> None:
    """After a release a new seat fits; the released one is kept but not listed."""
    with store.transaction() as tx:
        tx.reserve_seat(a_seat(1))
        tx.reserve_seat(a_seat(2))
    released = t.release_seat(a_seat(1), reason="cancelled", at=T0 + TTL).record
    with store.transaction() as tx:
        assert tx.seat_of_enrollment("enr_1") == a_seat(1)
        tx.update_seat(released)
        assert tx.seat_of_enrollment("enr_1") is None
        assert tx.reserve_seat(a_seat(3))
    assert [s.id for s in read(store, lambda tx: tx.list_seats("prod_1"))] == ["seat_2", "seat_3"]
    assert read(store, lambda tx: tx.get_seat("seat_1")) == released
    assert [s.id for s in read(store, lambda tx: tx.lock_seats("prod_1"))] == ["seat_2", "seat_3"]


def test_updating_a_missing_seat_or_entry_is_a_storage_error(store: Store) -> None:
    """Neither verb creates a record."""
    with pytest.raises(StorageError), store.transaction() as tx:
        tx.update_seat(a_seat(7))
    with pytest.raises(StorageError), store.transaction() as tx:
        tx.update_waitlist_entry(an_entry("wl_7", "w7"))


def test_one_open_entry_per_user_and_product_in_join_order(store: Store) -> None:
    """A second open entry returns the first and writes nothing; ties on time go by id."""
    with store.transaction() as tx:
        assert tx.add_waitlist_entry(an_entry("wl_b", "w2", 5)) is None
        assert tx.add_waitlist_entry(an_entry("wl_a", "w1", 5)) is None
        assert tx.add_waitlist_entry(an_entry("wl_c", "w3", 1)) is None
        assert tx.add_waitlist_entry(an_entry("wl_x", "w2", 9)) == an_entry("wl_b", "w2", 5)
        assert tx.add_waitlist_entry(an_entry("wl_other", "w2", 9, "prod_2")) is None
    line = read(store, lambda tx: tx.list_waitlist("prod_1"))
    assert [e.id for e in line] == ["wl_c", "wl_a", "wl_b"]
    assert read(store, lambda tx: tx.get_waitlist_entry("wl_x")) is None
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.add_waitlist_entry(an_entry("wl_a", "w9"))


def test_offers_round_trip_lapse_and_ended_entries_leave_the_open_line(store: Store) -> None:
    """An offered entry and its seat come back; lapsed offers are found; ended entries kept."""
    offered, seat = t.offer_seat(an_entry("wl_1", "w1"), seat_id="seat_o", at=T0, ttl=TTL)
    with store.transaction() as tx:
        tx.add_waitlist_entry(an_entry("wl_1", "w1"))
        tx.update_waitlist_entry(offered.record)
        assert tx.reserve_seat(seat.record)
    assert read(store, lambda tx: tx.get_waitlist_entry("wl_1")) == offered.record
    assert read(store, lambda tx: tx.get_seat("seat_o")).expires_at == T0 + TTL
    assert read(store, lambda tx: tx.lapsed_offers(T0 + TTL - timedelta(seconds=1))) == []
    assert read(store, lambda tx: tx.lapsed_offers((T0 + TTL).astimezone(PARIS))) == [seat.record]
    ended = attrs.evolve(offered.record, status=WaitlistStatus.EXPIRED)
    with store.transaction() as tx:
        tx.update_waitlist_entry(ended)
    assert read(store, lambda tx: tx.list_waitlist("prod_1")) == []
    assert read(store, lambda tx: tx.list_waitlist("prod_1", open_only=False)) == [ended]
    # The user may join again once the entry has ended.
    with store.transaction() as tx:
        assert tx.add_waitlist_entry(an_entry("wl_2", "w1", 60)) is None


def test_seats_and_entries_roll_back_with_their_transaction(store: Store) -> None:
    """Nothing of a failed unit of work stays."""

    def write(tx: StoreTransaction) -> None:
        tx.reserve_seat(a_seat(1))
        tx.add_waitlist_entry(an_entry("wl_1", "w1"))

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, write)
    assert read(store, lambda tx: tx.list_seats("prod_1")) == []
    assert read(store, lambda tx: tx.list_waitlist("prod_1")) == []
