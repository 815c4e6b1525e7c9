"""Coupons and scholarships: their invariants, who they apply to, and what they take off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval
from enrollpay.domain.discounts import (
    BASIS_POINTS,
    AppliedDiscount,
    Coupon,
    Scholarship,
    apply_discounts,
    normalise_code,
    reduction,
)
from enrollpay.domain.money import Money
from enrollpay.domain.plans import FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.errors import NaiveDatetimeError
from enrollpay.errors_discounts import (
    CouponExhaustedError,
    CouponNotApplicableError,
    DiscountError,
    ScholarshipNotApplicableError,
)
from enrollpay.testing.strategies import granularities

AT = datetime(2027, 3, 1, 9, tzinfo=UTC)
FULL = FullPayment()
MONTHLY = Installments(3)


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def grant(**changes: object) -> Scholarship:
    """A 50% scholarship for ``u1`` unless told otherwise."""
    fields: dict[str, object] = {
        "id": "sch_1",
        "user_id": "u1",
        "reason": "need-based",
        "granted_by": "admin:ana",
        "granted_at": AT,
        "percent_off": 5000,
    }
    fields.update(changes)
    return Scholarship(**fields)  # type: ignore[arg-type]


def applied_to(
    coupon: Coupon, *, plan: PaymentPlan = FULL, at: datetime = AT, price: str = "100.00"
) -> AppliedDiscount:
    """Apply ``coupon`` to a purchase of product ``p1`` (host id ``c1``), 100.00 USD by default."""
    return apply_discounts(
        usd(price), user_id="u1", product_ids={"p1", "c1"}, plan=plan, at=at, coupon=coupon
    )


# --- codes and definitions ---------------------------------------------------------------


def test_codes_are_normalised() -> None:
    """Spaces go, letters go upper case; anything outside A-Z 0-9 _ - is refused."""
    assert normalise_code("  spring-25 ") == "SPRING-25"
    for bad in ("", "has space", "-lead", "x" * 65, 7, "é"):
        with pytest.raises(DiscountError, match="coupon code"):
            normalise_code(bad)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({}, "either a percent or fixed amounts"),
        ({"percent_off": 10, "amounts_off": [usd("5")]}, "either a percent or fixed amounts"),
        ({"percent_off": 0}, "1..10000"),
        ({"percent_off": BASIS_POINTS + 1}, "1..10000"),
        ({"percent_off": True}, "1..10000"),
        ({"amounts_off": [usd("0")]}, "positive Money"),
        ({"amounts_off": ["5"]}, "positive Money"),
        ({"amounts_off": [usd("5"), usd("6")]}, "one fixed amount per currency"),
        ({"percent_off": 10, "max_redemptions": 0}, "at least 1"),
        ({"percent_off": 10, "max_redemptions": -1}, "non-negative int"),
        ({"percent_off": 10, "redeemed": 1.0}, "non-negative int"),
        ({"percent_off": 10, "plan_kinds": ["subscription"]}, "plan_kinds"),
        ({"percent_off": 10, "plan_kinds": []}, "plan_kinds"),
    ],
)
def test_bad_coupons_are_refused(fields: dict[str, object], match: str) -> None:
    """Every malformed coupon is a typed error naming the problem."""
    with pytest.raises(DiscountError, match=match):
        Coupon("C", **fields)  # type: ignore[arg-type]


def test_coupon_times_must_be_aware() -> None:
    """A naive expiry is refused like every naive instant."""
    with pytest.raises(NaiveDatetimeError, match="expires_at"):
        Coupon("C", percent_off=10, expires_at=datetime(2027, 1, 1))  # noqa: DTZ001


def test_coupon_fields_convert() -> None:
    """A single product id or plan kind becomes a set; amounts become a tuple."""
    coupon = Coupon(
        "c", amounts_off=[usd("5"), Money.of("4", "EUR")], product_ids="p1", plan_kinds="full"
    )
    assert coupon.product_ids == frozenset({"p1"})
    assert coupon.plan_kinds == frozenset({"full"})
    assert coupon.amount_off("EUR") == Money.of("4", "EUR")
    assert coupon.amount_off("GBP") is None
    assert Coupon("c", percent_off=10).amount_off("USD") is None


def test_exhausted_counts_against_the_cap() -> None:
    """A capped coupon is exhausted at its cap; an uncapped one never is."""
    assert not Coupon("C", percent_off=10, max_redemptions=2, redeemed=1).exhausted
    assert Coupon("C", percent_off=10, max_redemptions=2, redeemed=2).exhausted
    assert not Coupon("C", percent_off=10, redeemed=10**6).exhausted


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"percent_off": None}, "either a percent or a fixed amount"),
        ({"amount_off": usd("5")}, "either a percent or a fixed amount"),
        ({"percent_off": None, "amount_off": usd("0")}, "positive Money"),
        ({"reason": "  "}, "non-empty reason"),
        ({"granted_by": ""}, "non-empty granted_by"),
        ({"user_id": None}, "non-empty user_id"),
    ],
)
def test_bad_scholarships_are_refused(changes: dict[str, object], match: str) -> None:
    """A scholarship needs one reduction, a reason and the admin who granted it."""
    with pytest.raises(DiscountError, match=match):
        grant(**changes)


# --- eligibility ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coupon", "plan", "reason"),
    [
        (Coupon("C", percent_off=10, active=False), FULL, "inactive"),
        (Coupon("C", percent_off=10, expires_at=AT), FULL, "expired"),
        (Coupon("C", percent_off=10, product_ids={"other"}), FULL, "product"),
        (Coupon("C", percent_off=10, plan_kinds={"installments"}), FULL, "plan"),
        (Coupon("C", amounts_off=[Money.of("5", "EUR")]), FULL, "currency"),
        (Coupon("C", percent_off=10, max_redemptions=1, redeemed=1), FULL, "exhausted"),
    ],
)
def test_a_coupon_that_does_not_apply_says_why(
    coupon: Coupon, plan: PaymentPlan, reason: str
) -> None:
    """Each failed condition is its own reason."""
    with pytest.raises(CouponNotApplicableError) as caught:
        applied_to(coupon, plan=plan)
    assert (caught.value.code, caught.value.reason) == ("C", reason)
    assert isinstance(caught.value, CouponExhaustedError) == (reason == "exhausted")


def test_a_coupon_applies_within_its_conditions() -> None:
    """Before expiry, to a listed product (by host id) and plan kind: 10% off 100.00."""
    coupon = Coupon(
        "C",
        percent_off=1000,
        expires_at=AT + timedelta(seconds=1),
        product_ids={"c1"},
        plan_kinds={"installments"},
        max_redemptions=5,
        redeemed=4,
    )
    applied = applied_to(coupon, plan=MONTHLY)
    assert (applied.coupon_off, applied.price, applied.coupon_code) == (
        usd("10.00"),
        usd("90.00"),
        "C",
    )
    assert applied.scholarship_id is None
    assert not applied.free


@pytest.mark.parametrize(
    ("scholarship", "reason"),
    [
        (grant(user_id="u2"), "user"),
        (grant(product_id="other"), "product"),
        (grant(enrollment_id="enr_1"), "used"),
        (grant(percent_off=None, amount_off=Money.of("5", "EUR")), "currency"),
    ],
)
def test_a_scholarship_that_does_not_apply_says_why(scholarship: Scholarship, reason: str) -> None:
    """Another student, another product, used already, or another currency."""
    with pytest.raises(ScholarshipNotApplicableError) as caught:
        apply_discounts(
            usd("100"), user_id="u1", product_ids={"p1"}, plan=FULL, at=AT, scholarship=scholarship
        )
    assert (caught.value.scholarship_id, caught.value.reason) == ("sch_1", reason)


def test_subscriptions_take_no_discount() -> None:
    """A subscription is priced per period by its plan: a discount is refused."""
    with pytest.raises(DiscountError, match="not subscriptions"):
        applied_to(Coupon("C", percent_off=10), plan=Subscription(Interval.months(1)))


def test_no_discount_leaves_the_price() -> None:
    """Without a coupon or scholarship the price is the list price."""
    applied = apply_discounts(usd("100"), user_id="u1", product_ids=(), plan=FULL, at=AT)
    assert (applied.price, applied.discount, applied.coupon_code, applied.scholarship_id) == (
        usd("100"),
        usd("0"),
        None,
        None,
    )


def test_scholarship_then_coupon() -> None:
    """50% scholarship on 100.00, then a 10.00 coupon on the 50.00 left: 40.00 to pay."""
    applied = apply_discounts(
        usd("100"),
        user_id="u1",
        product_ids={"p1"},
        plan=FULL,
        at=AT,
        coupon=Coupon("C", amounts_off=[usd("10")]),
        scholarship=grant(product_id="p1"),
    )
    assert (applied.scholarship_off, applied.coupon_off, applied.price) == (
        usd("50"),
        usd("10"),
        usd("40"),
    )
    assert (applied.coupon_code, applied.scholarship_id) == ("C", "sch_1")


def test_a_full_discount_is_free() -> None:
    """100% off leaves nothing to pay; a fixed amount above the price stops at the price."""
    assert applied_to(Coupon("C", percent_off=BASIS_POINTS)).free
    over = applied_to(Coupon("C", amounts_off=[usd("150")]))
    assert (over.coupon_off, over.price, over.free) == (usd("100"), usd("0"), True)


# --- rounding ------------------------------------------------------------------------


def test_percent_rounds_half_up_to_the_granularity() -> None:
    """12.5% of 1.00 is 12.5 cents: 13 cents; at a 5-cent step 15 (half up), 12.4% gives 10."""
    assert reduction(usd("1.00"), percent_bp=1250, amount_off=None) == usd("0.13")
    assert reduction(usd("1.00"), percent_bp=1250, amount_off=None, granularity=5) == usd("0.15")
    assert reduction(usd("1.00"), percent_bp=1240, amount_off=None, granularity=5) == usd("0.10")


def test_fixed_amounts_round_down_to_the_granularity() -> None:
    """A fixed 0.99 off at a 5-cent step takes 0.95: never more than the coupon says."""
    assert reduction(usd("10"), percent_bp=None, amount_off=usd("0.99"), granularity=5) == usd(
        "0.95"
    )


@given(
    units=st.integers(1, 10**9),
    step=granularities(),
    bp=st.integers(1, BASIS_POINTS),
    fixed=st.integers(1, 10**10),
)
def test_a_reduction_is_a_step_multiple_within_the_price(
    units: int, step: int, bp: int, fixed: int
) -> None:
    """Either kind of reduction is a multiple of the step, between zero and the price."""
    price = Money(units * step, "USD")
    for off in (
        reduction(price, percent_bp=bp, amount_off=None, granularity=step),
        reduction(price, percent_bp=None, amount_off=Money(fixed, "USD"), granularity=step),
    ):
        assert 0 <= off.minor <= price.minor
        assert off.minor % step == 0
    # Within half a step of price * bp / 10000, compared in exact integers.
    percent = reduction(price, percent_bp=bp, amount_off=None, granularity=step)
    assert 2 * abs(percent.minor * BASIS_POINTS - price.minor * bp) <= step * BASIS_POINTS
