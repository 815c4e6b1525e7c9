"""Use cases of seats: the seat limit, seats taken and freed, the waitlist and its offers.

The rules are :mod:`enrollpay.domain.seats`; the state machine
(:mod:`enrollpay.domain.transitions.seats`) changes every status; the
store keeps the limit (:meth:`~enrollpay.ports.SeatRecords.reserve_seat`
adds a seat only while one is free, under the product's seat lock).

* Enrolling in a product with a limit reserves a seat in the enrollment's
  transaction (:func:`take_seat`), or raises :class:`SeatsFullError` and
  writes nothing. A seat is held at once when nothing is due at enrollment.
* The enrollment's first money (``installment.paid`` or
  ``installment.partially_paid``, or its activation) holds a reserved seat;
  its cancellation or default releases it (:func:`on_events`, called by
  the context for every event it stores, so every path that cancels does
  it). A freed seat is offered to the next student in line at once.
* An offer lasts ``SystemConfig.seat_offer_ttl``; the sweep
  (:func:`expire_seat_offers`) releases lapsed offers and offers the seat
  to the next in line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.records import Product
from enrollpay.domain.seats import (
    Seat,
    SeatCounts,
    SeatStatus,
    WaitlistEntry,
    WaitlistStatus,
    check_seat_limit,
    count_seats,
    expired,
    offers_due,
)
from enrollpay.errors import DuplicateEnrollmentError, ProductInactiveError, ProductNotFoundError
from enrollpay.errors_seats import (
    AlreadyWaitlistedError,
    NoSeatLimitError,
    SeatOfferExpiredError,
    SeatOfferNotFoundError,
    SeatOfferNotOpenError,
    SeatsFullError,
)
from enrollpay.ports import StoreTransaction
from enrollpay.service.base import check_text

if TYPE_CHECKING:
    from enrollpay.service.context import Context

__all__ = [
    "SeatsView",
    "expire_seat_offers",
    "fill_from_waitlist",
    "join_waitlist",
    "on_events",
    "seats_view",
    "set_seat_limit",
    "take_seat",
]

#: Events of an enrollment's first money: a reserved seat becomes held.
_HOLDING = frozenset({"installment.paid", "installment.partially_paid", "enrollment.activated"})
#: Events that end an enrollment's claim to its seat, with the reason given.
_RELEASING = {"enrollment.cancelled": "cancelled", "enrollment.defaulted": "defaulted"}


@attrs.frozen
class SeatsView:
    """A product's seats as ``seats`` shows them: counts, the line, the open offers."""

    product_id: str
    counts: SeatCounts
    seats: tuple[Seat, ...]
    waitlist: tuple[WaitlistEntry, ...]

    @property
    def offers(self) -> tuple[WaitlistEntry, ...]:
        """Entries holding an offer, in line order."""
        return tuple(e for e in self.waitlist if e.status is WaitlistStatus.OFFERED)

    @property
    def waiting(self) -> tuple[WaitlistEntry, ...]:
        """Entries still waiting, in line order."""
        return tuple(e for e in self.waitlist if e.status is WaitlistStatus.WAITING)


def _store_seat(ctx: Context, tx: StoreTransaction, change: Change[Seat], action: str) -> Seat:
    """Update a seat, emit its events, audit the move."""
    tx.update_seat(change.record)
    _announce(ctx, tx, change, action)
    return change.record


def _announce(ctx: Context, tx: StoreTransaction, change: Change[Seat], action: str) -> None:
    seat = change.record
    ctx.emit(tx, change.events)
    ctx.audit(
        tx,
        actor="system",
        action=action,
        entity_type="seat",
        entity_id=seat.id,
        data={
            "product_id": seat.product_id,
            "user_id": seat.user_id,
            "enrollment_id": seat.enrollment_id,
            "status": str(seat.status),
        },
        at=seat.updated_at,
    )


def _store_entry(ctx: Context, tx: StoreTransaction, change: Change[WaitlistEntry]) -> None:
    tx.update_waitlist_entry(change.record)
    ctx.emit(tx, change.events)


def set_seat_limit(
    ctx: Context, product_id: str, seat_limit: int | None, *, actor: str = "system"
) -> Product:
    """Set (or lift, with None) a product's seat limit; a raised limit offers seats at once.

    Lowering the limit below the seats taken takes no seat away: new
    enrollments wait until enough are freed.
    """
    check_text(product_id, "product_id")
    limit = check_seat_limit(seat_limit)
    ctx.authorize(actor, "set_seat_limit", product_id)
    now = ctx.now()
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        if product.seat_limit == limit:
            return product
        product = tx.set_seat_limit(product_id, limit)
        assert product is not None  # noqa: S101 - read just above, products are never deleted
        ctx.audit(
            tx,
            actor=actor,
            action="product.seat_limit_set",
            entity_type="product",
            entity_id=product_id,
            data={"seat_limit": limit},
        )
        fill_from_waitlist(ctx, tx, product, at=now)
    return product


def take_seat(
    ctx: Context,
    tx: StoreTransaction,
    product: Product,
    *,
    enrollment_id: str,
    user_id: str,
    paid: bool,
    offer_id: str | None,
    at: datetime,
) -> Seat | None:
    """A new enrollment's seat, in its transaction: the offered one, or a free one.

    None for a product without a limit (and no offer). ``paid``: nothing is
    due at enrollment, so the seat is held at once. Raises
    :class:`SeatsFullError` (the caller's transaction then writes nothing),
    or, for an offer, :class:`SeatOfferNotFoundError` /
    :class:`SeatOfferNotOpenError` / :class:`SeatOfferExpiredError`.
    """
    if offer_id is not None:
        return _take_offered_seat(
            ctx,
            tx,
            offer_id,
            product=product,
            user_id=user_id,
            enrollment_id=enrollment_id,
            paid=paid,
            at=at,
        )
    if product.seat_limit is None:
        return None
    change = transitions.reserve_seat(
        seat_id=ctx.new_id("seat"),
        product_id=product.id,
        user_id=user_id,
        enrollment_id=enrollment_id,
        paid=paid,
        at=at,
    )
    if not tx.reserve_seat(change.record):
        raise SeatsFullError(product.id, product.seat_limit)
    _announce(ctx, tx, change, "seat.reserved")
    return change.record


def _take_offered_seat(
    ctx: Context,
    tx: StoreTransaction,
    offer_id: str,
    *,
    product: Product,
    user_id: str,
    enrollment_id: str,
    paid: bool,
    at: datetime,
) -> Seat:
    tx.lock_seats(product.id)
    entry = tx.get_waitlist_entry(offer_id)
    if entry is None or entry.product_id != product.id or entry.user_id != user_id:
        raise SeatOfferNotFoundError(offer_id)
    if entry.status is not WaitlistStatus.OFFERED:
        raise SeatOfferNotOpenError(offer_id, str(entry.status))
    if expired(entry.offer_expires_at, at):
        assert entry.offer_expires_at is not None  # noqa: S101 - expired() said so
        raise SeatOfferExpiredError(offer_id, entry.offer_expires_at)
    seat = tx.get_seat(entry.seat_id or "")
    assert seat is not None  # noqa: S101 - an offered entry names its seat
    accepted, taken = transitions.accept_seat_offer(
        entry, seat, enrollment_id=enrollment_id, paid=paid, at=at
    )
    _store_entry(ctx, tx, accepted)
    return _store_seat(ctx, tx, taken, "seat.offer_accepted")


def on_events(ctx: Context, tx: StoreTransaction, events: Sequence[EventDraft]) -> None:
    """Hold or release the seat of the enrollments these stored events are about."""
    for event in events:
        eid = event.enrollment_id
        if eid is None or (event.kind not in _HOLDING and event.kind not in _RELEASING):
            continue
        seat = tx.seat_of_enrollment(eid)
        if seat is None:
            continue
        if event.kind in _RELEASING:
            _release(ctx, tx, seat, reason=_RELEASING[event.kind], at=event.at)
        elif seat.status is SeatStatus.RESERVED:
            _store_seat(ctx, tx, transitions.hold_seat(seat, at=event.at), "seat.held")


def _release(ctx: Context, tx: StoreTransaction, seat: Seat, *, reason: str, at: datetime) -> None:
    tx.lock_seats(seat.product_id)
    _store_seat(ctx, tx, transitions.release_seat(seat, reason=reason, at=at), "seat.released")
    product = tx.get_product(seat.product_id)
    assert product is not None  # noqa: S101 - a seat's product is never deleted
    fill_from_waitlist(ctx, tx, product, at=at)


def fill_from_waitlist(
    ctx: Context, tx: StoreTransaction, product: Product, *, at: datetime
) -> int:
    """Offer each free seat to the next student in line (under the seat lock); how many."""
    seats = tx.lock_seats(product.id)
    made = 0
    for entry in offers_due(product.seat_limit, seats, tx.list_waitlist(product.id)):
        offered, seat = transitions.offer_seat(
            entry, seat_id=ctx.new_id("seat"), at=at, ttl=ctx.config.seat_offer_ttl
        )
        if not tx.reserve_seat(seat.record):  # the seat lock keeps the count: never
            break
        _store_entry(ctx, tx, offered)
        _announce(ctx, tx, seat, "seat.offered")
        made += 1
    return made


def join_waitlist(
    ctx: Context, *, user_id: str, product_id: str, actor: str | None = None
) -> WaitlistEntry:
    """Put a student in line for a product with a seat limit (an offer follows if a seat is free).

    Raises ``ProductNotFoundError``, ``ProductInactiveError``,
    :class:`NoSeatLimitError`, ``DuplicateEnrollmentError`` (the student
    is enrolled) or :class:`AlreadyWaitlistedError`; nothing is written then.
    """
    check_text(user_id, "user_id")
    check_text(product_id, "product_id")
    now = ctx.now()
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        if not product.active:
            raise ProductInactiveError(product_id)
        if product.seat_limit is None:
            raise NoSeatLimitError(product_id)
        _refuse_enrolled(tx, user_id, product_id)
        change = transitions.join_waitlist(
            entry_id=ctx.new_id("wl"), product_id=product_id, user_id=user_id, at=now
        )
        other = tx.add_waitlist_entry(change.record)
        if other is not None:
            raise AlreadyWaitlistedError(user_id, product_id, other.id)
        ctx.emit(tx, change.events)
        ctx.audit(
            tx,
            actor=actor or user_id,
            action="waitlist.joined",
            entity_type="waitlist_entry",
            entity_id=change.record.id,
            data={"product_id": product_id, "user_id": user_id},
        )
        fill_from_waitlist(ctx, tx, product, at=now)
        entry = tx.get_waitlist_entry(change.record.id)
    assert entry is not None  # noqa: S101 - just added
    return entry


def _refuse_enrolled(tx: StoreTransaction, user_id: str, product_id: str) -> None:
    existing = tx.find_open_enrollment(user_id, product_id)
    if existing is not None:
        raise DuplicateEnrollmentError(user_id, product_id, existing.id)


def expire_seat_offers(ctx: Context, now: datetime | None = None) -> list[WaitlistEntry]:
    """Release every lapsed offer and offer its seat to the next in line; the lapsed entries."""
    at = ctx.now() if now is None else now
    done: list[WaitlistEntry] = []
    with ctx.store.reader() as view:  # a sweep with nothing to do commits nothing
        lapsed = view.lapsed_offers(at)
    for peek in lapsed:
        with ctx.unit() as tx:
            tx.lock_seats(peek.product_id)
            seat = tx.get_seat(peek.id)
            assert seat is not None  # noqa: S101 - seats are never deleted
            if seat.status is not SeatStatus.OFFERED or not expired(seat.expires_at, at):
                continue  # accepted or expired meanwhile
            entry = tx.get_waitlist_entry(seat.entry_id or "")
            assert entry is not None  # noqa: S101 - an offered seat names its entry
            ended, released = transitions.expire_seat_offer(entry, seat, at=at)
            _store_entry(ctx, tx, ended)
            _store_seat(ctx, tx, released, "seat.offer_expired")
            product = tx.get_product(seat.product_id)
            assert product is not None  # noqa: S101
            fill_from_waitlist(ctx, tx, product, at=at)
            done.append(ended.record)
    return done


def seats_view(ctx: Context, product_id: str) -> SeatsView:
    """A product's seats: the counts, the live seats, and its open waitlist in order."""
    check_text(product_id, "product_id")
    with ctx.store.reader() as view:
        product = view.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        seats = view.list_seats(product_id)
        line = view.list_waitlist(product_id)
    return SeatsView(
        product_id=product_id,
        counts=count_seats(product.seat_limit, seats),
        seats=tuple(seats),
        waitlist=tuple(line),
    )
