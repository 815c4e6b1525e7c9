"""The JSON API with discounts: ``GET /plans?coupon=`` and the discount of an enrollment."""

from __future__ import annotations

from typing import Any

import pytest

from enrollpay import FullPayment, Installments, Money, PaymentSystem
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.records import Product
from enrollpay.integrations.api import payment_details_answer, plans_answer


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """A 300 USD course paid in full by default, or in three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="react-101",
        name="React",
        price=Money.of("300.00", "USD"),
        payment_plan=FullPayment(),
        offered_plans=[Installments(3)],
    )


def usd(amount: str, minor: int) -> dict[str, Any]:
    """The JSON of a USD amount."""
    return {"amount": amount, "currency": "USD", "minor": minor}


def test_plans_with_a_coupon_price_each_plan_it_applies_to(
    system: PaymentSystem, course: Product
) -> None:
    """An installments-only coupon: the split plan is discounted, the full one says why not."""
    system.create_coupon(Coupon("SPLIT", percent_off=1000, plan_kinds={"installments"}))

    answer = plans_answer(system, {"product": course.id, "coupon": "split"})

    assert answer.status == 200
    full, split = answer.body["plans"]
    assert full["discount"]["applies"] is False
    assert "does not apply: plan" in full["discount"]["message"]
    assert full["total"] == usd("300.00", 30000)
    assert split["discount"] == {
        "applies": True,
        "coupon_code": "SPLIT",
        "list_price": usd("300.00", 30000),
        "amount": usd("30.00", 3000),
    }
    assert [line["amount"]["minor"] for line in split["schedule"]] == [9000, 9000, 9000]
    assert split["total"] == usd("270.00", 27000)
    assert "discount" not in plans_answer(system, {"product": course.id}).body["plans"][0]


def test_an_unknown_coupon_is_404(system: PaymentSystem, course: Product) -> None:
    """A code the store does not hold answers 404 with a JSON error."""
    answer = plans_answer(system, {"product": course.id, "coupon": "NOPE"})
    assert (answer.status, answer.body["error"]) == (404, "not_found")


def test_payment_details_show_the_discount(system: PaymentSystem, course: Product) -> None:
    """A discounted enrollment shows its list price, what came off and the code; others null."""
    system.create_coupon(Coupon("TEN", amounts_off=[Money.of("10", "USD")]))
    discounted = system.enroll(user_id="u-1", product_id=course.id, coupon="TEN")
    plain = system.enroll(user_id="u-2", product_id=course.id)

    body = payment_details_answer(system, discounted.enrollment_id).body["enrollment"]
    assert body["price"] == usd("290.00", 29000)
    assert body["discount"] == {
        "list_price": usd("300.00", 30000),
        "amount": usd("10.00", 1000),
        "coupon_code": "TEN",
        "scholarship_id": None,
    }
    assert (
        payment_details_answer(system, plain.enrollment_id).body["enrollment"]["discount"] is None
    )
