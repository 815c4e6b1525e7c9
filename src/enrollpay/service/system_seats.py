"""Seat methods of :class:`~enrollpay.PaymentSystem`: the seat limit, the waitlist, offers.

Each is a function of the system (``self``) that delegates to
:mod:`enrollpay.service.seats` (accepting an offer enrolls, through
:mod:`enrollpay.service.enroll`); :mod:`enrollpay.service.system` attaches
them to the class by name. ``enroll`` takes a seat by itself when the
product has a limit, or raises ``SeatsFullError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.records import Product
from enrollpay.domain.seats import WaitlistEntry
from enrollpay.errors_seats import SeatOfferNotFoundError
from enrollpay.service import enroll as enroll_case
from enrollpay.service import seats
from enrollpay.service.base import check_text
from enrollpay.service.results import EnrollmentResult
from enrollpay.service.seats import SeatsView

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = [
    "accept_seat_offer",
    "expire_seat_offers",
    "join_waitlist",
    "seats_of",
    "set_seat_limit",
]


def set_seat_limit(
    self: PaymentSystem, product_id: str, seat_limit: int | None, *, actor: str = "system"
) -> Product:
    """Set or lift (None) a product's seat limit (audited); a raised limit makes offers at once."""
    return seats.set_seat_limit(self._ctx, product_id, seat_limit, actor=actor)


def join_waitlist(
    self: PaymentSystem, user_id: str, product_id: str, *, actor: str | None = None
) -> WaitlistEntry:
    """Put a student in line for a full product; the entry (``offered`` if a seat was free).

    ``AlreadyWaitlistedError`` for a second open entry, ``NoSeatLimitError``
    for a product without a limit, ``DuplicateEnrollmentError`` for a
    student already enrolled.
    """
    return seats.join_waitlist(self._ctx, user_id=user_id, product_id=product_id, actor=actor)


def accept_seat_offer(
    self: PaymentSystem,
    offer_id: str,
    *,
    plan: PaymentPlan | None = None,
    start: date | None = None,
    metadata: Mapping[str, str] | None = None,
    coupon: str | None = None,
    scholarship: str | None = None,
) -> EnrollmentResult:
    """Enroll the student offered a seat (``offer_id``: their waitlist entry) with that seat.

    Like ``enroll`` otherwise. ``SeatOfferNotFoundError``,
    ``SeatOfferNotOpenError`` or ``SeatOfferExpiredError`` (its seat then
    goes to the next in line at the next sweep); nothing is written then.
    """
    check_text(offer_id, "offer_id")
    with self._ctx.unit() as tx:
        entry = tx.get_waitlist_entry(offer_id)
    if entry is None:
        raise SeatOfferNotFoundError(offer_id)
    return enroll_case.enroll(
        self._ctx,
        user_id=entry.user_id,
        product_id=entry.product_id,
        plan=plan,
        start=start,
        metadata=metadata,
        coupon=coupon,
        scholarship=scholarship,
        seat_offer=offer_id,
    )


def expire_seat_offers(self: PaymentSystem, now: datetime | None = None) -> list[WaitlistEntry]:
    """End the offers lapsed by ``now`` (the clock's time) and offer their seats on; the ended."""
    return seats.expire_seat_offers(self._ctx, now)


def seats_of(self: PaymentSystem, product_id: str) -> SeatsView:
    """A product's seats: limit, held, reserved, offered, free; live seats; the line in order."""
    return seats.seats_view(self._ctx, product_id)
