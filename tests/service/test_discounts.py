"""Coupons and scholarships through the facade, on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import Deposit, FullPayment, Installments, PaymentSystem
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Product
from enrollpay.errors import DuplicateError, PermissionDeniedError, ProductNotFoundError
from enrollpay.errors_discounts import (
    CouponAlreadyRedeemedError,
    CouponExhaustedError,
    CouponNotApplicableError,
    CouponNotFoundError,
    DiscountSpreadError,
    ScholarshipNotApplicableError,
    ScholarshipNotFoundError,
)
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import everything, refused


@pytest.fixture
def three(system: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )


@pytest.fixture
def other(system: PaymentSystem) -> Product:
    """A 100.00 USD course paid in full."""
    return system.register_product(
        product_type="course",
        product_id="other",
        name="Other",
        price=usd("100.00"),
        payment_plan=FullPayment(),
    )


def test_coupons_are_registered_listed_and_deactivated(
    system: PaymentSystem, clock: FrozenClock
) -> None:
    """Created with a zero count and a creation time, listed by code, deactivated, audited."""
    made = system.create_coupon(Coupon("spring", percent_off=2500, redeemed=7), actor="admin:ana")
    system.create_coupon(Coupon("AUTUMN", amounts_off=[usd("10")]))
    assert (made.code, made.redeemed, made.created_at) == ("SPRING", 0, clock.now())
    assert [c.code for c in system.list_coupons()] == ["AUTUMN", "SPRING"]
    with pytest.raises(DuplicateError):
        system.create_coupon(Coupon("SPRING", percent_off=10))
    off = system.deactivate_coupon(" spring ", actor="admin:ana")
    assert not off.active
    assert [c.code for c in system.list_coupons(active=True)] == ["AUTUMN"]
    assert [c.code for c in system.list_coupons(active=False)] == ["SPRING"]
    actions = [(e.actor, e.action) for e in system.audit_log(entity_id="SPRING")]
    assert actions == [("admin:ana", "coupon.created"), ("admin:ana", "coupon.deactivated")]
    with pytest.raises(CouponNotFoundError):
        system.deactivate_coupon("NOPE")


def test_a_coupon_lowers_the_price_schedule_and_first_charge(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """25% off 300.00 on three installments: 75.00 each, recorded, announced, counted once."""
    system.create_coupon(Coupon("SPRING", percent_off=2500, max_redemptions=10))
    result = system.enroll(user_id="u-1", product_id=three.id, coupon="spring")
    enrollment = result.enrollment
    assert (enrollment.price, enrollment.list_price, enrollment.discount) == (
        usd("225"),
        usd("300"),
        usd("75"),
    )
    assert (enrollment.coupon_code, enrollment.scholarship_id) == ("SPRING", None)
    assert [i.amount for i in result.schedule] == [usd("75")] * 3
    assert system.get_enrollment(result.enrollment_id) == enrollment
    assert [c.params["amount"] for c in fake.calls if c.verb == "start_payment"] == [usd("75")]
    applied = [e for e in system.list_events() if e.kind == "discount.applied"]
    assert len(applied) == 1
    assert applied[0].enrollment_id == result.enrollment_id
    assert applied[0].data["discount"] == {"minor": 7500, "currency": "USD"}
    assert applied[0].data["coupon_code"] == "SPRING"
    (coupon,) = system.list_coupons()
    assert coupon.redeemed == 1
    created = system.audit_log(entity_id=result.enrollment_id)[0]
    assert created.data["coupon"] == "SPRING"


def test_once_per_student_refuses_a_second_use_and_writes_nothing(
    system: PaymentSystem, fake: FakeGateway, three: Product, other: Product
) -> None:
    """The same student may not redeem a once-per-student coupon twice; another student may."""
    system.create_coupon(Coupon("ONCE", percent_off=1000))
    system.enroll(user_id="u-1", product_id=three.id, coupon="ONCE")
    with refused(system, CouponAlreadyRedeemedError, fake=fake):
        system.enroll(user_id="u-1", product_id=other.id, coupon="ONCE")
    system.enroll(user_id="u-2", product_id=other.id, coupon="ONCE")
    assert system.list_coupons()[0].redeemed == 2


def test_a_reusable_coupon_may_be_redeemed_again_by_the_same_student(
    system: PaymentSystem, three: Product, other: Product
) -> None:
    """once_per_student=False: one student, two enrollments, two redemptions."""
    system.create_coupon(Coupon("AGAIN", percent_off=1000, once_per_student=False))
    system.enroll(user_id="u-1", product_id=three.id, coupon="AGAIN")
    system.enroll(user_id="u-1", product_id=other.id, coupon="AGAIN")
    assert system.list_coupons()[0].redeemed == 2


def test_the_cap_refuses_the_redemption_past_it(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """max_redemptions=1: the second student gets CouponExhaustedError and nothing is written."""
    system.create_coupon(Coupon("ONE", amounts_off=[usd("30")], max_redemptions=1))
    system.enroll(user_id="u-1", product_id=three.id, coupon="ONE")
    with refused(system, CouponExhaustedError, fake=fake) as info:
        system.enroll(user_id="u-2", product_id=three.id, coupon="ONE")
    assert isinstance(info.value, CouponExhaustedError)
    assert info.value.reason == "exhausted"


def test_coupons_that_do_not_apply_write_nothing(
    system: PaymentSystem, clock: FrozenClock, fake: FakeGateway, three: Product
) -> None:
    """Unknown, inactive, expired and restricted coupons are typed errors with no write."""
    system.create_coupon(Coupon("OLD", percent_off=10, expires_at=clock.now() + timedelta(days=1)))
    system.create_coupon(Coupon("ELSEWHERE", percent_off=10, product_ids={"other"}))
    system.create_coupon(Coupon("OFF", percent_off=10))
    system.deactivate_coupon("OFF")
    clock.advance(timedelta(days=1))
    with refused(system, CouponNotFoundError, fake=fake):
        system.enroll(user_id="u-1", product_id=three.id, coupon="MISSING")
    for code, reason in (("OLD", "expired"), ("ELSEWHERE", "product"), ("OFF", "inactive")):
        with refused(system, CouponNotApplicableError, fake=fake, match=reason):
            system.enroll(user_id="u-1", product_id=three.id, coupon=code)


def test_a_scholarship_is_granted_audited_and_used_once(
    system: PaymentSystem, fake: FakeGateway, three: Product, other: Product
) -> None:
    """50% for u-1, granted with a reason by an admin; used by one enrollment only."""
    grant = system.grant_scholarship(
        user_id="u-1", percent_off=5000, reason="need-based aid", actor="admin:ana"
    )
    assert (grant.granted_by, grant.reason, grant.enrollment_id) == (
        "admin:ana",
        "need-based aid",
        None,
    )
    (entry,) = system.audit_log(entity_id=grant.id)
    assert (entry.actor, entry.action, entry.data["reason"]) == (
        "admin:ana",
        "scholarship.granted",
        "need-based aid",
    )
    with refused(system, ScholarshipNotApplicableError, fake=fake, match="user"):
        system.enroll(user_id="u-2", product_id=three.id, scholarship=grant.id)
    result = system.enroll(user_id="u-1", product_id=three.id, scholarship=grant.id)
    assert (result.enrollment.price, result.enrollment.scholarship_id) == (usd("150"), grant.id)
    assert system.list_scholarships(user_id="u-1")[0].enrollment_id == result.enrollment_id
    with refused(system, ScholarshipNotApplicableError, fake=fake, match="used"):
        system.enroll(user_id="u-1", product_id=other.id, scholarship=grant.id)
    with refused(system, ScholarshipNotFoundError, fake=fake):
        system.enroll(user_id="u-1", product_id=other.id, scholarship="sch_missing")
    assert system.list_scholarships(user_id="u-2") == []


def test_scholarship_grants_check_their_input(system: PaymentSystem) -> None:
    """An unknown product, no reason, or no reduction: typed errors, nothing granted."""
    with pytest.raises(ProductNotFoundError):
        system.grant_scholarship(user_id="u", percent_off=10, reason="r", actor="a", product_id="x")
    with pytest.raises(ValueError, match="reason"):
        system.grant_scholarship(user_id="u", percent_off=10, reason="", actor="a")
    with pytest.raises(ValueError, match="either a percent"):
        system.grant_scholarship(user_id="u", reason="r", actor="a")
    assert system.list_scholarships() == []


def test_a_full_discount_enrolls_free_without_a_charge(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """100% off: completed at once, one waived zero item, access, no gateway call, zero refund."""
    system.create_coupon(Coupon("FREE", percent_off=10_000))
    result = system.enroll(user_id="u-1", product_id=three.id, coupon="FREE")
    assert result.enrollment.status == EnrollmentStatus.COMPLETED
    assert [(i.amount, i.status) for i in result.schedule] == [(usd("0"), ItemStatus.WAIVED)]
    assert not result.requires_immediate_payment
    assert result.client_secret is None
    assert fake.calls == []
    assert system.has_access(result.enrollment)
    kinds = [e.kind for e in system.list_events()]
    assert "discount.applied" in kinds
    assert "installment.waived" in kinds
    assert system.quote_cancellation(result.enrollment_id).refund == usd("0")


def test_a_discount_that_breaks_the_minimum_is_refused(store: Store, clock: FrozenClock) -> None:
    """99% off 3 x 100.00 under a 0.50 minimum leaves 1.00 each... 99.9% leaves 0.10: refused."""
    fake = FakeGateway(clock=clock, minimums={"USD": usd("0.50")})
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course",
        product_id="c",
        name="C",
        price=usd("300"),
        payment_plan=Installments(3),
    )
    system.create_coupon(Coupon("DEEP", percent_off=9_990))
    before = everything(system)
    with pytest.raises(DiscountSpreadError):
        system.enroll(user_id="u-1", product_id=product.id, coupon="DEEP")
    assert everything(system) == before
    assert system.list_coupons()[0].redeemed == 0


def test_the_preview_is_the_schedule_the_enrollment_gets(system: PaymentSystem) -> None:
    """preview_discount shows the discounted deposit plan; enroll then builds the same amounts."""
    product = system.register_product(
        product_type="course",
        product_id="dep",
        name="Deposit",
        price=usd("1000"),
        payment_plan=Installments(3, deposit=Deposit.percent(20)),
    )
    system.create_coupon(Coupon("TENTH", amounts_off=[usd("100.01")]))
    before = everything(system)
    preview = system.preview_discount(product.id, coupon="TENTH")
    assert everything(system) == before
    assert preview.applied.price == usd("899.99")
    amounts = [line.amount for line in preview.schedule]
    assert amounts == [usd("180"), usd("240"), usd("240"), usd("239.99")]
    result = system.enroll(user_id="u-1", product_id=product.id, coupon="TENTH")
    assert [i.amount for i in result.schedule] == amounts


def test_coupon_admin_is_authorised(store: Store, clock: FrozenClock) -> None:
    """An authoriser that refuses stops coupon creation and grants, with a denied entry."""
    system = PaymentSystem(
        store=store, clock=clock, ids=SequentialIds(), authorize=lambda actor, *_: actor == "root"
    )
    with pytest.raises(PermissionDeniedError):
        system.create_coupon(Coupon("X", percent_off=10), actor="intruder")
    with pytest.raises(PermissionDeniedError):
        system.grant_scholarship(user_id="u", percent_off=10, reason="r", actor="intruder")
    assert system.list_coupons() == []
    assert [e.action for e in system.audit_log()] == ["permission.denied", "permission.denied"]
    system.create_coupon(Coupon("X", percent_off=10), actor="root")
    assert [c.code for c in system.list_coupons()] == ["X"]
