"""Discounts: coupons and scholarships, who may use them, and how much they take off.

A discount changes the price before the schedule is built
(:mod:`enrollpay.domain.discount_spread` lays the discounted price over the
plan's payments). Amounts are integer minor units throughout: a percentage
is given in basis points (``2500`` is 25%), a fixed reduction as
:class:`~enrollpay.domain.money.Money` in each currency it applies to.

Rounding, at the gateway's ``granularity`` ``g`` (1 minor unit for most)::

    percent off  = round_half_up(price * bp / 10000 / g) * g
    fixed off    = floor(amount_off / g) * g        (never more than the coupon says)
    reduction    = min(off, price)                  (a discount never makes a price negative)

A scholarship and a coupon may both apply: the scholarship comes off the
list price first, the coupon off what is left. Discounts apply to full
payment and installment plans; a subscription's periods are priced by the
plan, so a discounted subscription is refused (:class:`DiscountError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from enrollpay.domain.money import Money, round_half_up
from enrollpay.domain.plans import PaymentPlan, Subscription
from enrollpay.errors import NaiveDatetimeError
from enrollpay.errors_discounts import (
    CouponExhaustedError,
    CouponNotApplicableError,
    DiscountError,
    ScholarshipNotApplicableError,
)

__all__ = [
    "BASIS_POINTS",
    "DISCOUNTABLE_PLAN_KINDS",
    "AppliedDiscount",
    "Coupon",
    "Scholarship",
    "apply_discounts",
    "normalise_code",
    "reduction",
]

#: 100% in basis points.
BASIS_POINTS: Final = 10_000
#: The plan kinds a discount may apply to (subscriptions are priced per period).
DISCOUNTABLE_PLAN_KINDS: Final = frozenset({"full", "installments"})
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")


def normalise_code(code: object) -> str:
    """A coupon code as stored: stripped, upper case, 1-64 of ``A-Z 0-9 _ -``."""
    if not isinstance(code, str) or not _CODE.fullmatch(code.strip().upper()):
        raise DiscountError(f"a coupon code is 1-64 letters, digits, '_' or '-', got {code!r}")
    return code.strip().upper()


def _check_bp(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= BASIS_POINTS:
        raise DiscountError(f"{attribute.name} must be an int in 1..{BASIS_POINTS}, got {value!r}")


def _check_positive_money(value: object, name: str) -> None:
    if not isinstance(value, Money) or value.minor <= 0:
        raise DiscountError(f"{name} must be positive Money, got {value!r}")


def _check_aware(_instance: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise NaiveDatetimeError(f"{attribute.name} must be a time-zone aware datetime")


def _opt_frozenset(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _money_tuple(value: Iterable[Money]) -> tuple[Money, ...]:
    return tuple(value)


def _check_kinds(_instance: object, _attribute: object, value: frozenset[str] | None) -> None:
    if value is not None and (not value or not value <= DISCOUNTABLE_PLAN_KINDS):
        raise DiscountError(f"plan_kinds must be among {sorted(DISCOUNTABLE_PLAN_KINDS)}")


def _check_count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DiscountError(f"{attribute.name} must be a non-negative int, got {value!r}")


def reduction(
    price: Money, *, percent_bp: int | None, amount_off: Money | None, granularity: int = 1
) -> Money:
    """What a percent (basis points) or a fixed amount takes off ``price`` (see the module)."""
    if percent_bp is not None:
        off = round_half_up(price.minor * percent_bp, BASIS_POINTS * granularity) * granularity
    else:
        assert amount_off is not None  # noqa: S101 - one of the two is set (validated)
        off = amount_off.minor // granularity * granularity
    return Money(min(off, price.minor), price.currency)


@attrs.frozen
class Coupon:
    """A code students enter at checkout for a reduction.

    Exactly one of ``percent_off`` (basis points) and ``amounts_off`` (one
    amount per currency it is valid in). ``max_redemptions`` caps the uses
    (None: no cap), ``redeemed`` counts them (the store keeps it);
    ``once_per_student`` allows one use per user. ``product_ids`` (internal
    or host ids) and ``plan_kinds`` restrict it when set; after
    ``expires_at`` it no longer applies.
    """

    code: str = attrs.field(converter=normalise_code)
    percent_off: int | None = attrs.field(default=None, validator=_check_bp)
    amounts_off: tuple[Money, ...] = attrs.field(default=(), converter=_money_tuple)
    expires_at: datetime | None = attrs.field(default=None, validator=_check_aware)
    max_redemptions: int | None = attrs.field(default=None, validator=_check_count)
    once_per_student: bool = True
    product_ids: frozenset[str] | None = attrs.field(default=None, converter=_opt_frozenset)
    plan_kinds: frozenset[str] | None = attrs.field(
        default=None, converter=_opt_frozenset, validator=_check_kinds
    )
    active: bool = True
    redeemed: int = attrs.field(default=0, validator=_check_count)
    created_at: datetime | None = attrs.field(default=None, validator=_check_aware)

    def __attrs_post_init__(self) -> None:
        if (self.percent_off is None) == (not self.amounts_off):
            raise DiscountError("a coupon takes off either a percent or fixed amounts")
        for amount in self.amounts_off:
            _check_positive_money(amount, "amounts_off")
        if len({a.currency for a in self.amounts_off}) != len(self.amounts_off):
            raise DiscountError("a coupon has at most one fixed amount per currency")
        if self.max_redemptions == 0:
            raise DiscountError("max_redemptions must be at least 1 (or None: no cap)")

    def amount_off(self, currency: str) -> Money | None:
        """The fixed amount taken off in ``currency`` (None: none in it, or a percent coupon)."""
        return next((a for a in self.amounts_off if a.currency == currency), None)

    @property
    def exhausted(self) -> bool:
        """Whether every redemption it allows is taken."""
        return self.max_redemptions is not None and self.redeemed >= self.max_redemptions

    def check(
        self, *, product_ids: Iterable[str], plan: PaymentPlan, currency: str, at: datetime
    ) -> None:
        """Raise :class:`CouponNotApplicableError` unless it applies to this purchase at ``at``.

        The redemption cap and once-per-student are the store's to enforce
        (under concurrency); :attr:`exhausted` is checked here too so that a
        preview tells the truth.
        """
        reason = ""
        if not self.active:
            reason = "inactive"
        elif self.expires_at is not None and at >= self.expires_at:
            reason = "expired"
        elif self.product_ids is not None and not self.product_ids & set(product_ids):
            reason = "product"
        elif self.plan_kinds is not None and plan.kind not in self.plan_kinds:
            reason = "plan"
        elif self.percent_off is None and self.amount_off(currency) is None:
            reason = "currency"
        if reason:
            raise CouponNotApplicableError(self.code, reason)
        if self.max_redemptions is not None and self.exhausted:
            raise CouponExhaustedError(self.code, self.max_redemptions)


@attrs.frozen
class Scholarship:
    """A reduction granted to one student by an administrator, for a reason.

    Exactly one of ``percent_off`` (basis points) and ``amount_off``.
    ``product_id`` (None: any product) restricts it; it is used by one
    enrollment (``enrollment_id`` once claimed).
    """

    id: str
    user_id: str
    reason: str
    granted_by: str
    granted_at: datetime = attrs.field(validator=_check_aware)
    percent_off: int | None = attrs.field(default=None, validator=_check_bp)
    amount_off: Money | None = None
    product_id: str | None = None
    enrollment_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.percent_off is None) == (self.amount_off is None):
            raise DiscountError("a scholarship takes off either a percent or a fixed amount")
        if self.amount_off is not None:
            _check_positive_money(self.amount_off, "amount_off")
        for name in ("id", "user_id", "reason", "granted_by"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise DiscountError(f"a scholarship needs a non-empty {name}")

    def check(self, *, user_id: str, product_ids: Iterable[str], currency: str) -> None:
        """Raise :class:`ScholarshipNotApplicableError` unless it applies to this purchase."""
        reason = ""
        if self.user_id != user_id:
            reason = "user"
        elif self.product_id is not None and self.product_id not in set(product_ids):
            reason = "product"
        elif self.enrollment_id is not None:
            reason = "used"
        elif self.amount_off is not None and self.amount_off.currency != currency:
            reason = "currency"
        if reason:
            raise ScholarshipNotApplicableError(self.id, reason)


@attrs.frozen
class AppliedDiscount:
    """A price before and after its discounts, and where each reduction came from."""

    list_price: Money
    coupon_off: Money
    scholarship_off: Money
    coupon_code: str | None = None
    scholarship_id: str | None = None

    @property
    def discount(self) -> Money:
        """Everything taken off."""
        return self.coupon_off + self.scholarship_off

    @property
    def price(self) -> Money:
        """What the student pays."""
        return self.list_price - self.discount

    @property
    def free(self) -> bool:
        """Whether nothing is left to pay (a 100% discount)."""
        return self.price.minor == 0


def apply_discounts(
    list_price: Money,
    *,
    user_id: str,
    product_ids: Iterable[str],
    plan: PaymentPlan,
    at: datetime,
    coupon: Coupon | None = None,
    scholarship: Scholarship | None = None,
    granularity: int = 1,
) -> AppliedDiscount:
    """Check that the discounts apply, then take them off: the scholarship first, the coupon next.

    ``product_ids`` are the product's internal and host ids (either may
    appear in a restriction). Typed errors name what does not apply.
    """
    ids = frozenset(product_ids)
    currency = list_price.currency
    zero = Money.zero(currency)
    if (coupon or scholarship) and isinstance(plan, Subscription):
        raise DiscountError(
            "discounts apply to full payment and installment plans, not subscriptions"
        )
    scholarship_off = coupon_off = zero
    if scholarship is not None:
        scholarship.check(user_id=user_id, product_ids=ids, currency=currency)
        scholarship_off = reduction(
            list_price,
            percent_bp=scholarship.percent_off,
            amount_off=scholarship.amount_off,
            granularity=granularity,
        )
    if coupon is not None:
        coupon.check(product_ids=ids, plan=plan, currency=currency, at=at)
        coupon_off = reduction(
            list_price - scholarship_off,
            percent_bp=coupon.percent_off,
            amount_off=coupon.amount_off(currency),
            granularity=granularity,
        )
    return AppliedDiscount(
        list_price=list_price,
        coupon_off=coupon_off,
        scholarship_off=scholarship_off,
        coupon_code=None if coupon is None else coupon.code,
        scholarship_id=None if scholarship is None else scholarship.id,
    )
