"""The errors of discounts: coupons and scholarships (see :mod:`enrollpay.domain.discounts`).

Kept apart from :mod:`enrollpay.errors` (which is near the module size
limit); every class derives from the same roots, so ``except ValueError``,
``except LookupError`` and ``except EnrollpayError`` catch them as usual.
"""

from __future__ import annotations

from enrollpay.errors import InvalidInputError, NotFoundError, PlanError

__all__ = [
    "CouponAlreadyRedeemedError",
    "CouponExhaustedError",
    "CouponNotApplicableError",
    "CouponNotFoundError",
    "DiscountError",
    "DiscountSpreadError",
    "ScholarshipNotApplicableError",
    "ScholarshipNotFoundError",
]


class DiscountError(InvalidInputError):
    """A coupon or scholarship is malformed, or cannot be applied here."""


class CouponNotApplicableError(DiscountError):
    """The coupon exists but does not apply to this enrollment; ``reason`` says why.

    Reasons: ``inactive``, ``expired``, ``product``, ``plan``, ``currency``,
    ``exhausted``, ``already_redeemed``.
    """

    def __init__(self, code: str, reason: str, detail: str = "") -> None:
        text = f"coupon {code!r} does not apply: {reason}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.code = code
        self.reason = reason


class CouponExhaustedError(CouponNotApplicableError):
    """Every redemption the coupon allows is taken."""

    def __init__(self, code: str, max_redemptions: int) -> None:
        super().__init__(code, "exhausted", f"all {max_redemptions} redemptions are used")
        self.max_redemptions = max_redemptions


class CouponAlreadyRedeemedError(CouponNotApplicableError):
    """A once-per-student coupon was redeemed by this student already."""

    def __init__(self, code: str, user_id: str) -> None:
        super().__init__(code, "already_redeemed", f"user {user_id!r} redeemed it already")
        self.user_id = user_id


class ScholarshipNotApplicableError(DiscountError):
    """The scholarship cannot be used for this enrollment; ``reason`` says why.

    Reasons: ``user``, ``product``, ``used``, ``currency``.
    """

    def __init__(self, scholarship_id: str, reason: str) -> None:
        super().__init__(f"scholarship {scholarship_id!r} does not apply: {reason}")
        self.scholarship_id = scholarship_id
        self.reason = reason


class DiscountSpreadError(DiscountError, PlanError):
    """Spreading the discount would leave a payment below the gateway's minimum charge."""


class CouponNotFoundError(NotFoundError):
    """No coupon with this code."""

    kind = "coupon"


class ScholarshipNotFoundError(NotFoundError):
    """No scholarship with this id."""

    kind = "scholarship"
