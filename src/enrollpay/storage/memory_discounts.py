"""Coupons, redemptions and scholarships of :class:`~enrollpay.storage.memory.InMemoryStore`.

Plain containers among the store's tables, copied with them at the start
of each transaction. The store runs one transaction at a time (its lock),
so checking the cap and counting a redemption cannot interleave with
another unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from enrollpay.domain.discounts import Coupon, Scholarship
from enrollpay.errors import DuplicateError
from enrollpay.ports.discounts import Redemption

if TYPE_CHECKING:
    from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryDiscounts"]


class MemoryDiscounts:
    """The discount methods of an in-memory transaction."""

    _t: MemoryTables

    def add_coupon(self, coupon: Coupon) -> None:
        """Insert a coupon."""
        if coupon.code in self._t.coupons:
            raise DuplicateError("coupon code", coupon.code)
        self._t.coupons[coupon.code] = coupon

    def get_coupon(self, code: str) -> Coupon | None:
        """The coupon with this code."""
        return self._t.coupons.get(code)

    def list_coupons(self, *, active: bool | None = None) -> list[Coupon]:
        """Coupons by code."""
        found = (c for c in self._t.coupons.values() if active is None or c.active == active)
        return sorted(found, key=lambda c: c.code)

    def set_coupon_active(self, code: str, active: bool) -> Coupon | None:
        """Switch a coupon on or off."""
        coupon = self._t.coupons.get(code)
        if coupon is None:
            return None
        coupon = self._t.coupons[code] = attrs.evolve(coupon, active=active)
        return coupon

    def redeem_coupon(
        self, code: str, *, user_id: str, enrollment_id: str, at: datetime
    ) -> Redemption:
        """Take one redemption if the coupon is active, below its cap, and new to the user."""
        coupon = self._t.coupons.get(code)
        if coupon is None:
            return "missing"
        if not coupon.active:
            return "inactive"
        if coupon.exhausted:
            return "exhausted"
        redemptions = self._t.redemptions
        if coupon.once_per_student and any(
            c == code and u == user_id for c, u, _, _ in redemptions
        ):
            return "already_redeemed"
        if any(c == code and e == enrollment_id for c, _, e, _ in redemptions):
            raise DuplicateError("coupon redemption", (code, enrollment_id))
        self._t.coupons[code] = attrs.evolve(coupon, redeemed=coupon.redeemed + 1)
        redemptions.append((code, user_id, enrollment_id, at))
        return "redeemed"

    def coupon_redemptions(self, code: str) -> list[tuple[str, str]]:
        """``(user_id, enrollment_id)`` of each redemption, oldest first."""
        found = [(at, u, e) for c, u, e, at in self._t.redemptions if c == code]
        return [(u, e) for _, u, e in sorted(found, key=lambda r: (r[0], r[2]))]

    def add_scholarship(self, scholarship: Scholarship) -> None:
        """Insert a scholarship."""
        if scholarship.id in self._t.scholarships:
            raise DuplicateError("scholarship", scholarship.id)
        self._t.scholarships[scholarship.id] = scholarship

    def get_scholarship(self, scholarship_id: str) -> Scholarship | None:
        """The scholarship with this id."""
        return self._t.scholarships.get(scholarship_id)

    def list_scholarships(self, *, user_id: str | None = None) -> list[Scholarship]:
        """Scholarships, oldest grant first."""
        found = (
            s for s in self._t.scholarships.values() if user_id is None or s.user_id == user_id
        )
        return sorted(found, key=lambda s: (s.granted_at, s.id))

    def claim_scholarship(self, scholarship_id: str, *, enrollment_id: str) -> bool:
        """Mark an unused scholarship used."""
        found = self._t.scholarships.get(scholarship_id)
        if found is None or found.enrollment_id is not None:
            return False
        self._t.scholarships[scholarship_id] = attrs.evolve(found, enrollment_id=enrollment_id)
        return True
