"""Use cases of discounts: coupons, scholarships, and the discount an enrollment gets.

Coupons are registered, listed and deactivated by an administrator;
scholarships are granted to one student, with a reason, by a named
administrator (both audited). At enrollment (:func:`discounted_lines`,
:func:`redeem`) the discount is checked, the schedule laid out for the
discounted price, and the coupon's redemption taken in the same store
transaction as the enrollment, so a refused redemption writes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.discount_spread import discounted_schedule
from enrollpay.domain.discounts import AppliedDiscount, Coupon, Scholarship, apply_discounts
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, PlanSubject
from enrollpay.domain.price_lists import plan_for
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import InvalidInputError, ProductNotFoundError
from enrollpay.errors_discounts import (
    CouponAlreadyRedeemedError,
    CouponExhaustedError,
    CouponNotApplicableError,
    CouponNotFoundError,
    ScholarshipNotApplicableError,
    ScholarshipNotFoundError,
)
from enrollpay.ports import StoreTransaction
from enrollpay.service.base import check_text
from enrollpay.service.context import Context

__all__ = [
    "DiscountPreview",
    "create_coupon",
    "deactivate_coupon",
    "discounted_lines",
    "grant_scholarship",
    "list_coupons",
    "list_scholarships",
    "preview_discount",
    "redeem",
    "settle_if_free",
]


def create_coupon(ctx: Context, coupon: Coupon, *, actor: str = "system") -> Coupon:
    """Register a new coupon (its count starts at zero); ``DuplicateError`` if the code exists."""
    if not isinstance(coupon, Coupon):
        raise InvalidInputError(f"coupon must be a Coupon, got {type(coupon).__name__}")
    ctx.authorize(actor, "create_coupon", coupon.code)
    stored = attrs.evolve(coupon, redeemed=0, created_at=ctx.now())
    with ctx.unit() as tx:
        tx.add_coupon(stored)
        ctx.audit(
            tx,
            actor=actor,
            action="coupon.created",
            entity_type="coupon",
            entity_id=stored.code,
            data={
                "percent_off": stored.percent_off,
                "amounts_off": list(stored.amounts_off),
                "max_redemptions": stored.max_redemptions,
                "expires_at": stored.expires_at,
            },
        )
    return stored


def list_coupons(ctx: Context, *, active: bool | None = None) -> list[Coupon]:
    """Every coupon by code (``active``: only active or only inactive ones)."""
    with ctx.unit() as tx:
        return tx.list_coupons(active=active)


def deactivate_coupon(ctx: Context, code: str, *, actor: str = "system") -> Coupon:
    """Stop a coupon applying to new enrollments (those that redeemed it keep their discount)."""
    key = Coupon(code, percent_off=1).code  # the code as stored, or a typed error
    ctx.authorize(actor, "deactivate_coupon", key)
    with ctx.unit() as tx:
        coupon = tx.set_coupon_active(key, False)
        if coupon is None:
            raise CouponNotFoundError(key)
        ctx.audit(
            tx,
            actor=actor,
            action="coupon.deactivated",
            entity_type="coupon",
            entity_id=key,
            data={"redeemed": coupon.redeemed},
        )
    return coupon


def grant_scholarship(
    ctx: Context,
    *,
    user_id: str,
    reason: str,
    actor: str,
    percent_off: int | None = None,
    amount_off: Money | None = None,
    product_id: str | None = None,
) -> Scholarship:
    """Grant ``user_id`` a reduction (basis points or an amount), for one enrollment.

    ``actor`` is the administrator; ``reason`` is kept with the grant and
    in the audit log. ``product_id`` (internal id) restricts it to one
    product (``ProductNotFoundError`` if there is none such).
    """
    check_text(user_id, "user_id")
    check_text(reason, "reason", limit=2000)
    ctx.authorize(actor, "grant_scholarship", user_id)
    scholarship = Scholarship(
        id=ctx.new_id("sch"),
        user_id=user_id,
        reason=reason,
        granted_by=actor,
        granted_at=ctx.now(),
        percent_off=percent_off,
        amount_off=amount_off,
        product_id=product_id,
    )
    with ctx.unit() as tx:
        if product_id is not None and tx.get_product(product_id) is None:
            raise ProductNotFoundError(product_id)
        tx.add_scholarship(scholarship)
        ctx.audit(
            tx,
            actor=actor,
            action="scholarship.granted",
            entity_type="scholarship",
            entity_id=scholarship.id,
            data={
                "user_id": user_id,
                "reason": reason,
                "percent_off": percent_off,
                "amount_off": amount_off,
                "product_id": product_id,
            },
        )
    return scholarship


def list_scholarships(ctx: Context, *, user_id: str | None = None) -> list[Scholarship]:
    """Scholarships, oldest grant first, optionally of one student."""
    with ctx.unit() as tx:
        return tx.list_scholarships(user_id=user_id)


def discounted_lines(
    ctx: Context,
    tx: StoreTransaction,
    *,
    product: PlanSubject,
    plan: PaymentPlan,
    user_id: str,
    coupon: str | None,
    scholarship: str | None,
    start: date,
    at: datetime,
) -> tuple[AppliedDiscount, tuple[ScheduleLine, ...]]:
    """The discount that applies to this purchase, and the schedule for the discounted price.

    ``product`` is seen at the price the student pays in
    (:class:`~enrollpay.domain.price_lists.PricedProduct`): a fixed coupon
    or scholarship applies only with an amount in that currency.
    """
    found_coupon = found_scholarship = None
    if coupon is not None:
        key = Coupon(coupon, percent_off=1).code
        found_coupon = tx.get_coupon(key)
        if found_coupon is None:
            raise CouponNotFoundError(key)
    if scholarship is not None:
        found_scholarship = tx.get_scholarship(check_text(scholarship, "scholarship"))
        if found_scholarship is None:
            raise ScholarshipNotFoundError(scholarship)
    gateway = ctx.gateway
    currency = product.price.currency
    granularity = 1 if gateway is None else gateway.amount_granularity(currency)
    applied = apply_discounts(
        product.price,
        user_id=user_id,
        product_ids={product.id, product.product_id},
        plan=plan,
        at=at,
        coupon=found_coupon,
        scholarship=found_scholarship,
        granularity=granularity,
    )
    lines = discounted_schedule(
        plan,
        applied,
        start,
        granularity=granularity,
        minimum=None if gateway is None else gateway.minimum_charge(currency),
        horizon=ctx.config.subscription_horizon,
        policy=ctx.config.discount_spread,
    )
    return applied, lines


def redeem(
    tx: StoreTransaction,
    applied: AppliedDiscount,
    *,
    user_id: str,
    enrollment_id: str,
    at: datetime,
) -> None:
    """Take the coupon's redemption and claim the scholarship, or raise a typed error.

    Runs in the enrollment's transaction: an error here undoes the enrollment.
    """
    code = applied.coupon_code
    if code is not None:
        outcome = tx.redeem_coupon(code, user_id=user_id, enrollment_id=enrollment_id, at=at)
        if outcome == "exhausted":
            coupon = tx.get_coupon(code)
            cap = 0 if coupon is None or coupon.max_redemptions is None else coupon.max_redemptions
            raise CouponExhaustedError(code, cap)
        if outcome == "already_redeemed":
            raise CouponAlreadyRedeemedError(code, user_id)
        if outcome == "missing":
            raise CouponNotFoundError(code)
        if outcome == "inactive":
            raise CouponNotApplicableError(code, "inactive")
    sid = applied.scholarship_id
    if sid is not None and not tx.claim_scholarship(sid, enrollment_id=enrollment_id):
        raise ScholarshipNotApplicableError(sid, "used")


def settle_if_free(
    ctx: Context,
    opened: Change[Enrollment],
    items: list[ScheduleItem],
    applied: AppliedDiscount,
    *,
    today: date,
    at: datetime,
) -> tuple[Change[Enrollment], list[ScheduleItem]]:
    """A free enrollment (100% off): its one zero item waived, then the enrollment completed.

    Through the state machine: the item is waived (``installment.waived``)
    and the enrollment moves to what its items now imply, ``completed``
    (with ``access.granted``). Nothing is ever charged.
    """
    if not applied.free:
        return opened, items
    waived = transitions.waive_item(items[0], at=at)
    settled = [waived.record, *items[1:]]
    synced = transitions.sync_enrollment(
        opened.record, settled, today=today, at=at, past_due_access=ctx.config.past_due_access
    )
    events = (*opened.events, *waived.events, *synced.events)
    return Change(synced.record, events), settled


@attrs.frozen
class DiscountPreview:
    """What a student would pay with a discount: the amounts and the schedule."""

    applied: AppliedDiscount
    plan: PaymentPlan
    schedule: tuple[ScheduleLine, ...]


def preview_discount(
    ctx: Context,
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

    ``currency``: the price paid in it (None: the product's default price).
    """
    check_text(product_id, "product_id")
    now = ctx.now()
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        view, chosen = plan_for(product, tx.list_plan_rules(), currency=currency, requested=plan)
        applied, lines = discounted_lines(
            ctx,
            tx,
            product=view,
            plan=chosen,
            user_id=user_id,
            coupon=coupon,
            scholarship=scholarship,
            start=ctx.today(now) if start is None else start,
            at=now,
        )
    return DiscountPreview(applied, chosen, lines)
