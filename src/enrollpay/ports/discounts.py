"""The discounts part of the write port: coupons, their redemptions, scholarships.

:class:`~enrollpay.ports.StoreTransaction` includes these verbs. A coupon's
redemption count is the store's to keep: :meth:`DiscountRecords.redeem_coupon`
takes a redemption only while the cap allows it, and concurrent units of
work never take more than the cap between them (PostgreSQL: a conditional
``UPDATE`` whose row lock holds until commit; SQLite: its single writer;
memory: its lock). A scholarship is claimed by one enrollment the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from enrollpay.domain.discounts import Coupon, Scholarship

__all__ = ["DiscountRecords", "Redemption"]

#: What :meth:`DiscountRecords.redeem_coupon` did.
Redemption = Literal["redeemed", "missing", "inactive", "exhausted", "already_redeemed"]


class DiscountRecords(Protocol):
    """Coupons and scholarships, within one unit of work."""

    def add_coupon(self, coupon: Coupon) -> None:
        """Insert a coupon (``DuplicateError`` if its code is taken)."""
        ...

    def get_coupon(self, code: str) -> Coupon | None:
        """The coupon with this (normalised) code, with its redemption count."""
        ...

    def list_coupons(self, *, active: bool | None = None) -> list[Coupon]:
        """Coupons by code, optionally only (in)active ones."""
        ...

    def set_coupon_active(self, code: str, active: bool) -> Coupon | None:
        """Switch a coupon on or off; the coupon as it is now (None: no such code)."""
        ...

    def redeem_coupon(
        self, code: str, *, user_id: str, enrollment_id: str, at: datetime
    ) -> Redemption:
        """Take one redemption of an active coupon for ``enrollment_id``, if allowed.

        ``"redeemed"``: the count went up by one and the redemption is
        recorded. Otherwise nothing is written: ``"missing"`` (no such
        code), ``"inactive"``, ``"exhausted"`` (the count is at the cap),
        ``"already_redeemed"`` (a once-per-student coupon this user
        redeemed before, in a committed unit of work or this one).
        """
        ...

    def coupon_redemptions(self, code: str) -> list[tuple[str, str]]:
        """The ``(user_id, enrollment_id)`` of every redemption of a coupon, oldest first."""
        ...

    def add_scholarship(self, scholarship: Scholarship) -> None:
        """Insert a scholarship (``DuplicateError`` if its id is taken)."""
        ...

    def get_scholarship(self, scholarship_id: str) -> Scholarship | None:
        """The scholarship with this id."""
        ...

    def list_scholarships(self, *, user_id: str | None = None) -> list[Scholarship]:
        """Scholarships, oldest grant first (then by id), optionally of one user."""
        ...

    def claim_scholarship(self, scholarship_id: str, *, enrollment_id: str) -> bool:
        """Mark an unused scholarship used by ``enrollment_id``; False if used (or missing)."""
        ...
