"""The errors of seats and waitlists (see :mod:`enrollpay.domain.seats`).

Kept apart from :mod:`enrollpay.errors` (near the module size limit); every
class derives from the library's roots, so ``except EnrollpayError``,
``except LookupError`` and ``except ValueError`` catch them as usual.
"""

from __future__ import annotations

from datetime import datetime

from enrollpay.errors import DuplicateError, InvalidStateError, NotFoundError, StorageError

__all__ = [
    "AlreadyWaitlistedError",
    "NoSeatLimitError",
    "SeatOfferExpiredError",
    "SeatOfferNotFoundError",
    "SeatOfferNotOpenError",
    "SeatsFullError",
]


class SeatsFullError(InvalidStateError):
    """Every seat of the product is taken; the student may join its waitlist."""

    def __init__(self, product_id: str, seat_limit: int) -> None:
        super().__init__(
            f"product {product_id!r} is full: all {seat_limit} seat(s) are taken "
            "(join_waitlist puts the student in line)"
        )
        self.product_id = product_id
        self.seat_limit = seat_limit


class NoSeatLimitError(InvalidStateError):
    """The product has no seat limit, so it has no waitlist: enroll instead."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id!r} has no seat limit, so no waitlist")
        self.product_id = product_id


class AlreadyWaitlistedError(DuplicateError):
    """The student is on the product's waitlist already (waiting, or holding an offer)."""

    def __init__(self, user_id: str, product_id: str, entry_id: str | None) -> None:
        StorageError.__init__(
            self,
            f"user {user_id!r} is on the waitlist of product {product_id!r} already "
            f"(entry {entry_id!r})",
        )
        self.what = "waitlist entry"
        self.key = (user_id, product_id)
        self.user_id = user_id
        self.product_id = product_id
        self.entry_id = entry_id


class SeatOfferNotFoundError(NotFoundError):
    """No waitlist entry (offer) with this id."""

    kind = "seat offer"


class SeatOfferNotOpenError(InvalidStateError):
    """The entry holds no offer to accept (still waiting, accepted or expired); ``status`` says."""

    def __init__(self, offer_id: str, status: str) -> None:
        super().__init__(f"seat offer {offer_id!r} cannot be accepted: it is {status}")
        self.offer_id = offer_id
        self.status = status


class SeatOfferExpiredError(SeatOfferNotOpenError):
    """The offer's time ran out (the sweep passes its seat to the next in line)."""

    def __init__(self, offer_id: str, expired_at: datetime) -> None:
        InvalidStateError.__init__(
            self, f"seat offer {offer_id!r} expired at {expired_at.isoformat()}"
        )
        self.offer_id = offer_id
        self.status = "expired"
        self.expired_at = expired_at
