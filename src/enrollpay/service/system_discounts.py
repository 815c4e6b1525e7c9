"""Discount methods of :class:`~enrollpay.PaymentSystem`: coupons and scholarships.

Each is a function of the system (``self``) that delegates to
:mod:`enrollpay.service.discounts`; :mod:`enrollpay.service.system`
attaches them to the class by name. ``enroll(..., coupon=, scholarship=)``
applies them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from enrollpay.domain.discounts import Coupon, Scholarship
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan
from enrollpay.service import discounts
from enrollpay.service.discounts import DiscountPreview

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = [
    "create_coupon",
    "deactivate_coupon",
    "grant_scholarship",
    "list_coupons",
    "list_scholarships",
    "preview_discount",
]


def create_coupon(self: PaymentSystem, coupon: Coupon, *, actor: str = "system") -> Coupon:
    """Register a coupon (audited); ``DuplicateError`` if its code is taken."""
    return discounts.create_coupon(self._ctx, coupon, actor=actor)


def list_coupons(self: PaymentSystem, *, active: bool | None = None) -> list[Coupon]:
    """Every coupon by code, with its redemption count."""
    return discounts.list_coupons(self._ctx, active=active)


def deactivate_coupon(self: PaymentSystem, code: str, *, actor: str = "system") -> Coupon:
    """Stop a coupon applying to new enrollments (audited); ``CouponNotFoundError``."""
    return discounts.deactivate_coupon(self._ctx, code, actor=actor)


def grant_scholarship(
    self: PaymentSystem,
    *,
    user_id: str,
    reason: str,
    actor: str,
    percent_off: int | None = None,
    amount_off: Money | None = None,
    product_id: str | None = None,
) -> Scholarship:
    """Grant a student a reduction (basis points or an amount) for one enrollment (audited)."""
    return discounts.grant_scholarship(
        self._ctx,
        user_id=user_id,
        reason=reason,
        actor=actor,
        percent_off=percent_off,
        amount_off=amount_off,
        product_id=product_id,
    )


def list_scholarships(self: PaymentSystem, *, user_id: str | None = None) -> list[Scholarship]:
    """Scholarships, oldest grant first, optionally of one student."""
    return discounts.list_scholarships(self._ctx, user_id=user_id)


def preview_discount(
    self: PaymentSystem,
    product_id: str,
    *,
    user_id: str = "preview",
    coupon: str | None = None,
    scholarship: str | None = None,
    plan: PaymentPlan | None = None,
    start: date | None = None,
    currency: str | None = None,
) -> DiscountPreview:
    """The discounted price and schedule an enrollment would get (writes nothing).

    ``currency``: the student's (None: the product's default price).
    """
    return discounts.preview_discount(
        self._ctx,
        product_id,
        user_id=user_id,
        coupon=coupon,
        scholarship=scholarship,
        plan=plan,
        start=start,
        currency=currency,
    )
